//! Variable files through the real binary: found beside the stack, named with `--var-file`,
//! and their place between defaults, the environment and `--var`.

use crate::harness::cli::Sovstack;
use crate::harness::sandbox_cli::{Workspace, cloud_only};

/// The image the offline plan would create the server with.
fn planned_image(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = Sovstack::in_dir(&ws.dir).args(["plan"]).args(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.run();
    run.expect_code(0);
    let image = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("+ image"))
        .map(|rest| {
            rest.trim_start_matches([' ', '='])
                .trim_matches('"')
                .to_string()
        })
        .unwrap_or_else(|| panic!("no image in the plan:\n{}", run.stdout));
    (image, run.stderr)
}

#[test]
fn files_override_the_default_and_are_overridden_by_the_environment_and_var() {
    let ws = Workspace::new(&cloud_only());
    std::fs::write(ws.dir.join("sovstack.vars.hcl"), "image = \"debian-12\"\n").unwrap();
    assert_eq!(planned_image(&ws, &[], &[]).0, "debian-12");
    std::fs::write(ws.dir.join("z.auto.vars.hcl"), "image = \"debian-13\"\n").unwrap();
    assert_eq!(planned_image(&ws, &[], &[]).0, "debian-13");
    std::fs::write(ws.dir.join("prod.hcl"), "image = \"ubuntu-22.04\"\n").unwrap();
    let named = ["--var-file", "prod.hcl"];
    assert_eq!(planned_image(&ws, &named, &[]).0, "ubuntu-22.04");
    let env = [("SOVSTACK_VAR_image", "rocky-9")];
    assert_eq!(planned_image(&ws, &named, &env).0, "rocky-9");
    let cli = ["--var-file", "prod.hcl", "--var", "image=alma-9"];
    assert_eq!(planned_image(&ws, &cli, &env).0, "alma-9");
}

#[test]
fn an_undeclared_variable_in_a_file_warns_with_its_line_and_a_suggestion() {
    let ws = Workspace::new(&cloud_only());
    std::fs::write(
        ws.dir.join("prod.hcl"),
        "image = \"debian-12\"\nimgae = \"debian-13\"\n",
    )
    .unwrap();
    let (image, stderr) = planned_image(&ws, &["--var-file", "prod.hcl"], &[]);
    assert_eq!(image, "debian-12");
    assert!(
        stderr.contains("prod.hcl:2:1: warning[language::undeclared-variable]"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `image`?"), "{stderr}");
}

#[test]
fn a_missing_var_file_stops_the_command() {
    let ws = Workspace::new(&cloud_only());
    let run = Sovstack::in_dir(&ws.dir)
        .args(["validate", "--var-file", "nope.hcl"])
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("cannot read nope.hcl"),
        "{}",
        run.stderr
    );
}

/// A saved plan keeps the values variable files gave: a file edited after the plan was made
/// does not change what `apply FILE` does.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_the_values_its_var_files_gave() {
    use crate::harness::cloud::CloudWorkspace;
    let ws = CloudWorkspace::start().await;
    let file = ws.dir.join("sovstack.vars.hcl");
    std::fs::write(&file, "image = \"ubuntu-22.04\"\n").unwrap();
    CloudWorkspace::expect(&ws.run(&["plan", "--out", "plan.json"]).await, 0);
    std::fs::write(&file, "image = \"debian-12\"\n").unwrap();
    CloudWorkspace::expect(&ws.run(&["apply", "plan.json"]).await, 0);
    let servers = ws.list("servers").await;
    assert_eq!(servers[0]["image"]["name"], "ubuntu-22.04");
}
