//! One `compose` block -> `compose.yaml`, its mounted files, collector configs and env files.

use super::error::{MissingSecret, RenderError};
use super::resolve::Resolver;
use super::{
    ArtifactBuilder, ArtifactKind, NewArtifact, RenderOptions, collector, digest, envfile, yaml,
};
use crate::config::{Compose, FileSource, Gpus, Logging, PortMapping, Service, Stack, UlimitValue};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub const LABEL_PROJECT: &str = "dev.sovstack.project";
pub const LABEL_SERVICE: &str = "dev.sovstack.service";
pub const LABEL_INPUTS_HASH: &str = "dev.sovstack.inputs-hash";

#[derive(Serialize)]
struct ComposeDoc {
    name: String,
    services: BTreeMap<String, ServiceDoc>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Serialize, Clone)]
struct ServiceDoc {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shm_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<HealthcheckDoc>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    ulimits: BTreeMap<String, UlimitDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logging: Option<LoggingDoc>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Clone)]
#[serde(untagged)]
enum UlimitDoc {
    Single(u64),
    SoftHard { soft: u64, hard: u64 },
}

impl From<&UlimitValue> for UlimitDoc {
    fn from(v: &UlimitValue) -> Self {
        match *v {
            UlimitValue::Single(n) => UlimitDoc::Single(n),
            UlimitValue::SoftHard { soft, hard } => UlimitDoc::SoftHard { soft, hard },
        }
    }
}

#[derive(Serialize, Clone)]
struct LoggingDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<String, String>,
}

/// GPUs through a device reservation: understood by every Compose v2, unlike `gpus:` (v2.30+).
#[derive(Serialize, Clone)]
struct Deploy {
    resources: Resources,
}
#[derive(Serialize, Clone)]
struct Resources {
    reservations: Reservations,
}
#[derive(Serialize, Clone)]
struct Reservations {
    devices: Vec<Device>,
}
#[derive(Serialize, Clone)]
struct Device {
    driver: &'static str,
    count: DeviceCount,
    capabilities: Vec<&'static str>,
}
#[derive(Serialize, Clone)]
#[serde(untagged)]
enum DeviceCount {
    All(&'static str),
    N(u32),
}

#[derive(Serialize, Clone)]
struct DependsOn {
    condition: &'static str,
}

#[derive(Serialize, Clone)]
struct HealthcheckDoc {
    test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_period: Option<String>,
}

/// Compose interpolates `$VAR`/`${VAR}` in every value of compose.yaml from the shell that
/// runs it. Values here are final, so every `$` is escaped to reach the container literally.
fn escape_dollars(s: &str) -> String {
    s.replace('$', "$$")
}

struct Lit<'r, 'k> {
    r: &'r mut Resolver<'k>,
}

impl Lit<'_, '_> {
    fn s(&mut self, s: &str) -> String {
        escape_dollars(&self.r.text(s))
    }
    fn list(&mut self, l: &[String]) -> Vec<String> {
        l.iter().map(|x| self.s(x)).collect()
    }
}

fn port_string(p: &PortMapping) -> String {
    let mut out = String::new();
    if let Some(ip) = &p.host_ip {
        if ip.contains(':') && !ip.starts_with('[') {
            out.push_str(&format!("[{ip}]:"));
        } else {
            out.push_str(ip);
            out.push(':');
        }
    }
    if let Some(pub_) = &p.published {
        out.push_str(&pub_.to_hetzner());
        out.push(':');
    }
    out.push_str(&p.target.to_hetzner());
    if p.protocol != "tcp" && !p.protocol.is_empty() {
        out.push('/');
        out.push_str(&p.protocol);
    }
    out
}

/// The container path below `files/<service>/`: a clean relative path, so no mount can escape
/// the project directory and no `:` or `,` can break the short volume syntax.
fn sanitise_container_path(service: &str, path: &str) -> Result<String, RenderError> {
    let bad = || RenderError::InvalidContainerPath {
        service: service.to_string(),
        path: path.to_string(),
    };
    let rel = path.strip_prefix('/').ok_or_else(bad)?;
    if rel.is_empty() || path.contains([':', ',', '\n', '\r', '\0']) {
        return Err(bad());
    }
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad());
    }
    Ok(rel.to_string())
}

pub(super) fn render(
    stack: &Stack,
    c: &Compose,
    opts: &RenderOptions,
    b: &ArtifactBuilder<'_>,
    missing: &mut Vec<MissingSecret>,
) -> Result<Vec<super::Artifact>, RenderError> {
    let node = c.on.value.address();
    let dir = c.directory.value.trim_end_matches('/').to_string();
    let dir = if dir.is_empty() { "/".to_string() } else { dir };
    let redacted = opts.redacted_mode();
    let mut out = Vec::new();
    let mut services = BTreeMap::new();
    let mut hashes = BTreeMap::new();
    let mut compose_unknowns = BTreeSet::new();
    let mut compose_redacted = false;

    for svc in &c.services {
        let mut r = Resolver::new(&opts.known, redacted);
        let mut input_unknowns = BTreeSet::new();
        let mut mounts = Vec::new();
        // (container path, content sha256) per mounted file, for the inputs hash.
        let mut file_hashes = Vec::new();
        for f in &svc.files {
            let cpath = &f.container_path.value;
            let rel = sanitise_container_path(&svc.name, cpath)?;
            let (kind, content) = match &f.source {
                FileSource::Content(text) => (ArtifactKind::MountedFile, r.text(text)),
                FileSource::Collector(name) => {
                    let col = stack.collector(&name.value).ok_or_else(|| {
                        RenderError::UnknownCollector {
                            service: svc.name.clone(),
                            collector: name.value.clone(),
                        }
                    })?;
                    (
                        ArtifactKind::CollectorConfig,
                        collector::render(col, &mut r)?,
                    )
                }
            };
            let unknowns = r.take_unknowns();
            input_unknowns.extend(unknowns.iter().cloned());
            let a = b.build(NewArtifact {
                node: node.clone(),
                remote_path: format!("{dir}/files/{}/{rel}", svc.name),
                kind,
                content,
                sensitive: false,
                compose: Some(c.name.clone()),
                service: Some(svc.name.clone()),
                redacted: false,
                unknowns,
            })?;
            file_hashes.push((cpath.clone(), a.sha256.clone()));
            mounts.push(format!("./files/{}/{rel}:{cpath}:ro", svc.name));
            out.push(a);
        }

        let mut env_file = Vec::new();
        let mut env_digest = String::new();
        if !svc.secret_environment.is_empty() {
            let (a, digest_for_inputs, is_redacted) =
                env_artifact(&node, &dir, c, svc, opts, b, missing)?;
            env_digest = digest_for_inputs;
            compose_redacted |= is_redacted;
            env_file.push(format!("{}.env", svc.name));
            if let Some(a) = a {
                out.push(a);
            }
        }

        let mut lit = Lit { r: &mut r };
        let mut doc = service_doc(&mut lit, c, svc, env_file, mounts)?;
        input_unknowns.extend(r.take_unknowns());
        let section = yaml::to_yaml(&doc)
            .map_err(|e| RenderError::yaml(format!("service {}", svc.name), e))?;
        let hash = inputs_hash(&section, &file_hashes, &env_digest);
        doc.labels
            .insert(LABEL_INPUTS_HASH.to_string(), hash.clone());
        hashes.insert(svc.name.clone(), hash);
        services.insert(svc.name.clone(), doc);
        compose_unknowns.extend(input_unknowns);
    }

    let volumes = c
        .volumes
        .iter()
        .map(|v| (v.value.clone(), BTreeMap::new()))
        .collect();
    let doc = ComposeDoc {
        name: c.project.clone(),
        services,
        volumes,
    };
    let text =
        yaml::to_yaml(&doc).map_err(|e| RenderError::yaml(format!("compose {}", c.name), e))?;
    let mut a = b.build(NewArtifact {
        node: node.clone(),
        remote_path: format!("{dir}/compose.yaml"),
        kind: ArtifactKind::ComposeFile,
        content: text,
        sensitive: false,
        compose: Some(c.name.clone()),
        service: None,
        // The compose file itself holds no secret; the flag says its hashes are not final.
        redacted: compose_redacted,
        unknowns: compose_unknowns,
    })?;
    a.service_hashes = hashes;
    out.push(a);
    Ok(out)
}

/// The env artifact (None when secrets are missing in apply mode; they are reported together)
/// and the digest of the real env content that goes into the inputs hash.
fn env_artifact(
    node: &str,
    dir: &str,
    c: &Compose,
    svc: &Service,
    opts: &RenderOptions,
    b: &ArtifactBuilder<'_>,
    missing: &mut Vec<MissingSecret>,
) -> Result<(Option<super::Artifact>, String, bool), RenderError> {
    let redacted = opts.redacted_mode();
    let mut real = Vec::new();
    let mut all_known = true;
    for s in &svc.secret_environment {
        match &s.value {
            Some(v) => real.push((s.name.clone(), v.clone())),
            None => {
                all_known = false;
                if !redacted {
                    missing.push(MissingSecret {
                        variable: s.variable.clone(),
                        env: s.name.clone(),
                        service: svc.name.clone(),
                    });
                }
            }
        }
    }
    if !all_known && !redacted {
        return Ok((None, String::new(), false));
    }
    let placeholder: Vec<(String, String)> = svc
        .secret_environment
        .iter()
        .map(|s| (s.name.clone(), envfile::REDACTED.to_string()))
        .collect();
    let shown = if redacted { &placeholder } else { &real };
    let content = envfile::render(&svc.name, shown)?;
    // The inputs hash must change when a secret changes, yet never let anyone test a guess:
    // it takes the keyed digest of the real content when both are available.
    let (for_inputs, not_final) = match (&opts.digest_key, all_known) {
        (Some(k), true) => {
            let real_text = envfile::render(&svc.name, &real)?;
            (
                format!(
                    "hmac-sha256:{}",
                    digest::hmac_sha256_hex(k, real_text.as_bytes())
                ),
                false,
            )
        }
        _ => (
            format!("sha256:{}", digest::sha256_hex(content.as_bytes())),
            true,
        ),
    };
    let a = b.build(NewArtifact {
        node: node.to_string(),
        remote_path: format!("{dir}/{}.env", svc.name),
        kind: ArtifactKind::EnvFile,
        content,
        sensitive: true,
        compose: Some(c.name.clone()),
        service: Some(svc.name.clone()),
        redacted,
        unknowns: BTreeSet::new(),
    })?;
    Ok((Some(a), for_inputs, not_final))
}

fn service_doc(
    lit: &mut Lit<'_, '_>,
    c: &Compose,
    svc: &Service,
    env_file: Vec<String>,
    mounts: Vec<String>,
) -> Result<ServiceDoc, RenderError> {
    let mut labels = BTreeMap::new();
    for (k, v) in &svc.labels {
        if k.starts_with("dev.sovstack.") {
            return Err(RenderError::ReservedLabel {
                service: svc.name.clone(),
                label: k.clone(),
            });
        }
        labels.insert(k.clone(), lit.s(v));
    }
    labels.insert(LABEL_PROJECT.to_string(), escape_dollars(&c.project));
    labels.insert(LABEL_SERVICE.to_string(), escape_dollars(&svc.name));

    let mut environment = BTreeMap::new();
    for (k, v) in &svc.environment {
        if !envfile::valid_name(k) {
            return Err(RenderError::InvalidEnvName {
                service: svc.name.clone(),
                name: k.clone(),
            });
        }
        environment.insert(k.clone(), lit.s(&v.value));
    }

    let mut volumes: Vec<String> = svc.volumes.iter().map(|v| lit.s(&v.value)).collect();
    volumes.extend(mounts);

    let deploy = svc.gpus.as_ref().map(|g| Deploy {
        resources: Resources {
            reservations: Reservations {
                devices: vec![Device {
                    driver: "nvidia",
                    count: match g.value {
                        Gpus::All => DeviceCount::All("all"),
                        Gpus::Count(n) => DeviceCount::N(n),
                    },
                    capabilities: vec!["gpu"],
                }],
            },
        },
    });

    let depends_on = svc
        .depends_on
        .iter()
        .map(|d| {
            (
                d.service.value.clone(),
                DependsOn {
                    condition: d.condition.as_compose(),
                },
            )
        })
        .collect();

    let logging = c.logging_of(svc).map(|l| logging_doc(lit, l));

    let healthcheck = svc.healthcheck.as_ref().map(|h| HealthcheckDoc {
        test: lit.list(&h.test),
        interval: h.interval.as_deref().map(|x| lit.s(x)),
        timeout: h.timeout.as_deref().map(|x| lit.s(x)),
        retries: h.retries,
        start_period: h.start_period.as_deref().map(|x| lit.s(x)),
    });

    Ok(ServiceDoc {
        image: lit.s(&svc.image.value),
        entrypoint: svc.entrypoint.as_ref().map(|a| lit.list(&a.values())),
        command: svc.command.as_ref().map(|a| lit.list(&a.values())),
        user: svc.user.as_ref().map(|u| lit.s(&u.value)),
        environment,
        env_file,
        ports: svc.ports.iter().map(|p| port_string(&p.value)).collect(),
        volumes,
        deploy,
        runtime: svc.runtime.as_ref().map(|x| lit.s(&x.value)),
        ipc: svc.ipc.as_ref().map(|x| lit.s(&x.value)),
        shm_size: svc.shm_size.as_ref().map(|x| lit.s(&x.value)),
        restart: svc.restart.as_deref().map(|x| lit.s(x)),
        depends_on,
        healthcheck,
        ulimits: svc
            .ulimits
            .iter()
            .map(|u| (u.name.clone(), UlimitDoc::from(&u.value)))
            .collect(),
        mem_limit: svc.mem_limit.as_ref().map(|m| lit.s(&m.value)),
        logging,
        labels,
    })
}

fn logging_doc(lit: &mut Lit<'_, '_>, l: &Logging) -> LoggingDoc {
    LoggingDoc {
        driver: l.driver.as_deref().map(|d| lit.s(d)),
        options: l
            .options
            .iter()
            .map(|(k, v)| (k.clone(), lit.s(v)))
            .collect(),
    }
}

/// sha256 over the service's rendered section (before its own hash label), each mounted file
/// (container path and content hash) and its env file digest. Versioned so a change to this
/// recipe is a deliberate, visible recreate of everything.
fn inputs_hash(section: &str, files: &[(String, String)], env_digest: &str) -> String {
    let mut files: Vec<&(String, String)> = files.iter().collect();
    files.sort();
    let mut buf = String::from("sovstack-inputs-v1\0");
    buf.push_str(section);
    for (p, h) in files {
        buf.push('\0');
        buf.push_str(p);
        buf.push('\0');
        buf.push_str(h);
    }
    buf.push_str("\0env\0");
    buf.push_str(env_digest);
    format!("sha256:{}", digest::sha256_hex(buf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PortRange;

    #[test]
    fn ports_render_in_short_syntax() {
        let p =
            |ip: Option<&str>, pub_: Option<(u16, u16)>, t: (u16, u16), proto: &str| PortMapping {
                host_ip: ip.map(str::to_string),
                published: pub_.map(|(from, to)| PortRange { from, to }),
                target: PortRange { from: t.0, to: t.1 },
                protocol: proto.to_string(),
            };
        assert_eq!(
            port_string(&p(
                Some("127.0.0.1"),
                Some((8000, 8000)),
                (8000, 8000),
                "tcp"
            )),
            "127.0.0.1:8000:8000"
        );
        assert_eq!(
            port_string(&p(None, Some((4317, 4317)), (4317, 4317), "tcp")),
            "4317:4317"
        );
        assert_eq!(
            port_string(&p(Some("::1"), Some((53, 53)), (53, 53), "udp")),
            "[::1]:53:53/udp"
        );
        assert_eq!(
            port_string(&p(None, None, (9000, 9010), "tcp")),
            "9000-9010"
        );
    }

    #[test]
    fn container_paths_cannot_escape_or_break_the_mount_syntax() {
        assert_eq!(
            sanitise_container_path("s", "/etc/x/config.yaml").unwrap(),
            "etc/x/config.yaml"
        );
        for bad in [
            "etc/x",
            "/",
            "/etc/../root",
            "/etc//x",
            "/etc/./x",
            "/a:b",
            "/a,b",
        ] {
            assert!(sanitise_container_path("s", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dollars_are_escaped_for_compose_interpolation() {
        assert_eq!(escape_dollars("a$b ${C} $$"), "a$$b $${C} $$$$");
    }

    #[test]
    fn inputs_hash_depends_on_every_input() {
        let f = vec![("/etc/a".to_string(), "h1".to_string())];
        let base = inputs_hash("image: x\n", &f, "d");
        assert_ne!(base, inputs_hash("image: y\n", &f, "d"));
        assert_ne!(
            base,
            inputs_hash("image: x\n", &[("/etc/a".into(), "h2".into())], "d")
        );
        assert_ne!(base, inputs_hash("image: x\n", &f, "e"));
        assert_eq!(base, inputs_hash("image: x\n", &f, "d"));
    }
}
