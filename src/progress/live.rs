//! Live lines on a terminal: one line per running operation with a spinner, its elapsed time
//! and what it last said (what it waits for), finished operations scrolling above. Drawn by
//! indicatif on stderr; only chosen when stderr is a terminal.

use super::{Event, Progress};
use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;

pub struct LiveLines {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    style: ProgressStyle,
}

impl LiveLines {
    pub fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// Drawing to `target` (a test can draw into a hidden target).
    pub fn with_target(target: ProgressDrawTarget) -> Self {
        // The template is a constant: it always parses; the default spinner is the fallback.
        let style = ProgressStyle::with_template("{spinner:.cyan} {prefix} [{elapsed}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: HashMap::new(),
            style,
        }
    }

    /// A finished line, printed above the live ones.
    fn done(&self, text: String) {
        // Fails only when the terminal has gone; there is nobody to tell then.
        let _ = self.multi.println(text);
    }
}

impl Default for LiveLines {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for LiveLines {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Started { address, operation } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(self.style.clone());
                bar.set_prefix(format!(
                    "{}: {}",
                    style(address).bold().for_stderr(),
                    operation.present_participle()
                ));
                bar.tick();
                self.bars.insert(address.clone(), bar);
            }
            Event::Progress { address, message } => match self.bars.get(address) {
                Some(bar) => bar.set_message(message.clone()),
                None => self.done(format!("  {address}: {message}")),
            },
            Event::Finished { address, .. } => {
                if let Some(bar) = self.bars.remove(address) {
                    bar.finish_and_clear();
                }
                let line = super::plain::describe(event);
                self.done(format!("{} {line}", style("✓").green().for_stderr()));
            }
            Event::Failed { address, .. } => {
                if let Some(bar) = self.bars.remove(address) {
                    bar.finish_and_clear();
                }
                let line = super::plain::describe(event);
                self.done(format!(
                    "{} {}",
                    style("✗").red().for_stderr(),
                    style(line).red().for_stderr()
                ));
            }
            Event::Skipped { .. } => {
                let line = super::plain::describe(event);
                self.done(format!(
                    "{} {}",
                    style("-").yellow().for_stderr(),
                    style(line).yellow().for_stderr()
                ));
            }
        }
    }

    fn tick(&mut self) {
        for bar in self.bars.values() {
            bar.tick();
        }
    }

    fn finish(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Operation;
    use std::time::Duration;

    #[test]
    fn a_running_operation_has_a_line_until_it_ends() {
        let mut live = LiveLines::with_target(ProgressDrawTarget::hidden());
        live.event(&Event::Started {
            address: "server.a".into(),
            operation: Operation::Create,
        });
        live.event(&Event::Progress {
            address: "server.a".into(),
            message: "waiting for sshd on 10.0.0.2:22".into(),
        });
        assert_eq!(
            live.bars["server.a"].message(),
            "waiting for sshd on 10.0.0.2:22"
        );
        live.event(&Event::Finished {
            address: "server.a".into(),
            operation: Operation::Create,
            elapsed: Duration::from_secs(3),
        });
        assert!(live.bars.is_empty());
        live.finish();
    }
}
