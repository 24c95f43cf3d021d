//! Events as lines: `HH:MM:SS address: what happened`, elapsed times on completion. Plain
//! lines read the same on a terminal and in CI logs.

use super::{Event, Progress};
use std::io::Write;

/// Writes one timestamped line per event to stderr.
pub struct PlainLines;

impl Progress for PlainLines {
    fn event(&mut self, event: &Event) {
        let line = describe(event);
        let now = chrono::Utc::now().format("%H:%M:%S");
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "{now} {line}");
    }
}

pub fn describe(e: &Event) -> String {
    match e {
        Event::Started { address, operation } => {
            format!("{address}: {}...", operation.present_participle())
        }
        Event::Progress { address, message } => format!("{address}: {message}"),
        Event::Finished {
            address,
            operation,
            elapsed,
        } => format!(
            "{address}: {} after {:.1}s",
            operation.past_participle(),
            elapsed.as_secs_f64()
        ),
        Event::Failed {
            address,
            operation,
            error,
        } => {
            let first = error
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(error)
                .trim();
            format!("{address}: {operation} FAILED: {first}")
        }
        Event::Skipped { address, because } => {
            format!("{address}: skipped, because {because} failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Operation;
    use std::time::Duration;

    #[test]
    fn lines_say_what_happened_to_which_address() {
        let started = Event::Started {
            address: "server.a".into(),
            operation: Operation::Delete,
        };
        assert_eq!(describe(&started), "server.a: destroying...");
        let done = Event::Finished {
            address: "server.a".into(),
            operation: Operation::Create,
            elapsed: Duration::from_millis(1500),
        };
        assert_eq!(describe(&done), "server.a: created after 1.5s");
        let failed = Event::Failed {
            address: "host.gpu".into(),
            operation: Operation::Update,
            error: "\n  host key mismatch\nmore".into(),
        };
        assert_eq!(
            describe(&failed),
            "host.gpu: update FAILED: host key mismatch"
        );
    }
}
