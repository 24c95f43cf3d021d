//! Events as lines: `HH:MM:SS address: what happened`, elapsed times on completion. For logs
//! and pipes: an operation that has said nothing for [`super::watch::HEARTBEAT`] gets a line saying it still
//! runs, for how long, and what it last said it waits for, so a log never looks hung.

use super::watch::Watch;
use super::{Event, LineSink, Progress};

/// Writes one timestamped line per event, and heartbeats.
pub struct PlainLines {
    out: LineSink,
    watch: Watch,
}

impl PlainLines {
    pub fn new(out: LineSink) -> Self {
        Self {
            out,
            watch: Watch::default(),
        }
    }

    fn line(&mut self, text: &str) {
        let now = chrono::Utc::now().format("%H:%M:%S");
        (self.out)(&format!("{now} {text}"));
    }
}

impl Progress for PlainLines {
    fn event(&mut self, event: &Event) {
        self.watch.note(event);
        self.line(&describe(event));
    }

    fn tick(&mut self) {
        for beat in self.watch.due() {
            self.line(&beat.describe());
        }
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
    use crate::progress::{EventSink, Operation, render};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A renderer writing into a shared buffer, and the buffer.
    pub(crate) fn captured() -> (PlainLines, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out: LineSink = Box::new(move |l| sink.lock().unwrap().push(l.to_string()));
        (PlainLines::new(out), lines)
    }

    #[tokio::test(start_paused = true)]
    async fn a_15s_wait_gets_a_heartbeat_with_what_it_waits_for() {
        let (plain, lines) = captured();
        let (events, rx) = EventSink::new();
        let shown = tokio::spawn(render(rx, Box::new(plain)));
        events.send(Event::Started {
            address: "server.a".into(),
            operation: Operation::Create,
        });
        events.progress("server.a", "waiting for sshd on 10.0.0.2:22");
        events.send(Event::Started {
            address: "ssh_key.k".into(),
            operation: Operation::Create,
        });
        events.send(Event::Finished {
            address: "ssh_key.k".into(),
            operation: Operation::Create,
            elapsed: Duration::from_millis(200),
        });
        tokio::time::sleep(Duration::from_secs(15)).await;
        events.send(Event::Finished {
            address: "server.a".into(),
            operation: Operation::Create,
            elapsed: Duration::from_secs(15),
        });
        drop(events);
        shown.await.unwrap();
        let lines = lines.lock().unwrap();
        let beats: Vec<&String> = lines.iter().filter(|l| l.contains("still")).collect();
        assert_eq!(beats.len(), 1, "one heartbeat in 15s: {lines:#?}");
        assert!(
            beats[0]
                .ends_with("server.a: still creating after 10s (waiting for sshd on 10.0.0.2:22)"),
            "{lines:#?}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .ends_with("server.a: created after 15.0s")
        );
    }

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
