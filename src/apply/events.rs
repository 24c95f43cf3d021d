//! Progress events from the executor to whatever renders them (live lines on a terminal,
//! plain timestamped lines in CI, or a test collecting them).

use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An operation on `address` started (`action`: create, update, replace, delete, adopt, refresh).
    Started { address: String, action: String },
    /// Something worth telling while it runs ("waiting for action 42", "compose up").
    Progress { address: String, message: String },
    Finished {
        address: String,
        action: String,
        elapsed: Duration,
    },
    Failed {
        address: String,
        action: String,
        error: String,
    },
    /// Not attempted because something it depends on failed.
    Skipped { address: String, because: String },
}

/// Where appliers send events; cloning is cheap, sending never blocks or fails the work.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// A sink that drops everything (tests of one applier, quiet commands).
    pub fn discard() -> Self {
        Self { tx: None }
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            // A closed receiver means nobody is rendering any more; the work goes on.
            let _ = tx.send(e);
        }
    }

    pub fn progress(&self, address: &str, message: impl Into<String>) {
        self.send(Event::Progress {
            address: address.to_string(),
            message: message.into(),
        });
    }
}
