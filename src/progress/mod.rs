//! Progress of a run as typed events, from the executor and the resource kinds to whatever
//! renders them behind the one [`Progress`] trait: timestamped lines (`plain`), live lines on
//! a terminal (`live`), one JSON object per line (`json`, typed in `message`), or a test
//! collecting them.

pub mod heartbeat;
pub mod json;
pub mod live;
pub mod message;
pub mod plain;
pub mod watch;

use crate::plan::Action;
use schemars::JsonSchema;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often renderers are woken without an event: live lines redraw their elapsed times,
/// plain lines check for waits that need a heartbeat.
pub const TICK: Duration = Duration::from_millis(500);

/// What an operation does to its resource. Plan actions plus what refresh and adoption do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
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

/// Whatever shows a run's events. The plain renderer writes timestamped lines; the live
/// renderer draws a line per running operation from the same events.
pub trait Progress: Send {
    fn event(&mut self, event: &Event);
    /// Called every [`TICK`] while the run goes on, whether or not anything happened.
    fn tick(&mut self) {}
    /// The run's events have all been shown: clear what is drawn live.
    fn finish(&mut self) {}
}

/// Where a renderer's finished lines go (stderr through the CLI's closed-pipe-safe writer,
/// stdout for JSON, a buffer in tests); each call is one line without its newline.
pub type LineSink = Box<dyn FnMut(&str) + Send>;

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

/// Hands every event to `progress` until the sending side is dropped, and wakes it every
/// [`TICK`] in between.
pub async fn render(mut rx: mpsc::UnboundedReceiver<Event>, mut progress: Box<dyn Progress>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            e = rx.recv() => match e {
                Some(e) => progress.event(&e),
                None => break,
            },
            _ = tick.tick() => progress.tick(),
        }
    }
    progress.finish();
}
