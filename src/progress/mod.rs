//! Progress of a run as typed events, from the executor and the resource kinds to whatever
//! renders them: the plain line renderer (`plain`), a test collecting them, or a terminal
//! renderer behind the same [`Progress`] trait.

pub mod heartbeat;
pub mod plain;

use crate::plan::Action;
use std::time::Duration;
use tokio::sync::mpsc;

/// What an operation does to its resource. Plan actions plus what refresh and adoption do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Replace,
    Delete,
    Refresh,
}

impl Operation {
    /// The operation that carries out a planned action; `None` for a no-op.
    pub fn of(action: Action) -> Option<Self> {
        match action {
            Action::Create => Some(Self::Create),
            Action::Update => Some(Self::Update),
            Action::Replace => Some(Self::Replace),
            Action::Delete => Some(Self::Delete),
            Action::NoOp => None,
        }
    }

    /// The verb as a word (`create`), as plans and journals spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Refresh => "refresh",
        }
    }

    /// While it runs: `creating`.
    pub fn present_participle(self) -> &'static str {
        match self {
            Self::Create => "creating",
            Self::Update => "updating",
            Self::Replace => "replacing",
            Self::Delete => "destroying",
            Self::Refresh => "refreshing",
        }
    }

    /// Once done: `created`.
    pub fn past_participle(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Update => "updated",
            Self::Replace => "replaced",
            Self::Delete => "destroyed",
            Self::Refresh => "refreshed",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An operation on `address` started.
    Started {
        address: String,
        operation: Operation,
    },
    /// Something worth telling while it runs ("waiting for action 42", "compose up").
    Progress { address: String, message: String },
    Finished {
        address: String,
        operation: Operation,
        elapsed: Duration,
    },
    Failed {
        address: String,
        operation: Operation,
        error: String,
    },
    /// Not attempted because something it depends on failed.
    Skipped { address: String, because: String },
}

/// Whatever shows a run's events. The plain renderer writes timestamped lines; a terminal
/// renderer can draw live lines from the same events.
pub trait Progress: Send {
    fn event(&mut self, event: &Event);
}

/// Where the engine and the resource kinds send events; cloning is cheap, sending never
/// blocks or fails the work.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// A sink that drops everything (tests of one kind, quiet commands).
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

/// Hands every event to `progress` until the sending side is dropped.
pub async fn render(mut rx: mpsc::UnboundedReceiver<Event>, mut progress: Box<dyn Progress>) {
    while let Some(e) = rx.recv().await {
        progress.event(&e);
    }
}
