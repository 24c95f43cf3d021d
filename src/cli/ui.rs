//! How the command line shows a run: plans as text on stdout, progress as plain lines on
//! stderr, and confirmation asked on the terminal.

use crate::engine::EngineError;
use crate::engine::apply::Ui;
use crate::plan::{self, Plan};
use crate::progress::Progress;
use crate::progress::plain::PlainLines;
use std::io::{BufRead, IsTerminal};

pub struct TerminalUi;

impl Ui for TerminalUi {
    fn warnings(&mut self, text: &str) {
        if !text.is_empty() {
            eprint!("{text}");
        }
    }

    fn plan(&mut self, plan: &Plan, refresh_only: bool) {
        let text = plan::text::render(plan);
        if refresh_only {
            print!(
                "{}",
                text.replace(
                    "Unless the configuration is changed to match, apply will undo these changes.",
                    "These changes will be accepted into the state; nothing in the world changes.",
                )
            );
        } else {
            print!("{text}");
        }
    }

    fn confirm(&mut self, question: &str) -> Result<bool, EngineError> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(EngineError::NoTerminal {
                operation: question.to_string(),
            });
        }
        eprint!("\nDo you want to {question}? Only 'yes' will be accepted: ");
        let mut line = String::new();
        let _ = stdin.lock().read_line(&mut line);
        Ok(line.trim() == "yes")
    }

    fn progress(&mut self) -> Box<dyn Progress> {
        Box::new(PlainLines)
    }
}
