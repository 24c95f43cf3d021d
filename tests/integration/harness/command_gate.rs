//! A gate in a test sshd's login wrapper that stops the world at one remote command: the SSH
//! counterpart of `request_gate.rs`. Armed with a [`KillPoint`], it counts the commands sshd
//! runs for any client and holds the chosen one, either before it runs (the node never saw it)
//! or after it ran with its exit status withheld (the node did it, the tool never learnt it),
//! and says so in a file the test polls; the test then kills the client. A held command waits
//! for the release (at most a minute) and exits 255, as a dropped connection would. Counting
//! is under `flock`, so commands on parallel sessions get distinct numbers.

use super::request_gate::KillPoint;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The shell the wrapper runs before the command (`{r}` is the sshd's directory); it ends the
/// session itself when this command is the armed point.
pub(super) fn wrapper_snippet(root: &Path) -> String {
    let gate = root.join("gate");
    let g = gate.display();
    format!(
        r#"if [ -f '{g}' ]; then
  n=$(flock '{g}.lock' sh -c 'n=$(( $(cat "$1.count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$1.count"; echo "$n"' _ '{g}')
  read -r at side < '{g}'
  if [ "$n" = "$at" ]; then
    if [ "$side" = after ]; then /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi
    echo "$n $side" > '{g}.tripped'
    i=0
    while [ ! -e '{g}.release' ] && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    exit 255
  fi
fi
"#
    )
}

/// The gate of one sshd (see [`super::sshd::Sshd::gate`]).
pub struct CommandGate {
    gate: PathBuf,
}

const TRIP_TIMEOUT: Duration = Duration::from_secs(120);

impl CommandGate {
    pub(super) fn new(root: &Path) -> CommandGate {
        CommandGate {
            gate: root.join("gate"),
        }
    }

    fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut name = self.gate.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Counts from zero and holds the `point.request`-th command from now on.
    pub fn arm(&self, point: KillPoint) {
        for suffix in [".count", ".tripped", ".release"] {
            let _ = std::fs::remove_file(self.with_suffix(suffix));
        }
        let side = if point.after_response {
            "after"
        } else {
            "before"
        };
        std::fs::write(&self.gate, format!("{} {side}\n", point.request)).expect("arm the gate");
    }

    /// Stops counting and lets a held command end.
    pub fn disarm(&self) {
        let _ = std::fs::remove_file(&self.gate);
        std::fs::write(self.with_suffix(".release"), "").expect("release the gate");
    }

    /// Whether the armed command has been reached (and is held).
    pub fn tripped(&self) -> bool {
        self.with_suffix(".tripped").exists()
    }

    /// Commands counted since [`Self::arm`].
    pub fn count(&self) -> u64 {
        std::fs::read_to_string(self.with_suffix(".count"))
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Polls until the gate trips or `done()` says the client ended first; `true` if tripped.
    pub fn wait_tripped(&self, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + TRIP_TIMEOUT;
        loop {
            if self.tripped() {
                return true;
            }
            if done() {
                return self.tripped();
            }
            assert!(
                Instant::now() < deadline,
                "neither tripped nor finished within {TRIP_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
