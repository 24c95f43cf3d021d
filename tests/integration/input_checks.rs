//! Input that would reach the API, a remote command or the local disk is checked at load time:
//! CIDR blocks of firewall rules, pinned host keys, project directories on a node, and values
//! given with `--var` / `SOVSTACK_VAR_`. Each refusal is a diagnostic at the place it is written,
//! with a help line.

use crate::harness::cli::{Sovstack, copy_stack_dir, repo_root};
use sovstack::config::{Diagnostic, LoadOptions, Loaded, diagnostic, load_str};
use std::path::Path;

const BASE: &str = r#"
stack "inputs" {}

variable "deploy_root" {
  default = "/opt/sovstack"
}

variable "cidrs" {
  type    = list(string)
  default = ["198.51.100.0/24"]
}

host "gpu" {
  address  = "127.0.0.1"
  host_key = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
  location = "fsn1"
}

compose "app" {
  on        = host.gpu
  directory = "${var.deploy_root}/app"

  service "web" {
    image = "nginx:1.27.3"
  }
}

ssh_key "admin" {
  public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt admin"
}

server "app" {
  server_type = "cx23"
  location    = "nbg1"
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.admin]
}

firewall "app" {
  apply_to = [server.app]

  rule {
    port       = "22"
    source_ips = var.cidrs
  }
}
"#;

fn load_with(text: &str, vars: &[(&str, &str)]) -> Loaded {
    let mut opts = LoadOptions::default();
    for (k, v) in vars {
        opts.vars.insert((*k).into(), (*v).into());
    }
    load_str("stack.hcl", text, Path::new("."), &opts)
}

/// The errors with `code`; the stack must have no other error.
fn errors<'a>(loaded: &'a Loaded, code: &str) -> Vec<&'a Diagnostic> {
    let rendered = diagnostic::render(&loaded.diagnostics, &loaded.source);
    let (mine, others): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        loaded.diagnostics.iter().partition(|d| d.code == code);
    assert!(
        others.iter().all(|d| !d.is_error()),
        "unexpected errors:\n{rendered}"
    );
    assert!(!mine.is_empty(), "no {code}:\n{rendered}");
    for d in &mine {
        assert!(d.help.is_some(), "{code} without help:\n{rendered}");
        assert!(d.span.is_some(), "{code} without a place:\n{rendered}");
    }
    mine
}

/// The text a diagnostic points at.
fn at<'a>(loaded: &'a Loaded, d: &Diagnostic) -> &'a str {
    loaded.source.slice(d.span.as_ref().expect("a span"))
}

#[test]
fn the_base_stack_is_clean() {
    let loaded = load_with(BASE, &[]);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{}",
        diagnostic::render(&loaded.diagnostics, &loaded.source)
    );
}

#[test]
fn firewall_cidrs_are_checked_one_by_one() {
    let text = BASE.replace(
        "source_ips = var.cidrs",
        r#"source_ips = ["not-a-cidr", "198.51.100.0/24", "999.1.1.1/99", "10.0.0.1/33", "2001:DB8::/32"]"#,
    );
    let loaded = load_with(&text, &[]);
    let found = errors(&loaded, "language::cidr");
    let pointed: Vec<&str> = found.iter().map(|d| at(&loaded, d)).collect();
    assert_eq!(
        pointed,
        [
            "\"not-a-cidr\"",
            "\"999.1.1.1/99\"",
            "\"10.0.0.1/33\"",
            "\"2001:DB8::/32\""
        ]
    );
    let labels: Vec<&str> = found.iter().filter_map(|d| d.label.as_deref()).collect();
    assert!(labels[2].contains("/0 and /32"), "{labels:?}");
    assert!(labels[3].contains("2001:db8::/32"), "{labels:?}");

    // Through a variable, the finding points at the expression that brought the value in.
    let loaded = load_with(BASE, &[("cidrs", r#"["::/0", "1.2.3.4"]"#)]);
    let found = errors(&loaded, "language::cidr");
    assert_eq!(found.len(), 1);
    assert_eq!(at(&loaded, found[0]), "var.cidrs");
    assert!(
        found[0]
            .label
            .as_deref()
            .unwrap_or("")
            .contains("1.2.3.4/32")
    );
}

#[test]
fn a_host_key_is_a_fingerprint_and_nothing_else() {
    for bad in [
        "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU; touch /tmp/pwned",
        "SHA256:$(reboot)",
        "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt",
    ] {
        let text = BASE.replace("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", bad);
        let loaded = load_with(&text, &[]);
        let found = errors(&loaded, "language::host-key");
        assert_eq!(found.len(), 1, "{bad}");
        assert_eq!(at(&loaded, found[0]), format!("\"{bad}\""));
    }
}

#[test]
fn a_project_directory_never_climbs_or_carries_shell_syntax() {
    for (root, says) in [
        ("/opt/../../etc", "`..`"),
        ("/opt/x; rm -rf /", "`;`"),
        ("/opt/$(id)", "`$`"),
        ("relative/dir", "absolute"),
    ] {
        let loaded = load_with(BASE, &[("deploy_root", root)]);
        let found = errors(&loaded, "language::remote-path");
        assert_eq!(found.len(), 1, "{root}");
        assert_eq!(at(&loaded, found[0]), "\"${var.deploy_root}/app\"");
        assert!(
            found[0].message.contains(says),
            "{root}: {}",
            found[0].message
        );
    }
}

#[test]
fn var_values_are_values_never_expressions() {
    let secret_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(secret_file.path(), "local-secret-content").expect("write");
    let path = secret_file.path().display().to_string();
    for given in [
        format!(r#"[file("{path}")]"#),
        r#"[upper("a")]"#.to_string(),
        "[var.deploy_root]".to_string(),
        r#"["${var.deploy_root}"]"#.to_string(),
        r#"concat(["10.0.0.0/8"])"#.to_string(),
    ] {
        let loaded = load_with(BASE, &[("cidrs", &given)]);
        let found = errors(&loaded, "language::var-value");
        assert_eq!(found.len(), 1, "{given}");
        assert_eq!(at(&loaded, found[0]), "variable \"cidrs\"");
        let shown = diagnostic::render(&loaded.diagnostics, &loaded.source);
        assert!(!shown.contains("local-secret-content"), "{shown}");
    }
    // Literal values of every kind the types take are accepted.
    let loaded = load_with(BASE, &[("cidrs", r#"["10.0.0.0/8", "2001:db8::/32"]"#)]);
    assert!(!loaded.diagnostics.has_errors());
    let stack = loaded.stack.expect("a stack");
    assert_eq!(
        stack.firewalls[0].rules[0].source_ips.value,
        ["10.0.0.0/8", "2001:db8::/32"]
    );
}

/// The same through the binary, from the command line and from the environment: exit 1, the
/// code and help shown, the file never read into the output.
#[test]
fn the_cli_refuses_expressions_from_var_and_the_environment() {
    let dir = copy_stack_dir(&repo_root().join("examples/cloud-only"));
    let expr = r#"[file("/etc/hostname")]"#;
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    for run in [
        Sovstack::in_dir(dir.path())
            .args(["validate", "--var", &format!("admin_cidrs={expr}")])
            .run(),
        Sovstack::in_dir(dir.path())
            .env("SOVSTACK_VAR_admin_cidrs", expr)
            .args(["plan"])
            .run(),
    ] {
        run.expect_code(1);
        assert!(run.stderr.contains("language::var-value"), "{}", run.stderr);
        assert!(run.stderr.contains("never an expression"), "{}", run.stderr);
        let hostname = hostname.trim();
        if !hostname.is_empty() {
            assert!(!run.stdout.contains(hostname) && !run.stderr.contains(hostname));
        }
    }
}

/// A compose project that would give up waiting before anything could start is refused at its
/// `wait_timeout`; a positive one loads.
#[test]
fn a_zero_wait_timeout_is_refused_where_it_is_written() {
    let with = |t: &str| {
        BASE.replace(
            "  directory = \"${var.deploy_root}/app\"\n",
            &format!("  directory = \"${{var.deploy_root}}/app\"\n  wait_timeout = {t}\n"),
        )
    };
    let loaded = load_with(&with("0"), &[]);
    let found = errors(&loaded, "language::wait-timeout");
    assert_eq!(found.len(), 1);
    assert_eq!(at(&loaded, found[0]), "0");
    let loaded = load_with(&with("90"), &[]);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{}",
        diagnostic::render(&loaded.diagnostics, &loaded.source)
    );
}
