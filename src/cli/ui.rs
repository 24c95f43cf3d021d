//! How the command line shows a run: plans as text on stdout, progress on stderr (live lines
//! on a terminal, timestamped lines with heartbeats otherwise), confirmation asked on the
//! terminal; or, with `--json`, everything as one JSON object per line on stdout.

use crate::engine::EngineError;
use crate::engine::apply::Ui;
use crate::plan::{self, Plan};
use crate::progress::json::{self as json_lines, JsonLines};
use crate::progress::live::LiveLines;
use crate::progress::message::{Body, Diagnostic, Level, Line, RunKind, Severity};
use crate::progress::plain::PlainLines;
use crate::progress::{LineSink, Progress};
use std::io::{BufRead, IsTerminal};

/// How a command shows what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--json`: the machine-readable stream on stdout.
    Json,
    /// stderr is a terminal: live lines.
    Live,
    /// Timestamped lines, with heartbeats.
    Plain,
}

impl Mode {
    pub fn choose(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stderr().is_terminal() {
            Self::Live
        } else {
            Self::Plain
        }
    }
}

/// Colours only where asked for: `--no-color` and `NO_COLOR` (any value but empty) turn
/// them off; a pipe never gets them.
pub fn set_colors(no_color: bool) {
    let off = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if off {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// One line of the JSON stream on stdout.
pub fn emit(line: &Line) {
    outln!("{}", line.to_json());
}

pub fn stdout_lines() -> LineSink {
    Box::new(|l| outln!("{l}"))
}

pub fn stderr_lines() -> LineSink {
    Box::new(|l| eoutln!("{l}"))
}

pub struct TerminalUi {
    pub mode: Mode,
}

impl Ui for TerminalUi {
    fn warnings(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.mode != Mode::Json {
            eout!("{text}");
            return;
        }
        let summary = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text);
        let diagnostic = Diagnostic {
            severity: Severity::Warning,
            summary: summary.trim().to_string(),
            detail: text.to_string(),
            code: None,
            address: None,
            range: None,
        };
        emit(&Line::new(
            Level::Warn,
            diagnostic.summary.clone(),
            Body::Diagnostic { diagnostic },
        ));
    }

    fn plan(&mut self, plan: &Plan, refresh_only: bool) {
        if self.mode == Mode::Json {
            json_lines::of_plan(plan, RunKind::Plan)
                .iter()
                .for_each(emit);
        } else if refresh_only {
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
        if self.mode == Mode::Json || !stdin.is_terminal() {
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
        match self.mode {
            Mode::Json => Box::new(JsonLines::new(stdout_lines())),
            Mode::Live => Box::new(LiveLines::new()),
            Mode::Plain => Box::new(PlainLines::new(stderr_lines())),
        }
    }
}
