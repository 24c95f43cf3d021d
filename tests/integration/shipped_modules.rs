//! The modules that ship with sovstack (`modules/`, embedded in the binary), each called as
//! `sovstack/<name>` with only the inputs it requires from a throwaway stack, through the real
//! binary: the stack validates without a
//! finding, renders, and one module's output reaches another module's input. Secrets given to a
//! module input stay secret: only in the 0600 env files of the services that need them, shown
//! as `(sensitive)` in the plan, never in the saved plan or anything under `.sovstack/`; and a
//! literal given where a module wants a secret is refused.
//!
//! (The reference stack, which calls `otel-sidecar`, `vllm` and `signoz`, is rendered and
//! checked against upstream's facts in `render.rs` and applied in `stack_e2e.rs`;
//! `examples/tempo`, which calls `vllm` and `tempo`, in `compose_v2.rs` and `cli.rs`.)

use crate::harness::cli::{Run, Sovstack, repo_root};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const JWT: &str = "jwt-canary-4d1f0a7c-module-input";
const CH_PASSWORD: &str = "5eed5eed5eed5eed5eed5eed5eed5eed";
const GRAFANA: &str = "grafana-canary-0b7e2f19-module-input";

/// A GPU host and an observability host (hosts, so every address is known and the render is
/// complete), SigNoz on one, vLLM with the sidecar on the other exporting to SigNoz's output.
const SIGNOZ_AND_VLLM: &str = r#"stack "shipped" {}

variable "jwt" {
  type      = string
  sensitive = true
}

variable "ch" {
  type      = string
  sensitive = true
}

host "gpu" {
  address  = "192.0.2.21"
  host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2E"
  location = "fsn1"
  gpus     = 1
}

host "obs" {
  address  = "192.0.2.31"
  host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2I"
  location = "fsn1"
}

module "signoz" {
  source              = "sovstack/signoz"
  on                  = host.obs
  clickhouse_data     = "/srv/clickhouse"
  jwt_secret          = var.jwt
  clickhouse_password = var.ch
}

locals {
  ingest  = module.signoz.otlp_grpc_endpoint
  sidecar = module.sidecar.collector
}

module "sidecar" {
  source   = "sovstack/otel-sidecar"
  endpoint = local.ingest
}

module "vllm" {
  source    = "sovstack/vllm"
  on        = host.gpu
  collector = local.sidecar
}
"#;

const TEMPO: &str = r#"stack "shipped-tempo" {}

variable "grafana" {
  type      = string
  sensitive = true
}

host "obs" {
  address  = "192.0.2.41"
  host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2M"
  location = "fsn1"
}

module "tempo" {
  source                 = "sovstack/tempo"
  on                     = host.obs
  grafana_admin_password = var.grafana
}
"#;

/// Every file of the shipped modules.
pub fn module_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(repo_root().join("modules")).expect("modules/") {
        let dir = dir.expect("entry").path();
        for f in std::fs::read_dir(&dir).expect("a module directory") {
            out.push(f.expect("entry").path());
        }
    }
    out.sort();
    out
}

/// A directory with `stack`, which calls the modules the binary carries.
fn workspace(stack: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("stack.hcl"), stack).expect("stack.hcl");
    dir
}

fn sovstack(dir: &Path, args: &[&str]) -> Run {
    Sovstack::in_dir(dir)
        .env("SOVSTACK_VAR_jwt", JWT)
        .env("SOVSTACK_VAR_ch", CH_PASSWORD)
        .env("SOVSTACK_VAR_grafana", GRAFANA)
        .args(args)
        .run()
}

/// `render --out`: the files written, by path under the output directory.
fn rendered(dir: &Path) -> (tempfile::TempDir, Vec<(String, String, u32)>) {
    let out = tempfile::tempdir().expect("temp dir");
    sovstack(dir, &["render", "--out", &out.path().display().to_string()]).expect_code(0);
    let mut files = Vec::new();
    walk(out.path(), out.path(), &mut files);
    files.sort();
    (out, files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String, u32)>) {
    for e in std::fs::read_dir(dir).expect("readable") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let mode = std::fs::metadata(&p)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777;
            out.push((rel, std::fs::read_to_string(&p).expect("text"), mode));
        }
    }
}

fn holders<'a>(files: &'a [(String, String, u32)], secret: &str) -> Vec<(&'a str, u32)> {
    files
        .iter()
        .filter(|(_, text, _)| text.contains(secret))
        .map(|(p, _, m)| (p.as_str(), *m))
        .collect()
}

#[test]
fn the_shipped_modules_hold_only_hcl_files_and_a_readme() {
    let names: Vec<String> = module_files()
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(repo_root().join("modules")).unwrap();
            rel.display().to_string()
        })
        .collect();
    for name in &names {
        assert!(
            name.ends_with(".hcl") || name.ends_with("/README.md"),
            "{name}: a shipped module holds .hcl files and its README.md only"
        );
    }
    for module in ["otel-sidecar", "signoz", "tempo", "vllm"] {
        assert!(
            names.contains(&format!("{module}/README.md")),
            "{module} has no README.md: {names:?}"
        );
    }
}

#[test]
fn signoz_sidecar_and_vllm_with_minimal_inputs_validate_and_render() {
    let ws = workspace(SIGNOZ_AND_VLLM);
    let run = sovstack(ws.path(), &["validate"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "stack.hcl: valid\n");
    let (_out, files) = rendered(ws.path());
    let paths: Vec<&str> = files.iter().map(|(p, _, _)| p.as_str()).collect();
    for want in [
        "host.gpu/opt/sovstack/inference/compose.yaml",
        "host.gpu/opt/sovstack/inference/files/otel-collector/etc/otelcol-contrib/config.yaml",
        "host.obs/opt/sovstack/signoz/compose.yaml",
        "host.obs/opt/sovstack/signoz/files/signoz-otel-collector/etc/otel-collector-config.yaml",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:#?}");
    }
    // SigNoz's output reached the sidecar's exporter through the sidecar's input.
    let config = &files
        .iter()
        .find(|(p, _, _)| p.ends_with("otelcol-contrib/config.yaml"))
        .unwrap()
        .1;
    assert!(config.contains("endpoint: 192.0.2.31:4317"), "{config}");
    // The ClickHouse data directory given as input is what ClickHouse's data is bound from.
    let compose = &files
        .iter()
        .find(|(p, _, _)| p == "host.obs/opt/sovstack/signoz/compose.yaml")
        .unwrap()
        .1;
    assert!(
        compose.contains("- /srv/clickhouse:/var/lib/clickhouse\n"),
        "{compose}"
    );

    // The secrets given as module inputs: only in the env files of the services that use
    // them, mode 0600.
    let env = |s: &str| (format!("host.obs/opt/sovstack/signoz/{s}.env"), 0o600);
    let owned = |v: &[(String, u32)]| v.to_vec();
    let found = |secret| {
        holders(&files, secret)
            .into_iter()
            .map(|(p, m)| (p.to_string(), m))
            .collect::<Vec<_>>()
    };
    assert_eq!(found(JWT), owned(&[env("signoz")]));
    assert_eq!(
        found(CH_PASSWORD),
        owned(&[
            env("clickhouse"),
            env("schema-migrator"),
            env("signoz-otel-collector"),
            env("signoz"),
        ])
    );
}

#[test]
fn secrets_given_to_a_module_stay_out_of_plans_and_state() {
    let ws = workspace(SIGNOZ_AND_VLLM);
    let plan = sovstack(ws.path(), &["plan", "--out", "plan.json"]);
    plan.expect_code(0);
    let env_plan: Vec<&str> = plan
        .stdout
        .lines()
        .skip_while(|l| !l.contains(r#"module.signoz.file.signoz["signoz.env"] {"#))
        .take(3)
        .collect();
    assert!(
        env_plan.iter().any(|l| l.contains("content = (sensitive)")),
        "{}",
        plan.stdout
    );
    let mut everything = vec![plan.stdout.clone(), plan.stderr.clone()];
    let mut saved = Vec::new();
    walk(ws.path(), ws.path(), &mut saved);
    for (path, text, _) in &saved {
        everything.push(format!("{path}: {text}"));
    }
    assert!(saved.iter().any(|(p, _, _)| p == "plan.json"));
    for text in everything {
        for secret in [JWT, CH_PASSWORD] {
            assert!(!text.contains(secret), "{secret} in: {text}");
        }
    }
}

#[test]
fn a_literal_given_where_a_module_wants_a_secret_is_refused() {
    let ws = workspace(&SIGNOZ_AND_VLLM.replace(
        "jwt_secret          = var.jwt",
        "jwt_secret          = \"written-into-the-stack\"",
    ));
    let run = sovstack(ws.path(), &["validate"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("`secret_environment.SIGNOZ_TOKENIZER_JWT_SECRET` does not come from a sensitive variable"),
        "{}",
        run.stderr
    );
}

#[test]
fn tempo_with_minimal_inputs_validates_and_renders() {
    let ws = workspace(TEMPO);
    let run = sovstack(ws.path(), &["validate"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "stack.hcl: valid\n");
    let (_out, files) = rendered(ws.path());
    let tempo = &files
        .iter()
        .find(|(p, _, _)| p == "host.obs/opt/sovstack/tracing/files/tempo/etc/tempo.yaml")
        .expect("tempo.yaml")
        .1;
    assert!(tempo.contains("block_retention: 720h"), "{tempo}");
    assert_eq!(
        holders(&files, GRAFANA),
        [("host.obs/opt/sovstack/tracing/grafana.env", 0o600)]
    );
}

/// Each module's compose project waits for every file of its own (their addresses are the
/// module's: `module.vllm.file.inference[...]`), so `compose up` never runs before the upload.
#[test]
fn a_modules_compose_project_depends_on_its_files() {
    let ws = workspace(SIGNOZ_AND_VLLM);
    let run = sovstack(ws.path(), &["plan", "--json"]);
    run.expect_code(0);
    let lines = crate::harness::events::stream(run.stdout.as_bytes());
    let plan = crate::harness::events::document(&lines, "plan", "plan");
    let changes = plan["changes"].as_array().expect("changes");
    let addresses = |prefix: &str| -> Vec<String> {
        changes
            .iter()
            .filter_map(|c| c["address"].as_str())
            .filter(|a| a.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    for (compose, files) in [
        (
            "module.vllm.compose.inference",
            "module.vllm.file.inference[",
        ),
        ("module.signoz.compose.signoz", "module.signoz.file.signoz["),
    ] {
        let change = changes
            .iter()
            .find(|c| c["address"] == compose)
            .unwrap_or_else(|| panic!("no {compose}"));
        let depends: Vec<String> = change["depends_on"]
            .as_array()
            .expect("depends_on")
            .iter()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect();
        let files = addresses(files);
        assert!(!files.is_empty(), "{compose}");
        for f in files {
            assert!(
                depends.contains(&f),
                "{compose} does not wait for {f}: {depends:?}"
            );
        }
    }
}
