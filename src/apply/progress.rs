//! Renders executor events as lines: `HH:MM:SS address: what happened`, elapsed times on
//! completion. Plain lines work the same on a terminal and in CI logs.

use super::events::Event;
use std::io::Write;
use tokio::sync::mpsc;

/// Prints events until the sender side is dropped.
pub async fn print_events(mut rx: mpsc::UnboundedReceiver<Event>) {
    while let Some(e) = rx.recv().await {
        let line = describe(&e);
        let now = chrono::Utc::now().format("%H:%M:%S");
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "{now} {line}");
    }
}

pub fn describe(e: &Event) -> String {
    match e {
        Event::Started { address, action } => format!("{address}: {}...", ing(action)),
        Event::Progress { address, message } => format!("{address}: {message}"),
        Event::Finished {
            address,
            action,
            elapsed,
        } => {
            format!(
                "{address}: {} after {:.1}s",
                ed(action),
                elapsed.as_secs_f64()
            )
        }
        Event::Failed {
            address,
            action,
            error,
        } => {
            let first = error
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(error)
                .trim();
            format!("{address}: {action} FAILED: {first}")
        }
        Event::Skipped { address, because } => {
            format!("{address}: skipped, because {because} failed")
        }
    }
}

fn ing(action: &str) -> String {
    match action {
        "create" => "creating".into(),
        "update" => "updating".into(),
        "replace" => "replacing".into(),
        "delete" => "destroying".into(),
        other => other.into(),
    }
}

fn ed(action: &str) -> String {
    match action {
        "create" => "created".into(),
        "update" => "updated".into(),
        "replace" => "replaced".into(),
        "delete" => "destroyed".into(),
        other => format!("{other} done"),
    }
}
