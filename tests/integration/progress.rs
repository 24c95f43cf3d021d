//! What a run shows while it runs: the `--json` stream of apply, destroy and validate checked
//! line by line against the schema, the live lines on a real terminal (a pty) during a slow
//! apply, and `version` and `completions`.

use crate::harness::cli::repo_root;
use crate::harness::events;
use crate::harness::sandbox_cli::{self, TOKEN, Workspace, cloud_only, run, text};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use sovstack::sandbox::SandboxConfig;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn apply_and_destroy_json_streams_validate_line_by_line() {
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let ws = Workspace::new(&cloud_only());
    let url = sb.base_url();

    // Without --auto-approve nobody can be asked: one diagnostic line says what to do.
    let out = run(&url, &ws.dir, &["apply", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines = events::stream(&out.stdout);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "diagnostic", "{lines:#?}");
    assert_eq!(last["diagnostic"]["code"], "sovstack::apply::no_terminal");
    assert!(out.stderr.is_empty(), "{}", text(&out));

    let out = run(&url, &ws.dir, &["apply", "--auto-approve", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = events::stream(&out.stdout);
    let types = events::types(&lines);
    for t in [
        "version",
        "plan",
        "planned_change",
        "change_summary",
        "apply_start",
        "apply_progress",
        "apply_complete",
        "outputs",
    ] {
        assert!(types.iter().any(|x| x == t), "no {t} line in {types:?}");
    }
    assert_eq!(types[0], "version");
    let started: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "apply_start")
        .collect();
    let completed = lines.iter().filter(|l| l["type"] == "apply_complete");
    assert_eq!(started.len(), 4, "{types:?}");
    assert_eq!(completed.count(), 4, "{types:?}");
    let server = started
        .iter()
        .find(|l| l["hook"]["resource"]["addr"] == "server.app")
        .expect("server.app started");
    assert_eq!(server["hook"]["action"], "create");
    assert_eq!(server["hook"]["resource"]["resource_type"], "server");
    let summary = &lines[lines.len() - 2];
    assert_eq!(summary["changes"]["operation"], "apply", "{summary:#}");
    assert_eq!(summary["changes"]["add"], 4);
    let outputs = &lines[lines.len() - 1]["outputs"];
    assert!(outputs["app_address"]["value"].is_string(), "{outputs:#}");
    // Progress says what an operation waits for.
    assert!(
        lines.iter().any(|l| l["type"] == "apply_progress"
            && l["hook"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("waiting for")),
        "{lines:#?}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));

    let out = run(&url, &ws.dir, &["destroy", "--auto-approve", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = events::stream(&out.stdout);
    let deletes = lines
        .iter()
        .filter(|l| l["type"] == "apply_complete" && l["hook"]["action"] == "delete")
        .count();
    assert_eq!(deletes, 4, "{lines:#?}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["changes"]["operation"], "destroy", "{summary:#}");
    assert_eq!(summary["changes"]["remove"], 4);
}

#[test]
fn validate_json_points_at_file_line_and_column() {
    let dir = repo_root().join("examples/tutorial-as-written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sovstack"))
        .current_dir(&dir)
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = events::stream(&out.stdout);
    let d = lines
        .iter()
        .find(|l| l["type"] == "diagnostic" && l["diagnostic"]["severity"] == "error")
        .expect("an error diagnostic");
    let range = &d["diagnostic"]["range"];
    assert_eq!(range["filename"], "stack.hcl", "{d:#}");
    assert!(range["start"]["line"].as_u64().unwrap() > 0, "{d:#}");
    let end = lines.last().unwrap();
    assert_eq!(end["type"], "validate_result");
    assert_eq!(end["valid"], false);

    // A plan of an invalid stack ends with the same diagnostics, each pointing at its line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sovstack"))
        .current_dir(&dir)
        .args(["plan", "--json"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let plan_lines = events::stream(&out.stdout);
    assert_eq!(plan_lines[0]["type"], "version");
    let ranges: Vec<&serde_json::Value> = plan_lines
        .iter()
        .filter(|l| l["type"] == "diagnostic")
        .map(|l| &l["diagnostic"]["range"])
        .collect();
    assert!(
        !ranges.is_empty() && ranges.iter().any(|r| r["start"]["line"].is_u64()),
        "{plan_lines:#?}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `sovstack ARGS` in `dir` on a pseudo-terminal of 160 columns against the sandbox at
/// `endpoint`; returns its exit status and every byte it drew.
fn on_a_terminal(endpoint: &str, dir: &Path, args: &[&str]) -> (u32, String) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_sovstack"));
    cmd.args(args);
    cmd.cwd(dir);
    for (k, _) in std::env::vars_os() {
        let k_text = k.to_string_lossy();
        if k_text.starts_with("SOVSTACK_") || k_text.starts_with("OTEL_") || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HCLOUD_ENDPOINT", endpoint);
    cmd.env("HCLOUD_TOKEN", TOKEN);
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd).expect("spawn on the pty");
    drop(pair.slave);
    let drawn = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pair.master.try_clone_reader().expect("a reader");
    let sink = drawn.clone();
    let reading = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EOF or EIO once the child and its slave side are gone.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let status = child.wait().expect("the child ends");
    drop(pair.master);
    reading.join().expect("the reader");
    let bytes = drawn.lock().unwrap().clone();
    (
        status.exit_code(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn a_slow_apply_on_a_terminal_shows_elapsed_times_and_what_it_waits_for() {
    // Every action takes 3 s: the server's create is a wait the live line must show.
    let sb = sandbox_cli::start(SandboxConfig {
        action_duration: Duration::from_secs(3),
        ..SandboxConfig::default()
    })
    .await;
    let ws = Workspace::new(&cloud_only());
    let (url, dir) = (sb.base_url(), ws.dir.clone());
    let (code, drawn) = tokio::task::spawn_blocking(move || {
        on_a_terminal(&url, &dir, &["apply", "--auto-approve"])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{drawn}");
    // The live line of the server: its elapsed time goes up while it waits, and says for what.
    for tick in ["[1s]", "[2s]"] {
        assert!(
            drawn.contains(&format!("creating {tick}")),
            "no `creating {tick}` in {drawn}"
        );
    }
    assert!(drawn.contains("waiting for create_server"), "{drawn}");
    assert!(
        with_percent(&drawn, "create_server ("),
        "the action's progress is shown: {drawn}"
    );
    // Finished lines scroll above, in colour; the summary and the outputs close the run.
    assert!(drawn.contains("\u{1b}[32m✓"), "{drawn}");
    assert!(drawn.contains("server.app: created after"), "{drawn}");
    assert!(drawn.contains("Apply complete: 4 added"), "{drawn}");
    assert!(drawn.contains("app_address = "), "{drawn}");
}

/// Whether `text` has `prefix` followed by `ID) N%`, as an action's progress shows.
fn with_percent(text: &str, prefix: &str) -> bool {
    text.match_indices(prefix).any(|(i, _)| {
        let rest = &text[i + prefix.len()..];
        let Some((id, rest)) = rest.split_once(") ") else {
            return false;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        id.chars().all(|c| c.is_ascii_digit())
            && !digits.is_empty()
            && rest[digits.len()..].starts_with('%')
    })
}

#[test]
fn version_says_commit_date_and_what_is_compiled_in() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sovstack"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let v = run(&["version"]);
    assert!(
        v.starts_with(&format!("sovstack {}\n", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let commit = v
        .lines()
        .find_map(|l| l.strip_prefix("commit: "))
        .expect("a commit line");
    assert!(
        commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{v}"
    );
    assert!(v.contains("opentelemetry export: OTLP/HTTP"), "{v}");
    assert!(v.contains("state backends: local file, postgresql"), "{v}");
    let long = run(&["--version"]);
    assert!(long.contains(&format!("(commit {commit}, ")), "{long}");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sovstack"),
        ("fish", "complete -c sovstack"),
    ] {
        let script = run(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("destroy"), "{shell} completes subcommands");
    }
}
