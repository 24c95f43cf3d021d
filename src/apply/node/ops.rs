//! Create/update/delete of each node kind.

use super::{NodeApplier, node_error, record};
use crate::apply::{ApplyContext, ApplyError};
use crate::providers::node::{
    ComposeProject, ProgressEvent, bind_dirs, changed_services, ensure_bind_dirs, http_check,
    parse_duration, run_bootstrap, run_compose, snapshot_release, trace_roundtrip, upload_file,
};
use crate::providers::ssh::{ExecRequest, Transport, UploadRequest, shell_quote};
use crate::resources::Desired;
use crate::state::ResourceState;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

fn attr_str(desired: &Desired, key: &str) -> Result<String, ApplyError> {
    desired
        .attributes
        .get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApplyError::Precondition {
            address: desired.address.clone(),
            message: format!("attribute `{key}` is missing or not a string"),
            help: None,
        })
}

fn prior_str(prior: &ResourceState, key: &str) -> Option<String> {
    prior
        .attributes
        .get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
}

/// `file.<compose>["<relative path>"]` -> compose name.
fn compose_of_file(address: &str) -> Option<&str> {
    address.strip_prefix("file.")?.split('[').next()
}

/// Identity of a deployed bundle: the inputs hash of every service.
fn bundle_hash(services: &Json) -> String {
    hex::encode(Sha256::digest(services.to_string().as_bytes()))
}

impl NodeApplier {
    pub(super) async fn apply_host(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        let address = &desired.address;
        let t = self.connect(cx, address, address).await?;
        let verdict = t.host_key();
        if let Some(fp) = verdict.learned() {
            cx.events.progress(
                address,
                format!("learned host key {fp}; pinned from now on"),
            );
        }
        let mut state = record(desired);
        state.id = Some(t.target().to_string());
        state.attributes.insert(
            "host_key_fingerprint".into(),
            json!(verdict.fingerprint().to_string()),
        );
        Ok(state)
    }

    pub(super) async fn apply_bootstrap(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        let address = &desired.address;
        let node = attr_str(desired, "node")?;
        let nvidia = desired
            .attributes
            .get("nvidia_container_toolkit")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let t = self.connect(cx, address, &node).await?;
        cx.events.progress(
            address,
            format!("running the bootstrap script on {}", t.describe()),
        );
        let report = run_bootstrap(&t, nvidia)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!(
                "docker {} and compose {}{}{}",
                report.docker_version,
                report.compose_version,
                if report.nvidia {
                    ", nvidia runtime"
                } else {
                    ""
                },
                if report.installed {
                    " (installed now)"
                } else {
                    " (already in place)"
                }
            ),
        );
        let mut state = record(desired);
        state.id = Some(node);
        state
            .attributes
            .insert("docker_version".into(), json!(report.docker_version));
        state
            .attributes
            .insert("compose_version".into(), json!(report.compose_version));
        Ok(state)
    }

    pub(super) async fn apply_file(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        let address = &desired.address;
        let node = attr_str(desired, "node")?;
        let path = attr_str(desired, "path")?;
        let mode_text = attr_str(desired, "mode")?;
        let mode = u32::from_str_radix(mode_text.trim_start_matches("0o"), 8).map_err(|_| {
            ApplyError::Precondition {
                address: address.clone(),
                message: format!("mode `{mode_text}` is not octal"),
                help: None,
            }
        })?;
        let owner = desired
            .attributes
            .get("owner")
            .and_then(Json::as_str)
            .map(str::to_string);
        let mut state = record(desired);
        let (contents, secret) = match (
            desired.attributes.get("content").and_then(Json::as_str),
            desired.sensitive.get("content"),
        ) {
            (Some(text), _) => (text.as_bytes().to_vec(), false),
            (None, Some(Some(secret))) => (secret.as_bytes().to_vec(), true),
            (None, Some(None)) => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: "the secret content of this file was not provided".into(),
                    help: Some("set the sensitive variables it uses (environment or --var) before applying".into()),
                });
            }
            (None, None) => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: "the file has no content".into(),
                    help: None,
                });
            }
        };
        let mut request = UploadRequest::new(path.clone(), contents, mode);
        if let Some(o) = &owner {
            request = request.owner(o.clone());
        }
        let sha = request.sha256_hex();
        let bytes = request.contents.len();
        let t = self.connect(cx, address, &node).await?;
        upload_file(&t, request)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!("uploaded {path} ({bytes} bytes, mode {mode:04o}, checksum verified)"),
        );
        if secret {
            // Keyed hashes only: the content's, to plan changes, and its sha256's, so refresh can
            // compare with what the node reports without reading the secret back.
            let content = desired
                .sensitive
                .get("content")
                .cloned()
                .flatten()
                .unwrap_or_default();
            state
                .sensitive_attributes
                .insert("content".into(), cx.hasher.hash(content.as_bytes()));
            state
                .sensitive_attributes
                .insert("sha256".into(), cx.hasher.hash(sha.as_bytes()));
        }
        state.id = Some(format!("{node}:{path}"));
        Ok(state)
    }

    pub(super) async fn delete_file(
        &self,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError> {
        let (Some(node), Some(path)) = (prior_str(prior, "node"), prior_str(prior, "path")) else {
            return Ok(());
        };
        let t = self.connect(cx, address, &node).await?;
        t.exec_checked(ExecRequest::new(format!("rm -f -- {}", shell_quote(&path))))
            .await
            .map_err(ApplyError::Ssh)?;
        cx.events.progress(address, format!("removed {path}"));
        Ok(())
    }

    pub(super) async fn apply_compose(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: Option<&ResourceState>,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError> {
        let address = &desired.address;
        let name = address.strip_prefix("compose.").unwrap_or(address);
        let node = attr_str(desired, "node")?;
        let project = ComposeProject {
            name: attr_str(desired, "project")?,
            directory: attr_str(desired, "directory")?,
        };
        let services = desired
            .attributes
            .get("services")
            .cloned()
            .unwrap_or(Json::Null);
        let recreate = match prior {
            Some(p) if changed.is_empty() || changed.iter().any(|c| c == "services") => {
                changed_services(
                    p.attributes.get("services").unwrap_or(&Json::Null),
                    &services,
                )
            }
            _ => Vec::new(),
        };
        let t = self.connect(cx, address, &node).await?;

        if let Some(compose) = cx.stack.compose(name) {
            let dirs = bind_dirs(compose);
            ensure_bind_dirs(&t, &dirs)
                .await
                .map_err(|e| node_error(address, e))?;
            for d in &dirs {
                cx.events.progress(
                    address,
                    format!(
                        "bind-mount directory {}{}",
                        d.path,
                        d.owner
                            .as_ref()
                            .map(|o| format!(" owned by {o}"))
                            .unwrap_or_default()
                    ),
                );
            }
        }

        let events = cx.events.clone();
        let addr = address.clone();
        let report = move |e: &ProgressEvent| {
            if let Some(line) = e.summary() {
                events.progress(&addr, line);
            }
        };
        cx.events.progress(
            address,
            format!("compose up {} on {}", project.name, t.describe()),
        );
        // With services to recreate, the first `up` must not recreate them itself: each
        // changed service restarts exactly once, by the explicit recreate below.
        let up = if recreate.is_empty() {
            project.up_command()
        } else {
            project.up_keeping_containers_command()
        };
        run_compose(&t, &project, "up", up, &report)
            .await
            .map_err(|e| node_error(address, e))?;
        if !recreate.is_empty() {
            cx.events.progress(
                address,
                format!("recreating {} (inputs changed)", recreate.join(", ")),
            );
            run_compose(
                &t,
                &project,
                "recreate",
                project.recreate_command(&recreate),
                &report,
            )
            .await
            .map_err(|e| node_error(address, e))?;
        }

        let bundle = bundle_hash(&services);
        let files = self.project_files(cx, name, &project.directory);
        snapshot_release(&t, &project.directory, &bundle, &files)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!("bundle kept under {}/releases/{bundle}", project.directory),
        );

        let mut state = record(desired);
        state.id = Some(format!("{node}:{}", project.name));
        state.attributes.insert("bundle".into(), json!(bundle));
        Ok(state)
    }

    /// Managed files of compose `name`, relative to its directory (as recorded so far).
    fn project_files(&self, cx: &ApplyContext, name: &str, directory: &str) -> Vec<String> {
        let prefix = format!("{}/", directory.trim_end_matches('/'));
        let Ok(resources) = cx.resources.read() else {
            return Vec::new();
        };
        let mut out: Vec<String> = resources
            .iter()
            .filter(|(a, r)| r.kind == "file" && compose_of_file(a) == Some(name))
            .filter_map(|(_, r)| prior_str(r, "path"))
            .filter_map(|p| p.strip_prefix(&prefix).map(str::to_string))
            .collect();
        out.sort();
        out
    }

    pub(super) async fn delete_compose(
        &self,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError> {
        let (Some(node), Some(name), Some(directory)) = (
            prior_str(prior, "node"),
            prior_str(prior, "project"),
            prior_str(prior, "directory"),
        ) else {
            return Ok(());
        };
        let volumes = prior
            .attributes
            .get("destroy_volumes")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let project = ComposeProject { name, directory };
        let t = self.connect(cx, address, &node).await?;
        let events = cx.events.clone();
        let addr = address.to_string();
        let report = move |e: &ProgressEvent| {
            if let Some(line) = e.summary() {
                events.progress(&addr, line);
            }
        };
        cx.events.progress(
            address,
            format!(
                "compose down {}{}",
                project.name,
                if volumes {
                    " with its volumes"
                } else {
                    " (volumes kept)"
                }
            ),
        );
        run_compose(&t, &project, "down", project.down_command(volumes), &report)
            .await
            .map_err(|e| node_error(address, e))?;
        Ok(())
    }

    pub(super) async fn apply_check(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        let address = &desired.address;
        let compose_name = attr_str(desired, "compose")?;
        let compose = cx
            .stack
            .compose(&compose_name)
            .ok_or_else(|| ApplyError::Precondition {
                address: address.clone(),
                message: format!("compose `{compose_name}` is not in the stack"),
                help: None,
            })?;
        let node = compose.on.value.address();
        let within_text = attr_str(desired, "within")?;
        let within = parse_duration(&within_text).ok_or_else(|| ApplyError::Precondition {
            address: address.clone(),
            message: format!("`within = \"{within_text}\"` is not a duration (e.g. 90s, 10m, 1h)"),
            help: None,
        })?;
        let spec = desired
            .attributes
            .get("spec")
            .cloned()
            .unwrap_or(Json::Null);
        let field = |k: &str| spec.get(k).and_then(Json::as_str).map(str::to_string);
        let t = self.connect(cx, address, &node).await?;
        let deadline = tokio::time::Instant::now() + within;
        let events = cx.events.clone();
        let addr = address.clone();
        let report = move |line: &str| events.progress(&addr, line.to_string());
        let mut state = record(desired);
        match field("type").as_deref() {
            Some("http") => {
                let url = field("url").unwrap_or_default();
                let status = spec.get("status").and_then(Json::as_u64).unwrap_or(200) as u16;
                let attempts = http_check(&t, &url, status, deadline, &report)
                    .await
                    .map_err(|e| node_error(address, e))?;
                cx.events.progress(
                    address,
                    format!("GET {url} answered {status} (attempt {attempts})"),
                );
            }
            Some("trace_roundtrip") => {
                let url = field("url").unwrap_or_default();
                let model = field("model").unwrap_or_default();
                let audit = format!(
                    "{}/{}",
                    compose.directory.value.trim_end_matches('/'),
                    field("audit_file")
                        .unwrap_or_default()
                        .trim_start_matches("./")
                );
                let done = trace_roundtrip(&t, &url, &model, &audit, deadline, &report)
                    .await
                    .map_err(|e| node_error(address, e))?;
                cx.events
                    .progress(address, format!("trace {} found in {audit}", done.trace_id));
            }
            other => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: format!("unknown check type {other:?}"),
                    help: None,
                });
            }
        }
        state.id = Some(node);
        Ok(state)
    }
}
