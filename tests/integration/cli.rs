//! The real binary end to end: `validate`, `fmt` and `render` on the checked-in stacks, exit codes
//! and what reaches stdout and stderr.

use crate::harness::cli::{Sovstack, copy_stack_dir, example_dirs, repo_root};
use std::path::Path;

const TUTORIAL: &str = "tutorial-as-written";
/// A 32-byte state key for the child process; render must not create a key file in the repo.
const STATE_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The reference stack and every example but the tutorial, which is wrong on purpose.
fn clean_stack_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs = vec![repo_root()];
    dirs.extend(
        example_dirs()
            .into_iter()
            .filter(|d| !d.ends_with(TUTORIAL)),
    );
    dirs
}

#[test]
fn the_examples_directory_is_listed_not_hard_coded() {
    let names: Vec<String> = example_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&TUTORIAL.to_string()), "{names:?}");
    assert!(names.len() >= 4, "{names:?}");
}

#[test]
fn every_checked_in_stack_but_the_tutorial_validates_without_findings() {
    for dir in clean_stack_dirs() {
        let run = Sovstack::in_dir(&dir).args(["validate"]).run();
        run.expect_code(0);
        assert_eq!(
            run.stderr,
            "stack.hcl: valid\n",
            "{} must validate with no warnings",
            dir.display()
        );
        assert_eq!(run.stdout, "", "{}", dir.display());
    }
}

#[test]
fn the_tutorial_as_written_fails_with_located_diagnostics() {
    let dir = repo_root().join("examples").join(TUTORIAL);
    let run = Sovstack::in_dir(&dir).args(["validate"]).run();
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    // Every finding starts with `file:line:col: severity[code]` and shows the source line.
    let headers: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("stack.hcl:") && l.contains('['))
        .collect();
    let mut distinct = std::collections::BTreeSet::new();
    for h in &headers {
        let mut parts = h.splitn(4, ':');
        let (_, line, col) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        assert!(
            line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
            "not file:line:col: {h}"
        );
        distinct.insert((line.to_string(), col.to_string(), h.to_string()));
    }
    assert!(
        distinct.len() >= 15,
        "expected at least 15 distinct findings, got {}:\n{}",
        distinct.len(),
        run.stderr
    );
    assert!(run.stderr.contains(" │ "), "source lines are shown");
    let summary = run.stderr.lines().last().unwrap_or("");
    let errors: u32 = summary
        .strip_prefix("stack.hcl: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line: {summary}"));
    assert!(errors > 0, "{summary}");
    insta::assert_snapshot!("cli_tutorial_validate_stderr", run.stderr);
}

#[test]
fn every_checked_in_stack_is_formatted() {
    for dir in clean_stack_dirs()
        .into_iter()
        .chain([repo_root().join("examples").join(TUTORIAL)])
    {
        let run = Sovstack::in_dir(&dir).args(["fmt", "--check"]).run();
        run.expect_code(0);
        assert_eq!(run.stdout, "", "{} is not formatted", dir.display());
    }
    // The modules that ship with sovstack, file by file.
    for file in crate::shipped_modules::module_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "hcl"))
    {
        let run = Sovstack::in_dir(&repo_root())
            .args(["fmt", "--check", "--stack"])
            .args([&file])
            .run();
        run.expect_code(0);
        assert_eq!(run.stdout, "", "{} is not formatted", file.display());
    }
}

/// The reference stack with its layout destroyed: no indentation, no alignment around `=` on
/// one-line attributes, extra blank lines; comments and heredoc bodies are left as they are.
fn mess_up(formatted: &str) -> String {
    let mut out = Vec::new();
    let mut heredoc: Option<String> = None;
    for line in formatted.lines() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            out.push(line.to_string());
            continue;
        }
        let t = line.trim_start();
        if let Some((_, marker)) = t.rsplit_once("<<") {
            heredoc = Some(marker.trim_start_matches('-').trim().to_string());
        }
        let opens_multiline = t.ends_with('{') || t.ends_with('[') || heredoc.is_some();
        let t = match t.split_once('=') {
            Some((name, value))
                if !t.starts_with('#')
                    && !opens_multiline
                    && !name.trim().contains(' ')
                    && !name.contains('"') =>
            {
                format!("{}={}", name.trim_end(), value.trim_start())
            }
            _ => t.to_string(),
        };
        if t.is_empty() {
            // A blank line becomes three.
            out.extend([String::new(), String::new(), String::new()]);
        } else {
            out.push(format!("\t{t}"));
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn fmt_rewrites_a_messy_stack_back_to_canonical_and_keeps_comments() {
    let original = std::fs::read_to_string(repo_root().join("stack.hcl")).unwrap();
    let messy = mess_up(&original);
    assert_ne!(messy, original);
    let tmp = copy_stack_dir(&repo_root());
    let path = tmp.path().join("stack.hcl");
    std::fs::write(&path, &messy).unwrap();

    // --check reports the file and leaves it alone.
    let check = Sovstack::in_dir(tmp.path()).args(["fmt", "--check"]).run();
    check.expect_code(1);
    assert_eq!(check.stdout, "stack.hcl\n");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), messy);

    let run = Sovstack::in_dir(tmp.path()).args(["fmt"]).run();
    run.expect_code(0);
    assert_eq!(run.stdout, "stack.hcl\n");
    let formatted = std::fs::read_to_string(&path).unwrap();
    for comment in messy.lines().map(str::trim).filter(|l| l.starts_with('#')) {
        assert!(formatted.contains(comment), "comment lost: {comment}");
    }
    assert_eq!(
        formatted, original,
        "fmt must restore the canonical layout exactly"
    );

    let again = Sovstack::in_dir(tmp.path()).args(["fmt", "--check"]).run();
    again.expect_code(0);
    assert_eq!(again.stdout, "");
    // The formatted copy is still the same stack.
    Sovstack::in_dir(tmp.path())
        .args(["validate"])
        .run()
        .expect_code(0);
}

#[test]
fn render_without_redacted_names_what_only_apply_knows() {
    let out = tempfile::tempdir().unwrap();
    let run = Sovstack::in_dir(&repo_root())
        .args(["render", "--out"])
        .args([out.path().join("r")])
        .env(
            "SOVSTACK_VAR_signoz_jwt_secret",
            "a-long-random-test-secret",
        )
        .env(
            "SOVSTACK_VAR_clickhouse_password",
            "0123456789abcdef0123456789abcdef",
        )
        .env("SOVSTACK_STATE_KEY", STATE_KEY)
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("server.observability.ipv4_address"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("known only after"), "{}", run.stderr);
    assert!(run.stderr.contains("--redacted"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("a-long-random-test-secret"),
        "a secret reached stderr"
    );
    assert!(
        !out.path().join("r").join("manifest.json").exists(),
        "nothing is written when the render fails"
    );
}

#[test]
fn render_without_a_secret_says_which_variable_to_set() {
    let out = tempfile::tempdir().unwrap();
    let run = Sovstack::in_dir(&repo_root())
        .args(["render", "--out"])
        .args([out.path().join("r")])
        .env("SOVSTACK_STATE_KEY", STATE_KEY)
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("SOVSTACK_VAR_signoz_jwt_secret"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--redacted"), "{}", run.stderr);
}

fn read_tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_redacted_writes_the_tree_and_manifest() {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("r");
    let run = Sovstack::in_dir(&repo_root())
        .args(["render", "--redacted", "--out"])
        .args([&dir])
        .env(
            "SOVSTACK_VAR_signoz_jwt_secret",
            "a-long-random-test-secret",
        )
        .env("SOVSTACK_STATE_KEY", STATE_KEY)
        .run();
    run.expect_code(0);
    assert!(run.stdout.contains("with placeholders"), "{}", run.stdout);

    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let artifacts = manifest["artifacts"].as_array().unwrap();
    let mut listed: Vec<String> = artifacts
        .iter()
        .map(|a| a["file"].as_str().unwrap().to_string())
        .collect();
    listed.push("manifest.json".into());
    listed.sort();
    assert_eq!(read_tree(&dir), listed, "the tree is exactly the manifest");

    for a in artifacts {
        let file = dir.join(a["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        assert!(
            !content.contains("a-long-random-test-secret"),
            "{} holds the secret",
            file.display()
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(format!("{mode:04o}"), a["mode"].as_str().unwrap());
        assert_eq!(
            format!(
                "{}/{}",
                a["node"].as_str().unwrap(),
                a["remote_path"].as_str().unwrap().trim_start_matches('/')
            ),
            a["file"].as_str().unwrap()
        );
        if a["sensitive"] == true {
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let digest = a["digest"].as_str().unwrap();
        if let Some(hex) = digest.strip_prefix("sha256:") {
            use sha2::Digest;
            assert_eq!(hex, hex::encode(sha2::Sha256::digest(&bytes)));
        }
    }
    // Placeholders are marked: the env file holds no secret and is not deployable.
    let env = artifacts
        .iter()
        .find(|a| a["kind"] == "env_file")
        .expect("an env file");
    assert_eq!(env["complete"], false);
    let cloud_init = artifacts
        .iter()
        .find(|a| a["kind"] == "cloud_init")
        .expect("cloud-init");
    assert_eq!(cloud_init["complete"], false);
    insta::assert_snapshot!("cli_render_redacted_manifest", text);

    // A second render into the same directory is an update, not a refusal.
    Sovstack::in_dir(&repo_root())
        .args(["render", "--redacted", "--out"])
        .args([&dir])
        .run()
        .expect_code(0);
    assert_eq!(read_tree(&dir), listed);
}

#[test]
fn render_of_a_host_only_stack_is_complete_and_creates_no_state_key() {
    let src = repo_root().join("examples").join("gex44-host");
    let work = copy_stack_dir(&src);
    let out = tempfile::tempdir().unwrap();
    let run = Sovstack::in_dir(work.path())
        .args(["render", "--out"])
        .args([out.path()])
        .run();
    run.expect_code(0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert!(!artifacts.is_empty());
    assert!(artifacts.iter().all(|a| a["complete"] == true));
    assert!(
        !work.path().join(".sovstack").exists(),
        "no secret-bearing artifact, so no state key is needed"
    );
}

#[test]
fn render_refuses_a_directory_it_did_not_write() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let run = Sovstack::in_dir(&repo_root())
        .args(["render", "--redacted", "--out"])
        .args([out.path()])
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("manifest.json"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(out.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn render_refuses_a_stack_with_errors() {
    let dir = repo_root().join("examples").join(TUTORIAL);
    let out = tempfile::tempdir().unwrap();
    let run = Sovstack::in_dir(&dir)
        .args(["render", "--redacted", "--out"])
        .args([out.path().join("r")])
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("not rendering"), "{}", run.stderr);
    assert!(!out.path().join("r").exists());
}

#[test]
fn a_var_without_a_value_is_refused() {
    let run = Sovstack::in_dir(&repo_root())
        .args(["validate", "--var", "admin_cidrs"])
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("NAME=VALUE"), "{}", run.stderr);
}

#[test]
fn a_var_of_the_wrong_type_is_located() {
    let run = Sovstack::in_dir(&repo_root())
        .args(["validate", "--var", "admin_cidrs=not-a-list"])
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("variable `admin_cidrs` from --var"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("list(string)"), "{}", run.stderr);
}

#[test]
fn a_missing_stack_file_says_how_to_point_at_one() {
    let empty = tempfile::tempdir().unwrap();
    let run = Sovstack::in_dir(empty.path()).args(["validate"]).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("cannot read stack.hcl"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--stack FILE"), "{}", run.stderr);

    let run = Sovstack::in_dir(&repo_root())
        .args(["--stack", "nope.hcl", "fmt", "--check"])
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("nope.hcl"), "{}", run.stderr);
}

#[test]
fn a_missing_directory_is_an_error() {
    let run = Sovstack::in_dir(Path::new("/nonexistent/sovstack-test"))
        .args(["validate"])
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("cannot change to"), "{}", run.stderr);
}
