//! Rendering the reference stack: every artifact snapshotted, compose files valid against the
//! Compose schema, byte-stable output, secrets only in env files, and inputs hashes that move
//! for exactly the service whose inputs changed.

use sovstack::config::{LoadOptions, Stack, load_str};
use sovstack::render::{
    Artifact, ArtifactKind, HostKeyPair, RenderError, RenderOptions, render_stack, service_hashes,
    write_out,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CANARY: &str = "canary-7f3a9c1e-secret";
/// The ClickHouse password: hex, as the variable asks, and a canary of its own.
const CH_PASSWORD: &str = "c1c0ffee5ca1ab1e0ddba11c1c0ffee5";
const INGEST_IP: &str = "192.0.2.10";
const FAKE_PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAFAKEFAKEFAKE\n-----END OPENSSH PRIVATE KEY-----\n";
const FAKE_PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTests host";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference_text() -> String {
    std::fs::read_to_string(root().join("stack.hcl")).unwrap()
}

fn load_text(text: &str, secret: Option<&str>) -> Stack {
    let mut opts = LoadOptions::default();
    if let Some(s) = secret {
        opts.vars.insert("signoz_jwt_secret".into(), s.into());
        opts.vars
            .insert("clickhouse_password".into(), CH_PASSWORD.into());
    }
    let loaded = load_str("stack.hcl", text, &root(), &opts);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    loaded.stack.expect("stack")
}

fn reference() -> Stack {
    load_text(&reference_text(), Some(CANARY))
}

fn apply_opts() -> RenderOptions {
    RenderOptions::apply(
        BTreeMap::from([("server.observability.ipv4_address".into(), INGEST_IP.into())]),
        b"test-digest-key".to_vec(),
    )
    .with_host_key(
        "observability",
        HostKeyPair {
            ed25519_private: FAKE_PRIVATE.into(),
            ed25519_public: FAKE_PUBLIC.into(),
        },
    )
}

fn render(stack: &Stack) -> Vec<Artifact> {
    render_stack(stack, &apply_opts()).unwrap()
}

fn snapshot_name(a: &Artifact) -> String {
    format!("{}{}", a.node, a.remote_path)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[test]
fn every_artifact_of_the_reference_stack() {
    let artifacts = render(&reference());
    let listing: Vec<String> = artifacts
        .iter()
        .map(|a| {
            format!(
                "{} {} {:?} {:04o} sensitive={}",
                a.node, a.remote_path, a.kind, a.mode, a.sensitive
            )
        })
        .collect();
    insta::assert_snapshot!("render_listing", listing.join("\n"));
    for a in &artifacts {
        assert!(a.is_complete(), "{a:?}");
        let mut text = a.text().to_string();
        for line in FAKE_PRIVATE.lines() {
            text = text.replace(line, "<host private key>");
        }
        insta::assert_snapshot!(snapshot_name(a), text);
    }
}

#[test]
fn compose_files_are_valid_against_the_compose_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/compose/compose-spec.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let artifacts = render(&reference());
    let composes: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::ComposeFile)
        .collect();
    assert_eq!(composes.len(), 2);
    for a in composes {
        let doc: serde_json::Value = serde_saphyr::from_str(a.text()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", a.remote_path);
        assert!(doc.get("version").is_none());
        assert!(doc["name"].is_string());
    }
    // The validator does reject a broken file, so the loop above proves something.
    let broken = serde_json::json!({"services": {"x": {"image": 1, "ports": {}}}});
    assert!(!validator.is_valid(&broken));
}

#[test]
fn rendering_is_byte_stable() {
    let a = render(&reference());
    let b = render(&reference());
    assert_eq!(a, b);
    for x in &a {
        assert_eq!(x.sha256, sovstack::render::digest::sha256_hex(&x.content));
    }
}

#[test]
fn the_secret_appears_only_in_its_env_file() {
    let artifacts = render(&reference());
    let holders: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| a.text().contains(CANARY))
        .collect();
    // (the ClickHouse password is checked below)
    assert_eq!(holders.len(), 1);
    let env = holders[0];
    assert_eq!(env.kind, ArtifactKind::EnvFile);
    assert_eq!(env.remote_path, "/opt/sovstack/signoz/signoz.env");
    assert!(env.sensitive);
    assert_eq!(env.mode, 0o600);
    assert!(
        env.text()
            .contains(&format!("SIGNOZ_TOKENIZER_JWT_SECRET='{CANARY}'"))
    );
    assert!(env.digest.starts_with("hmac-sha256:"));
    assert!(!format!("{env:?}").contains(CANARY));

    // The ClickHouse password: in the env files of ClickHouse and of the three services that log
    // in, nowhere else (the collector's config names the variable, not the value).
    let mut ch_holders: Vec<&str> = artifacts
        .iter()
        .filter(|a| a.text().contains(CH_PASSWORD))
        .map(|a| a.remote_path.as_str())
        .collect();
    ch_holders.sort();
    assert_eq!(
        ch_holders,
        [
            "/opt/sovstack/signoz/clickhouse.env",
            "/opt/sovstack/signoz/schema-migrator.env",
            "/opt/sovstack/signoz/signoz-otel-collector.env",
            "/opt/sovstack/signoz/signoz.env",
        ]
    );
    assert!(
        artifacts
            .iter()
            .filter(|a| a.text().contains(CH_PASSWORD))
            .all(|a| a.kind == ArtifactKind::EnvFile && a.mode == 0o600)
    );

    let dir = tempfile::tempdir().unwrap();
    write_out(&artifacts, dir.path()).unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(!manifest.contains(CANARY));
    // Not even the plain hash of the env file is recorded.
    assert!(!manifest.contains(&env.sha256));
    let compose = artifacts
        .iter()
        .find(|a| a.remote_path == "/opt/sovstack/signoz/compose.yaml")
        .unwrap();
    assert!(
        compose.text().contains("env_file:\n    - signoz.env")
            || compose.text().contains("- signoz.env")
    );
}

fn hashes_of(stack: &Stack) -> BTreeMap<String, String> {
    service_hashes(&render(stack))
        .into_iter()
        .map(|((_, compose, svc), h)| (format!("{}.{svc}", shown(&compose)), h))
        .collect()
}

/// A compose block's name as addresses show it: `module.signoz.compose.signoz`.
fn shown(compose: &str) -> String {
    sovstack::config::instance::block_address("compose", compose)
}

fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    before
        .iter()
        .filter(|(k, v)| after[*k] != **v)
        .map(|(k, _)| k.clone())
        .collect()
}

/// The reference stack with one edit in `file` (`stack.hcl` or a shipped module's file), made
/// in a copy of the stack and its modules.
fn replaced(file: &str, from: &str, to: &str) -> Stack {
    let dir = crate::harness::cli::copy_stack_dir(&root());
    crate::harness::cli::call_copied_modules(dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    let stack = std::fs::read_to_string(dir.path().join("stack.hcl")).unwrap();
    let mut opts = LoadOptions::default();
    opts.vars.insert("signoz_jwt_secret".into(), CANARY.into());
    opts.vars
        .insert("clickhouse_password".into(), CH_PASSWORD.into());
    let loaded = load_str("stack.hcl", &stack, dir.path(), &opts);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    loaded.stack.expect("stack")
}

const SIGNOZ: &str = "modules/signoz/main.hcl";

#[test]
fn one_environment_change_moves_only_that_services_hash() {
    let base = hashes_of(&reference());
    assert_eq!(base.len(), 8);
    let after = hashes_of(&replaced(
        SIGNOZ,
        r#"SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "10m""#,
        r#"SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "11m""#,
    ));
    assert_eq!(
        changed(&base, &after),
        vec!["module.signoz.compose.signoz.schema-migrator"]
    );
}

#[test]
fn a_collector_pipeline_change_moves_only_the_collector_services_hash() {
    let base = hashes_of(&reference());
    let after = hashes_of(&replaced(
        "modules/otel-sidecar/main.hcl",
        r#"    processors = ["memory_limiter", "resource", "batch"]"#,
        r#"    processors = ["memory_limiter", "batch"]"#,
    ));
    assert_eq!(
        changed(&base, &after),
        vec!["module.vllm.compose.inference.otel-collector"]
    );
}

#[test]
fn a_mounted_file_or_secret_change_moves_only_its_service() {
    let base = hashes_of(&reference());
    let after = hashes_of(&replaced(
        SIGNOZ,
        "server_endpoint: ws://signoz:4320/v1/opamp",
        "server_endpoint: ws://signoz:4321/v1/opamp",
    ));
    assert_eq!(
        changed(&base, &after),
        vec!["module.signoz.compose.signoz.signoz-otel-collector"]
    );

    let other_secret = hashes_of(&load_text(&reference_text(), Some("another-secret")));
    assert_eq!(
        changed(&base, &other_secret),
        vec!["module.signoz.compose.signoz.signoz"]
    );
}

#[test]
fn write_out_sets_modes_and_writes_the_manifest() {
    use std::os::unix::fs::PermissionsExt;
    let artifacts = render(&reference());
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_out(&artifacts, dir.path()).unwrap();
    assert_eq!(manifest.artifacts.len(), artifacts.len());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let env = dir
        .path()
        .join("server.observability/opt/sovstack/signoz/signoz.env");
    assert_eq!(mode(&env), 0o600);
    let ci = dir
        .path()
        .join("server.observability/var/lib/cloud/instance/user-data.txt");
    assert_eq!(mode(&ci), 0o600);
    let compose = dir
        .path()
        .join("host.gpu/opt/sovstack/inference/compose.yaml");
    assert_eq!(mode(&compose), 0o644);
    for a in &artifacts {
        let on_disk = std::fs::read(
            dir.path()
                .join(&a.node)
                .join(a.remote_path.trim_start_matches('/')),
        )
        .unwrap();
        assert_eq!(on_disk, a.content);
    }
    let json: sovstack::render::Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(json, manifest);
    assert_eq!(json.services.len(), 8);
    let collector = json
        .services
        .iter()
        .find(|s| s.service == "otel-collector")
        .unwrap();
    assert_eq!(collector.node, "host.gpu");
    assert!(collector.inputs_hash.starts_with("sha256:"));
    let env_entry = json
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::EnvFile && a.remote_path.ends_with("/signoz.env"))
        .unwrap();
    assert_eq!(env_entry.mode, "0600");
    assert!(env_entry.sensitive);
    // Rendering into the same directory again replaces files in place.
    write_out(&artifacts, dir.path()).unwrap();
}

#[test]
fn a_missing_secret_fails_the_apply_render_and_says_how_to_set_it() {
    let stack = load_text(&reference_text(), None);
    let err = render_stack(&stack, &apply_opts()).unwrap_err();
    assert!(matches!(err, RenderError::MissingSecrets(_)));
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("SOVSTACK_VAR_signoz_jwt_secret"), "{help}");
    insta::assert_snapshot!("render_missing_secret", format!("{err}\nhelp: {help}"));
}

#[test]
fn an_unknown_value_fails_the_apply_render() {
    let opts = RenderOptions {
        known: Default::default(),
        ..apply_opts()
    };
    let err = render_stack(&reference(), &opts).unwrap_err();
    let RenderError::Unresolved {
        references,
        artifacts,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        references,
        &vec!["server.observability.ipv4_address".to_string()]
    );
    assert_eq!(
        artifacts,
        &vec![
            "host.gpu:/opt/sovstack/inference/files/otel-collector/etc/otelcol-contrib/config.yaml"
                .to_string(),
            "host.gpu:/opt/sovstack/inference/compose.yaml".to_string(),
        ]
    );
}

#[test]
fn the_redacted_render_needs_no_secret_and_says_what_it_left_out() {
    let stack = load_text(&reference_text(), None);
    let artifacts = render_stack(&stack, &RenderOptions::redacted(BTreeMap::new())).unwrap();
    let env = artifacts
        .iter()
        .find(|a| a.remote_path == "/opt/sovstack/signoz/signoz.env")
        .unwrap();
    assert!(env.redacted && !env.is_complete());
    assert!(
        env.text()
            .contains("SIGNOZ_TOKENIZER_JWT_SECRET='(sensitive)'")
    );
    let ci = artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::CloudInit)
        .unwrap();
    assert!(ci.redacted);
    assert!(ci.text().contains("ed25519_private: (sensitive)"));
    let col = artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::CollectorConfig)
        .unwrap();
    assert_eq!(col.unknowns, vec!["server.observability.ipv4_address"]);
    assert!(
        col.text()
            .contains("endpoint: ${server.observability.ipv4_address}:4317"),
        "{}",
        col.text()
    );
    insta::assert_snapshot!("render_redacted_collector", col.text());

    // With the secret and the digest key at hand, a plan computes the same hashes as apply.
    let full = render(&reference());
    let mut plan_opts = RenderOptions::redacted(apply_opts().known);
    plan_opts.digest_key = apply_opts().digest_key;
    let plan = render_stack(&reference(), &plan_opts).unwrap();
    assert_eq!(service_hashes(&plan), service_hashes(&full));
    assert!(plan.iter().all(|a| !a.text().contains(CANARY)));
}

#[test]
fn cloud_init_carries_the_pinned_host_key_exactly_and_nothing_else_secret() {
    let artifacts = render(&reference());
    let ci = artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::CloudInit)
        .unwrap();
    assert!(ci.text().starts_with("#cloud-config\n"));
    let doc: serde_json::Value = serde_saphyr::from_str(ci.text()).unwrap();
    assert_eq!(doc["ssh_keys"]["ed25519_private"], FAKE_PRIVATE);
    assert_eq!(doc["ssh_keys"]["ed25519_public"], FAKE_PUBLIC);
    assert_eq!(doc["ssh_deletekeys"], true);
    assert_eq!(doc["ssh_genkeytypes"], serde_json::json!([]));
    assert!(ci.sensitive && ci.digest.starts_with("hmac-sha256:"));
    assert!(!ci.text().contains(CANARY));

    let no_key = RenderOptions {
        host_keys: BTreeMap::new(),
        ..apply_opts()
    };
    assert!(matches!(
        render_stack(&reference(), &no_key),
        Err(RenderError::MissingHostKey { server }) if server == "observability"
    ));
    let no_digest_key = RenderOptions {
        digest_key: None,
        ..apply_opts()
    };
    assert!(matches!(
        render_stack(&reference(), &no_digest_key),
        Err(RenderError::MissingDigestKey)
    ));
}

#[test]
fn dollar_signs_reach_the_container_literally() {
    let stack = replaced(
        SIGNOZ,
        r#"SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "10m""#,
        r#"SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "$${HOME}x$y""#,
    );
    let artifacts = render(&stack);
    let compose = artifacts
        .iter()
        .find(|a| a.remote_path == "/opt/sovstack/signoz/compose.yaml")
        .unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(compose.text()).unwrap();
    assert_eq!(
        doc["services"]["schema-migrator"]["environment"]["SIGNOZ_OTEL_COLLECTOR_TIMEOUT"],
        "$${HOME}x$$y"
    );
}

#[test]
fn a_secret_compose_cannot_read_back_is_refused_without_echoing_it() {
    let stack = load_text(&reference_text(), Some("it's-a-secret"));
    let err = render_stack(&stack, &apply_opts()).unwrap_err();
    assert!(matches!(err, RenderError::UnrepresentableEnvValue { .. }));
    assert!(!format!("{err} {err:?}").contains("it's-a-secret"));
}

/// The artifact at `remote_path`.
fn artifact<'a>(artifacts: &'a [Artifact], remote_path: &str) -> &'a Artifact {
    artifacts
        .iter()
        .find(|a| a.remote_path == remote_path)
        .unwrap_or_else(|| panic!("no artifact {remote_path}"))
}

/// The text between `<tag>` (or `<tag ...>`) and `</tag>`, the first such element.
fn element<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = xml
        .find(&format!("<{tag}>"))
        .or_else(|| xml.find(&format!("<{tag} ")))
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{xml}"));
    let body = &xml[open..];
    let start = body.find('>').unwrap() + 1;
    let end = body
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("<{tag}> is not closed in:\n{xml}"));
    &body[start..end]
}

/// What SigNoz, ClickHouse and the collector need to start and keep data, read back from the
/// rendered files of the reference stack (sources: docs/reference/signoz-deployment.md).
#[test]
fn the_signoz_project_renders_what_upstream_needs_to_start() {
    let stack = reference();
    let artifacts = render(&stack);
    let dir = "/opt/sovstack/signoz";
    let compose: serde_json::Value =
        serde_saphyr::from_str(artifact(&artifacts, &format!("{dir}/compose.yaml")).text())
            .unwrap();
    let svc = |name: &str| &compose["services"][name];
    let ch = svc("clickhouse");
    let file = |path: &str| artifact(&artifacts, &format!("{dir}/files/clickhouse{path}")).text();

    // User setup: the entrypoint leaves users alone, users.d admits `signoz` with the password
    // from the env file, `default` only from inside the container.
    assert_eq!(ch["environment"]["CLICKHOUSE_SKIP_USER_SETUP"], "1");
    let users = file("/etc/clickhouse-server/users.d/signoz.xml");
    let signoz_user = element(users, "signoz");
    assert!(signoz_user.contains(r#"<password from_env="CLICKHOUSE_SIGNOZ_PASSWORD"/>"#));
    assert!(element(signoz_user, "networks").contains("<ip>::/0</ip>"));
    let default_nets = element(element(users, "default"), "networks");
    assert!(!default_nets.contains("::/0"), "{default_nets}");
    let env = |service: &str| artifact(&artifacts, &format!("{dir}/{service}.env")).text();
    assert!(env("clickhouse").contains(&format!("CLICKHOUSE_SIGNOZ_PASSWORD='{CH_PASSWORD}'")));
    let dsn = format!("tcp://signoz:{CH_PASSWORD}@clickhouse:9000");
    assert!(
        env("schema-migrator").contains(&format!("SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_DSN='{dsn}'"))
    );
    assert!(env("signoz").contains(&format!("SIGNOZ_TELEMETRYSTORE_CLICKHOUSE_DSN='{dsn}'")));
    let collector = artifact(
        &artifacts,
        &format!("{dir}/files/signoz-otel-collector/etc/otel-collector-config.yaml"),
    )
    .text();
    let col: serde_json::Value = serde_saphyr::from_str(collector).unwrap();
    for (exporter, key) in [
        ("clickhousetraces", "datasource"),
        ("signozclickhousemetrics", "dsn"),
        ("clickhouselogsexporter", "dsn"),
        ("signozclickhousemeter", "dsn"),
        ("metadataexporter", "dsn"),
    ] {
        let dsn = col["exporters"][exporter][key].as_str().unwrap();
        assert!(
            dsn.starts_with("tcp://signoz:${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/"),
            "{exporter}: {dsn}"
        );
    }
    assert!(env("signoz-otel-collector").contains("CLICKHOUSE_SIGNOZ_PASSWORD="));

    // Macros and the cluster the replicated migration runs on.
    let migrator = &svc("schema-migrator")["environment"];
    assert_eq!(
        migrator["SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION"],
        "true"
    );
    let cluster = file("/etc/clickhouse-server/config.d/cluster.xml");
    let macros = element(cluster, "macros");
    assert!(!element(macros, "shard").trim().is_empty());
    assert!(!element(macros, "replica").trim().is_empty());
    let cluster_name = migrator["SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_CLUSTER"]
        .as_str()
        .unwrap();
    let replica = element(
        element(element(cluster, "remote_servers"), cluster_name),
        "replica",
    );
    assert_eq!(element(replica, "user"), "signoz");
    assert!(element(cluster, "zookeeper").contains("<host>zookeeper</host>"));

    // The histogramQuantile function: its config where ClickHouse's default pattern
    // (`*_function.*ml` beside config.xml) finds it, and the pinned, checked binary.
    let function = file("/etc/clickhouse-server/histogram_quantile_function.xml");
    assert_eq!(element(function, "name"), "histogramQuantile");
    assert_eq!(element(function, "type"), "executable");
    assert_eq!(element(function, "command"), "./histogramQuantile");
    let init = svc("init-clickhouse");
    let sha = init["environment"]["HISTOGRAM_QUANTILE_SHA256"]
        .as_str()
        .unwrap();
    assert!(
        sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sha}"
    );
    let url = init["environment"]["HISTOGRAM_QUANTILE_URL"]
        .as_str()
        .unwrap();
    assert!(
        url.contains("histogram-quantile%2Fv0.0.1/"),
        "a pinned release: {url}"
    );
    let script = init["command"][2].as_str().unwrap();
    assert!(script.contains("sha256sum -c"), "{script}");
    assert_eq!(
        ch["depends_on"]["init-clickhouse"]["condition"],
        "service_completed_successfully"
    );
    let mounts = |s: &serde_json::Value| -> Vec<String> {
        s["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        mounts(init).contains(&"clickhouse-user-scripts:/var/lib/clickhouse/user_scripts".into())
    );
    assert!(
        mounts(ch).contains(&"clickhouse-user-scripts:/var/lib/clickhouse/user_scripts:ro".into())
    );

    // ClickHouse's data is bound from the attached Hetzner volume's mount path.
    let volume = stack
        .volumes
        .iter()
        .find(|v| v.name == "clickhouse")
        .unwrap();
    assert_eq!(volume.server.as_ref().unwrap().value, "observability");
    let mount_path = &volume.mount_path.as_ref().unwrap().value;
    let data = mounts(ch)
        .into_iter()
        .find(|m| m.ends_with(":/var/lib/clickhouse"))
        .unwrap();
    assert!(data.starts_with(&format!("{mount_path}/")), "{data}");
    assert!(
        !volume.automount,
        "Hetzner's own mount would mount it a second time"
    );

    // Open files for ClickHouse, as upstream sets them.
    assert_eq!(ch["ulimits"]["nofile"]["soft"], 262144);
    assert_eq!(ch["ulimits"]["nofile"]["hard"], 262144);

    // Every service of both projects has its output capped.
    for node_compose in [
        "/opt/sovstack/signoz/compose.yaml",
        "/opt/sovstack/inference/compose.yaml",
    ] {
        let doc: serde_json::Value =
            serde_saphyr::from_str(artifact(&artifacts, node_compose).text()).unwrap();
        for (name, s) in doc["services"].as_object().unwrap() {
            assert!(
                s["logging"]["options"]["max-size"].is_string(),
                "{name} has no log cap"
            );
        }
    }

    // System logs expire; SigNoz's collector takes OTLP/HTTP and makes span metrics.
    let logs = file("/etc/clickhouse-server/config.d/logs.xml");
    assert!(element(element(logs, "query_log"), "ttl").contains("INTERVAL"));
    assert_eq!(
        col["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        "0.0.0.0:4318"
    );
    assert!(
        col["service"]["pipelines"]["traces"]["processors"]
            .as_array()
            .unwrap()
            .contains(&"signozspanmetrics/delta".into())
    );
    let ports = svc("signoz-otel-collector")["ports"].as_array().unwrap();
    assert!(ports.contains(&"4318:4318".into()));
    assert!(
        svc("signoz-otel-collector")["environment"]["LOW_CARDINAL_EXCEPTION_GROUPING"].is_null()
    );
}
