//! Driving `docker compose` on a node: `up` with `--wait`, explicit recreation of the services
//! whose inputs changed, `down`. Output is read only as `--progress json` events (one JSON object
//! per line on stderr); human text is never parsed, it changes between releases.
//!
//! Compose's project flags (`-p`, `-f`, `--progress`) are flags of the `compose` command and must
//! come before the subcommand.

use super::compose_watch::ComposeWatch;
use super::error::NodeError;
use crate::providers::ssh::{ExecRequest, OutputLine, OutputStream, Transport, shell_quote};
use serde::Deserialize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One compose project on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeProject {
    pub name: String,
    /// Absolute project directory; holds `compose.yaml`.
    pub directory: String,
    /// Seconds `up --wait` waits for the services to be running and healthy
    /// (`--wait-timeout`).
    pub wait_timeout: u32,
}

impl ComposeProject {
    pub fn compose_file(&self) -> String {
        format!("{}/compose.yaml", self.directory.trim_end_matches('/'))
    }

    /// `cd <dir> && docker compose -p <name> -f <dir>/compose.yaml --progress json <args...>`.
    pub fn command(&self, args: &[&str]) -> String {
        let mut cmd = format!(
            "cd {} && docker compose -p {} -f {} --progress json",
            shell_quote(&self.directory),
            shell_quote(&self.name),
            shell_quote(&self.compose_file())
        );
        for a in args {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        cmd
    }

    /// `up -d --wait --wait-timeout N` and `rest`.
    fn up_waiting(&self, rest: &[&str]) -> String {
        let timeout = self.wait_timeout.to_string();
        let mut args = vec!["up", "-d", "--wait", "--wait-timeout", &timeout];
        args.extend_from_slice(rest);
        self.command(&args)
    }

    /// Brings every service up and waits until each is running (and healthy where it has a check).
    pub fn up_command(&self) -> String {
        self.up_waiting(&["--remove-orphans"])
    }

    /// Like [`Self::up_command`], but leaves existing containers as they are, even those whose
    /// definition changed: used before [`Self::recreate_command`] recreates the changed
    /// services, which plain `up` would otherwise already have recreated once (every changed
    /// service's compose section changes, if only by its inputs-hash label), so each would
    /// restart twice.
    pub fn up_keeping_containers_command(&self) -> String {
        self.up_waiting(&["--remove-orphans", "--no-recreate"])
    }

    /// Recreates exactly `services` (their dependencies are left alone).
    pub fn recreate_command(&self, services: &[String]) -> String {
        let mut args = vec!["--no-deps", "--force-recreate"];
        args.extend(services.iter().map(String::as_str));
        self.up_waiting(&args)
    }

    /// `down`; with `volumes` the named volumes go too. Runs without the compose file, by the
    /// project's labels, so a project whose directory is gone can still be removed.
    pub fn down_command(&self, volumes: bool) -> String {
        let mut cmd = format!(
            "docker compose -p {} --progress json down --remove-orphans",
            shell_quote(&self.name)
        );
        if volumes {
            cmd.push_str(" -v");
        }
        cmd
    }
}

/// One `--progress json` line, in any of the shapes Compose has used (2.29 to 4.x:
/// `{"id","status"}`; 5.x: `{"id","status":"Done|Working|Error","text"}`; errors
/// `{"error":true,"message"}`; warnings `{"level":"warning","msg"}`). A layer of an image pull
/// names its service in `parent_id` and carries bytes `current` of `total` (the fields
/// Compose 2.40's JSON progress writer declares).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct ProgressEvent {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub error: Option<bool>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub current: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
}

impl ProgressEvent {
    pub fn is_error(&self) -> bool {
        self.error == Some(true)
            || self.status.as_deref() == Some("Error")
            || self.level.as_deref() == Some("error")
    }

    /// The word for the object's state (`Started`, `Healthy`), in either shape.
    pub fn state(&self) -> Option<&str> {
        match (self.status.as_deref(), self.text.as_deref()) {
            (Some("Done" | "Working" | "Error"), Some(t)) => Some(t),
            (Some(s), _) => Some(s),
            (None, t) => t,
        }
    }

    /// One line for the progress renderer: `Container llm-vllm-1: Started`.
    pub fn summary(&self) -> Option<String> {
        if let Some(m) = self.message.as_ref().or(self.msg.as_ref()) {
            let level =
                self.level
                    .as_deref()
                    .unwrap_or(if self.is_error() { "error" } else { "info" });
            return Some(format!("{level}: {m}"));
        }
        Some(format!("{}: {}", self.id.as_deref()?, self.state()?))
    }
}

/// The JSON events in `stderr`; other lines are counted, never interpreted.
pub fn parse_progress(stderr: &[u8]) -> (Vec<ProgressEvent>, usize) {
    let text = String::from_utf8_lossy(stderr);
    let mut events = Vec::new();
    let mut other = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_event(line) {
            Some(e) => events.push(e),
            None => other += 1,
        }
    }
    (events, other)
}

/// One line of `--progress json` output, or `None` for anything else.
pub fn parse_event(line: &str) -> Option<ProgressEvent> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

/// Runs one compose command, showing what each service does as Compose reports it (through a
/// [`ComposeWatch`], so one line per service per change). A failure carries the error events'
/// messages (or the exit status when compose gave none); an `up` that ran into its
/// `--wait-timeout` is [`NodeError::ComposeNotHealthy`], naming the services not healthy.
pub async fn run_compose(
    t: &dyn Transport,
    project: &ComposeProject,
    action: &str,
    command: String,
    on_line: &(dyn Fn(String) + Send + Sync),
) -> Result<(), NodeError> {
    let watch = Mutex::new(ComposeWatch::new(&project.name));
    let on_output = |line: OutputLine| {
        if line.stream != OutputStream::Stderr {
            return;
        }
        let shown = parse_event(&line.text).and_then(|e| {
            let mut watch = watch.lock().unwrap_or_else(PoisonError::into_inner);
            watch.observe(&e)
        });
        if let Some(shown) = shown {
            on_line(shown);
        }
    };
    // Pulls are not bounded by `--wait-timeout`; the transport's own limit still is.
    let request = ExecRequest::new(command)
        .timeout(COMMAND_LIMIT + Duration::from_secs(project.wait_timeout.into()));
    let started = Instant::now();
    let out = t.exec_streaming(request, &on_output).await?;
    let (events, other_lines) = parse_progress(&out.stderr);
    let not_ready = watch
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .not_ready();
    // Compose 2.40.3 does not always say so when the timeout expires: on the test host it
    // sometimes exits 0 with a service last reported `Waiting`. A wait that lasted the whole
    // timeout and left services waiting is a timeout either way.
    let waited_out = started.elapsed() >= Duration::from_secs(project.wait_timeout.into());
    let timed_out = events.iter().any(is_wait_timeout) || (out.success() && waited_out);
    if timed_out && !not_ready.is_empty() {
        return Err(NodeError::ComposeNotHealthy {
            target: t.describe(),
            project: project.name.clone(),
            services: not_ready,
            after_secs: project.wait_timeout,
        });
    }
    if out.success() {
        return Ok(());
    }
    Err(NodeError::Compose {
        target: t.describe(),
        project: project.name.clone(),
        action: action.to_string(),
        reason: failure_reason(&events, other_lines, out.status),
    })
}

/// What a compose command may take besides the health wait: pulls of large images.
const COMMAND_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The error Compose prints when `--wait-timeout` expires (2.40.3:
/// `application not healthy after 3s`, tests/data/docker/compose-up-wait-timeout.stderr).
fn is_wait_timeout(e: &ProgressEvent) -> bool {
    e.is_error()
        && e.message
            .as_deref()
            .is_some_and(|m| m.contains(WAIT_TIMEOUT_MESSAGE))
}

const WAIT_TIMEOUT_MESSAGE: &str = "application not healthy after";

/// Why a compose command failed: its error events (Compose prints the failing container's
/// `Error` status, then the error message), or the exit status when it gave none.
fn failure_reason(events: &[ProgressEvent], other_lines: usize, status: i32) -> String {
    let mut reasons: Vec<String> = events
        .iter()
        .filter(|e| e.is_error())
        .filter_map(ProgressEvent::summary)
        .collect();
    reasons.dedup();
    if reasons.is_empty() {
        reasons.push(format!(
            "exit status {status} with no error event ({other_lines} non-JSON line(s) on stderr{})",
            if other_lines > 0 {
                "; run it on the node to see them"
            } else {
                ""
            }
        ));
    }
    reasons.join("; ")
}

/// Services to recreate on an update: those present before and now whose inputs hash changed.
/// New services are created by the `up` itself; removed ones are removed as orphans.
pub fn changed_services(prior: &serde_json::Value, desired: &serde_json::Value) -> Vec<String> {
    let (Some(prior), Some(desired)) = (prior.as_object(), desired.as_object()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = desired
        .iter()
        .filter(|(svc, hash)| prior.get(*svc).is_some_and(|p| p != *hash))
        .map(|(svc, _)| svc.clone())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project() -> ComposeProject {
        ComposeProject {
            name: "llm".into(),
            directory: "/opt/sovstack/llm".into(),
            wait_timeout: 600,
        }
    }

    #[test]
    fn project_flags_come_before_the_subcommand() {
        assert_eq!(
            project().up_command(),
            "cd /opt/sovstack/llm && docker compose -p llm -f /opt/sovstack/llm/compose.yaml --progress json up -d --wait --wait-timeout 600 --remove-orphans"
        );
        assert_eq!(
            project().up_keeping_containers_command(),
            "cd /opt/sovstack/llm && docker compose -p llm -f /opt/sovstack/llm/compose.yaml --progress json up -d --wait --wait-timeout 600 --remove-orphans --no-recreate"
        );
        assert_eq!(
            project().recreate_command(&["otel-collector".into()]),
            "cd /opt/sovstack/llm && docker compose -p llm -f /opt/sovstack/llm/compose.yaml --progress json up -d --wait --wait-timeout 600 --no-deps --force-recreate otel-collector"
        );
        assert_eq!(
            project().down_command(true),
            "docker compose -p llm --progress json down --remove-orphans -v"
        );
        let odd = ComposeProject {
            name: "a b".into(),
            directory: "/x y".into(),
            wait_timeout: 600,
        };
        assert!(
            odd.up_command()
                .starts_with("cd '/x y' && docker compose -p 'a b' -f '/x y/compose.yaml'")
        );
    }

    /// What Compose 2.40.3 printed against Docker Engine 20.10 (captured by the integration
    /// test `compose_capture` into tests/data/docker, see its README).
    const UP_WAIT: &str = include_str!("../../../tests/data/docker/compose-up-wait.stderr");
    const UP_RECREATE: &str = include_str!("../../../tests/data/docker/compose-up-recreate.stderr");
    const UP_UNHEALTHY: &str =
        include_str!("../../../tests/data/docker/compose-up-wait-unhealthy.stderr");
    const DOWN: &str = include_str!("../../../tests/data/docker/compose-down.stderr");

    #[test]
    fn real_progress_is_all_events() {
        for (name, text) in [
            ("up", UP_WAIT),
            ("recreate", UP_RECREATE),
            ("unhealthy", UP_UNHEALTHY),
            ("down", DOWN),
        ] {
            let (events, other) = parse_progress(text.as_bytes());
            assert_eq!(other, 0, "{name}");
            assert_eq!(events.len(), text.lines().count(), "{name}");
            assert!(events.iter().all(|e| e.summary().is_some()), "{name}");
        }
        for ok in [UP_WAIT, UP_RECREATE, DOWN] {
            assert!(
                !parse_progress(ok.as_bytes())
                    .0
                    .iter()
                    .any(ProgressEvent::is_error)
            );
        }
        let lines: Vec<String> = parse_progress(UP_RECREATE.as_bytes())
            .0
            .iter()
            .filter_map(ProgressEvent::summary)
            .collect();
        assert_eq!(
            lines,
            [
                "Container capture-web-1: Recreate",
                "Container capture-web-1: Recreated",
                "Container capture-web-1: Starting",
                "Container capture-web-1: Started",
                "Container capture-web-1: Waiting",
                "Container capture-web-1: Healthy",
            ]
        );
    }

    #[test]
    fn a_real_wait_timeout_is_told_from_an_unhealthy_service() {
        let timeout = include_str!("../../../tests/data/docker/compose-up-wait-timeout.stderr");
        let (events, other) = parse_progress(timeout.as_bytes());
        assert_eq!(other, 0);
        assert!(events.iter().any(is_wait_timeout));
        assert!(
            !parse_progress(UP_UNHEALTHY.as_bytes())
                .0
                .iter()
                .any(is_wait_timeout)
        );
    }

    #[test]
    fn a_real_failed_wait_names_the_unhealthy_container() {
        let (events, other) = parse_progress(UP_UNHEALTHY.as_bytes());
        assert_eq!(
            failure_reason(&events, other, 1),
            "Container capture-api-1: Error; error: dependency failed to start: container capture-api-1 is unhealthy"
        );
        assert_eq!(
            failure_reason(&[], 2, 1),
            "exit status 1 with no error event (2 non-JSON line(s) on stderr; run it on the node to see them)"
        );
    }

    /// Shapes Compose 2.40 does not print, so no capture holds them: 5.x's `Done`/`Working`
    /// with a `text`, and log-style warnings (from Compose's progress writer).
    #[test]
    fn progress_shapes_of_other_releases() {
        let stderr = br#"{"id":"Container llm-otel-1","status":"Done","text":"Healthy"}
{"level":"warning","msg":"Found orphan containers","time":"2026-01-01T00:00:00Z"}
 Container llm-x-1  Started
"#;
        let (events, other) = parse_progress(stderr);
        assert_eq!(other, 1);
        let lines: Vec<String> = events.iter().filter_map(ProgressEvent::summary).collect();
        assert_eq!(
            lines,
            [
                "Container llm-otel-1: Healthy",
                "warning: Found orphan containers"
            ]
        );
        assert!(!events[1].is_error());
    }

    #[test]
    fn only_changed_existing_services_are_recreated() {
        let prior = json!({"vllm": "a", "otel": "b", "gone": "c"});
        let desired = json!({"vllm": "a", "otel": "B", "new": "d"});
        assert_eq!(changed_services(&prior, &desired), ["otel"]);
        assert!(changed_services(&json!(null), &desired).is_empty());
    }
}
