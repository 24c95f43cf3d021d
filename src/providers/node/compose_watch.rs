//! Following a running `docker compose up` per service, from its `--progress json` events, so
//! the live line says what each service waits for: its image pull with sizes, creating,
//! starting, waiting until healthy.
//!
//! Compose prints an event for every change of every container and image layer; a pull of a
//! large image prints thousands. [`ComposeWatch`] keeps what it learned per service and yields a
//! line only when what it would say changes (a pull only when it passes another tenth of its
//! size), so logs stay readable.

use super::compose::ProgressEvent;
use std::collections::BTreeMap;

/// What one service is doing, as far as Compose has said.
#[derive(Debug, Default)]
struct ServiceView {
    /// The container's last status (`Created`, `Waiting`, `Healthy`...).
    status: Option<String>,
    /// Bytes done and total per image layer of a running pull.
    layers: BTreeMap<String, (u64, u64)>,
    /// What the last line said, so an unchanged state yields nothing.
    shown: Option<String>,
}

/// The per-service view of one compose command's events.
#[derive(Debug)]
pub struct ComposeWatch {
    project: String,
    services: BTreeMap<String, ServiceView>,
    /// Last line per object that is not a service (networks, volumes).
    others: BTreeMap<String, String>,
}

/// A container status after which `up --wait` no longer waits for it.
fn is_settled(status: &str) -> bool {
    matches!(status, "Healthy" | "Exited")
}

impl ComposeWatch {
    pub fn new(project: &str) -> Self {
        Self {
            project: project.to_string(),
            services: BTreeMap::new(),
            others: BTreeMap::new(),
        }
    }

    /// Takes one event; returns the line to show when it changes what a service is doing.
    pub fn observe(&mut self, e: &ProgressEvent) -> Option<String> {
        if e.id.is_none() {
            // Errors and warnings are rare and always worth a line.
            return e.summary();
        }
        if let Some(parent) = e.parent_id.as_deref() {
            return self.layer(parent, e);
        }
        let id = e.id.as_deref().unwrap_or_default();
        let status = e.state()?.to_string();
        match id.strip_prefix("Container ") {
            Some(container) => {
                let service = self.service_of(container);
                let view = self.services.entry(service.clone()).or_default();
                view.layers.clear();
                view.status = Some(status.clone());
                show(view, format!("{service}: {}", container_words(&status)))
            }
            None if is_object(id) => {
                let line = e.summary()?;
                let shown = self.others.insert(id.to_string(), line.clone());
                (shown.as_ref() != Some(&line)).then_some(line)
            }
            // Compose names a service by itself for its image: `api: Pulling`, `api: Pulled`.
            None => {
                let view = self.services.entry(id.to_string()).or_default();
                if status != "Pulling" {
                    view.layers.clear();
                }
                show(view, format!("{id}: image {}", status.to_lowercase()))
            }
        }
    }

    /// Services whose containers `up --wait` was still waiting for, in name order.
    pub fn not_ready(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|(_, v)| v.status.as_deref().is_some_and(|s| !is_settled(s)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A layer event of a pull: the service's total so far, shown at each tenth.
    fn layer(&mut self, parent: &str, e: &ProgressEvent) -> Option<String> {
        let service = parent.strip_prefix("Image ").unwrap_or(parent).to_string();
        let view = self.services.entry(service.clone()).or_default();
        let layer = e.id.clone().unwrap_or_default();
        if let (Some(current), Some(total)) = (e.current, e.total)
            && total > 0
        {
            view.layers.insert(layer, (current.min(total), total));
        }
        let (done, total) = view
            .layers
            .values()
            .fold((0, 0), |(d, t), (c, s)| (d + c, t + s));
        if total == 0 {
            return None;
        }
        let tenth = done * 10 / total;
        let key = format!("{service}: image pull {tenth}");
        if view.shown.as_deref() == Some(key.as_str()) {
            return None;
        }
        view.shown = Some(key);
        Some(format!("{service}: image pull {}", sizes(done, total)))
    }

    /// `llm-otel-collector-1` → `otel-collector` (`<project>-<service>-<n>`).
    fn service_of(&self, container: &str) -> String {
        let name = container
            .strip_prefix(&format!("{}-", self.project))
            .unwrap_or(container);
        match name.rsplit_once('-') {
            Some((service, n)) if n.chars().all(|c| c.is_ascii_digit()) => service.to_string(),
            _ => name.to_string(),
        }
    }
}

fn show(view: &mut ServiceView, line: String) -> Option<String> {
    if view.shown.as_deref() == Some(line.as_str()) {
        return None;
    }
    view.shown = Some(line.clone());
    Some(line)
}

fn is_object(id: &str) -> bool {
    ["Network ", "Volume ", "Image "]
        .iter()
        .any(|p| id.starts_with(p))
}

/// What a container status means to someone watching an apply.
fn container_words(status: &str) -> String {
    match status {
        "Waiting" => "waiting until running and healthy (health: starting)".to_string(),
        "Healthy" => "healthy".to_string(),
        "Error" => "failed".to_string(),
        other => other.to_lowercase(),
    }
}

/// `3.2/8.1 GB`, in the unit of the total.
fn sizes(done: u64, total: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let (unit, scale) = UNITS
        .iter()
        .copied()
        .find(|(_, s)| total as f64 >= *s)
        .unwrap_or(("B", 1.0));
    format!(
        "{:.1}/{:.1} {unit}",
        done as f64 / scale,
        total as f64 / scale
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::node::parse_progress;

    fn lines(project: &str, text: &str) -> (Vec<String>, ComposeWatch) {
        let mut watch = ComposeWatch::new(project);
        let (events, _) = parse_progress(text.as_bytes());
        let out = events.iter().filter_map(|e| watch.observe(e)).collect();
        (out, watch)
    }

    /// Compose 2.40.3's real output (tests/data/docker, see `compose_capture`).
    #[test]
    fn a_real_up_reads_per_service() {
        let (out, watch) = lines(
            "capture",
            include_str!("../../../tests/data/docker/compose-up-wait.stderr"),
        );
        assert_eq!(
            out,
            [
                "Network capture_default: Creating",
                "Network capture_default: Created",
                "migrate: creating",
                "api: creating",
                "api: created",
                "migrate: created",
                "web: creating",
                "web: created",
                "api: starting",
                "migrate: starting",
                "migrate: started",
                "api: started",
                "migrate: waiting until running and healthy (health: starting)",
                "api: waiting until running and healthy (health: starting)",
                "migrate: exited",
                "api: healthy",
                "web: starting",
                "web: started",
                "migrate: waiting until running and healthy (health: starting)",
                "web: waiting until running and healthy (health: starting)",
                "api: waiting until running and healthy (health: starting)",
                "api: healthy",
                "web: healthy",
                "migrate: exited",
            ]
        );
        assert!(watch.not_ready().is_empty());
    }

    #[test]
    fn a_real_failed_wait_leaves_the_unhealthy_service_not_ready() {
        let (out, watch) = lines(
            "capture",
            include_str!("../../../tests/data/docker/compose-up-wait-unhealthy.stderr"),
        );
        assert_eq!(
            out.last().unwrap(),
            "error: dependency failed to start: container capture-api-1 is unhealthy"
        );
        assert_eq!(watch.not_ready(), ["api"]);
    }

    #[test]
    fn a_real_wait_timeout_leaves_the_waiting_service_not_ready() {
        let (out, watch) = lines(
            "stuck",
            include_str!("../../../tests/data/docker/compose-up-wait-timeout.stderr"),
        );
        assert!(
            out.contains(&"api: waiting until running and healthy (health: starting)".to_string())
        );
        assert_eq!(watch.not_ready(), ["api"]);
    }

    /// A pull prints one event per layer per step; the line moves only at each tenth.
    #[test]
    fn a_pull_shows_sizes_at_each_tenth() {
        let mut watch = ComposeWatch::new("llm");
        let pulling = ProgressEvent {
            id: Some("vllm".into()),
            status: Some("Pulling".into()),
            ..Default::default()
        };
        assert_eq!(watch.observe(&pulling).unwrap(), "vllm: image pulling");
        let layer = |id: &str, current: u64, total: u64| ProgressEvent {
            id: Some(id.into()),
            parent_id: Some("vllm".into()),
            status: Some("Downloading".into()),
            current: Some(current),
            total: Some(total),
            ..Default::default()
        };
        let mut shown = Vec::new();
        for step in 0..=100u64 {
            for (id, total) in [("a", 6_000_000_000u64), ("b", 2_100_000_000)] {
                if let Some(l) = watch.observe(&layer(id, total * step / 100, total)) {
                    shown.push(l);
                }
            }
        }
        assert_eq!(shown.first().unwrap(), "vllm: image pull 0.0/6.0 GB");
        assert!(shown.len() <= 12, "{shown:?}");
        assert_eq!(shown.last().unwrap(), "vllm: image pull 8.1/8.1 GB");
        assert_eq!(sizes(3_200_000_000, 8_100_000_000), "3.2/8.1 GB");
        assert_eq!(sizes(512_000, 2_000_000), "0.5/2.0 MB");
    }

    #[test]
    fn container_names_give_service_names() {
        let watch = ComposeWatch::new("llm");
        assert_eq!(watch.service_of("llm-otel-collector-1"), "otel-collector");
        assert_eq!(watch.service_of("llm-vllm-12"), "vllm");
        assert_eq!(watch.service_of("other"), "other");
    }
}
