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
            eout!("{text}");
        }
    }

    fn plan(&mut self, plan: &Plan, refresh_only: bool) {
        if refresh_only {
            // Only what changed outside: the plan of the stack is not what is being accepted.
            out!(
                "{}",
                plan::text::render_drift_section(plan).replace(
                    plan::text::UNDO_UNLESS_CHANGED,
                    "These changes will be accepted into the state; nothing in the world changes.",
                )
            );
        } else {
            out!("{}", plan::text::render(plan));
        }
    }

    fn confirm(&mut self, question: &str) -> Result<bool, EngineError> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(EngineError::NoTerminal {
                operation: question.to_string(),
            });
        }
        eout!("\nDo you want to {question}? Only 'yes' will be accepted: ");
        let mut line = String::new();
        let _ = stdin.lock().read_line(&mut line);
        Ok(line.trim() == "yes")
    }

    fn progress(&mut self) -> Box<dyn Progress> {
        Box::new(PlainLines)
    }
}
