//! What is running, since when, and when it last said something: what renderers need for
//! elapsed times and heartbeats. Time is tokio's, so tests can pause it.

use super::{Event, Operation};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Silence longer than this on a running operation gets a heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// An operation under way.
#[derive(Debug, Clone)]
pub struct Running {
    pub operation: Operation,
    pub started: Instant,
    last_said: Instant,
    /// What it last said (usually what it waits for).
    pub last_message: Option<String>,
}

/// A heartbeat due: an operation silent for [`HEARTBEAT`].
#[derive(Debug, Clone)]
pub struct Beat {
    pub address: String,
    pub operation: Operation,
    pub elapsed: Duration,
    pub last_message: Option<String>,
}

impl Beat {
    /// `server.a: still creating after 12s (waiting for sshd on 10.0.0.2:22)`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{}: still {} after {}s",
            self.address,
            self.operation.present_participle(),
            self.elapsed.as_secs()
        );
        if let Some(m) = &self.last_message {
            text.push_str(&format!(" ({m})"));
        }
        text
    }
}

#[derive(Debug, Default)]
pub struct Watch {
    running: BTreeMap<String, Running>,
}

impl Watch {
    /// Follows `event`: an operation starts, speaks or ends.
    pub fn note(&mut self, event: &Event) {
        let now = Instant::now();
        match event {
            Event::Started { address, operation } => {
                let r = Running {
                    operation: *operation,
                    started: now,
                    last_said: now,
                    last_message: None,
                };
                self.running.insert(address.clone(), r);
            }
            Event::Progress { address, message } => {
                if let Some(r) = self.running.get_mut(address) {
                    r.last_said = now;
                    r.last_message = Some(message.clone());
                }
            }
            Event::Finished { address, .. } | Event::Failed { address, .. } => {
                self.running.remove(address);
            }
            Event::Skipped { .. } => {}
        }
    }

    /// How long the operation on `address` has run, if it runs.
    pub fn elapsed(&self, address: &str) -> Option<Duration> {
        self.running.get(address).map(|r| r.started.elapsed())
    }

    /// The operations silent for [`HEARTBEAT`]; each counts as having spoken now.
    pub fn due(&mut self) -> Vec<Beat> {
        let now = Instant::now();
        self.running
            .iter_mut()
            .filter(|(_, r)| now.duration_since(r.last_said) >= HEARTBEAT)
            .map(|(address, r)| {
                r.last_said = now;
                Beat {
                    address: address.clone(),
                    operation: r.operation,
                    elapsed: now.duration_since(r.started),
                    last_message: r.last_message.clone(),
                }
            })
            .collect()
    }
}
