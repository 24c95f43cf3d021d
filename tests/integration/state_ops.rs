//! State operations that must never touch the world by accident, through the real binary
//! against the API sandbox: `moved` blocks, `state mv`, a renamed stack, saved plans.

use crate::harness::cloud::CloudWorkspace;
use std::collections::BTreeMap;

const KINDS: [&str; 4] = ["servers", "volumes", "firewalls", "ssh_keys"];

/// Every id the sandbox holds, by collection.
async fn world(ws: &CloudWorkspace) -> BTreeMap<&'static str, Vec<u64>> {
    let mut out = BTreeMap::new();
    for k in KINDS {
        out.insert(k, ws.ids(k).await);
    }
    out
}

/// Renames blocks in a stack's text: `server "app"` and every `server.app` reference.
fn rename_blocks(text: String, renames: &[(&str, &str, &str)]) -> String {
    renames.iter().fold(text, |t, (kind, from, to)| {
        t.replace(&format!("{kind} \"{from}\""), &format!("{kind} \"{to}\""))
            .replace(&format!("{kind}.{from}"), &format!("{kind}.{to}"))
    })
}

/// An applied cloud-only workspace and the ids it made.
async fn applied() -> (CloudWorkspace, BTreeMap<&'static str, Vec<u64>>) {
    let ws = CloudWorkspace::start().await;
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let ids = world(&ws).await;
    assert!(ids.values().all(|v| v.len() == 1), "{ids:?}");
    (ws, ids)
}

const EVERY_KIND: [(&str, &str, &str); 4] = [
    ("ssh_key", "admin", "ops"),
    ("server", "app", "web"),
    ("firewall", "app", "edge"),
    ("volume", "data", "store"),
];

#[tokio::test(flavor = "multi_thread")]
async fn moved_blocks_rename_every_kind_and_keep_every_resource() {
    let (ws, before) = applied().await;
    ws.edit_stack(|t| {
        let mut t = rename_blocks(t, &EVERY_KIND);
        for (kind, from, to) in EVERY_KIND {
            t.push_str(&format!(
                "\nmoved {{\n  from = {kind}.{from}\n  to   = {kind}.{to}\n}}\n"
            ));
        }
        t
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(plan.contains("(moved from server.app)"), "{plan}");
    assert!(
        plan.contains("0 to add") && plan.contains("0 to destroy, 4 to move"),
        "{plan}"
    );
    assert!(
        !plan.contains("forces replacement") && !plan.contains("orphan"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(world(&ws).await, before, "no resource was made or deleted");
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
    let list = ws.run(&["state", "list"]).await;
    let list = CloudWorkspace::expect(&list, 0);
    assert!(
        list.contains("server.web") && !list.contains("server.app"),
        "{list}"
    );
    let servers = ws.list("servers").await;
    assert_eq!(servers[0]["labels"]["sovstack.address"], "server.web");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_mv_renames_every_kind_and_keeps_every_resource() {
    let (ws, before) = applied().await;
    // Refused while the old block still exists: the next plan would re-create it.
    let refused = ws.run(&["state", "mv", "server.app", "server.web"]).await;
    let text = CloudWorkspace::expect(&refused, 1);
    assert!(
        text.contains("declares no server.web") || text.contains("still has a block"),
        "{text}"
    );
    ws.edit_stack(|t| rename_blocks(t, &EVERY_KIND));
    for (kind, from, to) in EVERY_KIND {
        let out = ws
            .run(&[
                "state",
                "mv",
                &format!("{kind}.{from}"),
                &format!("{kind}.{to}"),
            ])
            .await;
        CloudWorkspace::expect(&out, 0);
    }
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    assert!(
        plan.contains("0 to add") && plan.contains("0 to destroy"),
        "{plan}"
    );
    assert!(
        !plan.contains("deleted") && !plan.contains("orphan"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(world(&ws).await, before);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_stack_is_refused_untouched_until_rename_stack() {
    let (ws, before) = applied().await;
    let state_before = std::fs::read(ws.state_path()).unwrap();
    ws.edit_stack(|t| t.replace("stack \"cloud-only\"", "stack \"cloud-prod\""));
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["state", "rm", "server.app"],
    ] {
        let text = CloudWorkspace::expect(&ws.run(args).await, 1);
        assert!(
            text.contains("belongs to stack `cloud-only`"),
            "{args:?}: {text}"
        );
        assert!(text.contains("rename-stack"), "{text}");
    }
    assert_eq!(
        std::fs::read(ws.state_path()).unwrap(),
        state_before,
        "state untouched"
    );
    assert_eq!(world(&ws).await, before);
    let out = ws
        .run(&["state", "rename-stack", "cloud-only", "cloud-prod"])
        .await;
    CloudWorkspace::expect(&out, 0);
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    assert!(
        plan.contains("0 to add") && plan.contains("0 to destroy"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(world(&ws).await, before);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
    for s in ws.list("servers").await {
        assert_eq!(s["labels"]["sovstack.stack"], "cloud-prod");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_as_shown_with_its_variables() {
    let ws = CloudWorkspace::start().await;
    let out = ws
        .run(&["plan", "--out", "plan.json", "--var", "image=ubuntu-22.04"])
        .await;
    let planned = CloudWorkspace::expect(&out, 0);
    let show = CloudWorkspace::expect(&ws.run(&["show", "plan.json"]).await, 0);
    assert!(show.contains("This plan is current"), "{show}");
    let shown_plan = show.split("\nThis plan").next().unwrap();
    assert!(
        planned.starts_with(shown_plan.trim_end()),
        "{planned}\n---\n{show}"
    );
    // A changed variable is refused; the plan's own value needs no repeating.
    let changed = ws
        .run(&["apply", "plan.json", "--var", "image=ubuntu-24.04"])
        .await;
    assert!(
        CloudWorkspace::expect(&changed, 1).contains("applied with the values it was made with")
    );
    CloudWorkspace::expect(&ws.run(&["apply", "plan.json"]).await, 0);
    let servers = ws.list("servers").await;
    assert_eq!(servers[0]["image"]["name"], "ubuntu-22.04");
    // Applied once, the plan is stale.
    let again = CloudWorkspace::expect(&ws.run(&["apply", "plan.json"]).await, 1);
    assert!(
        again.contains("state changed since this plan was made"),
        "{again}"
    );
}

#[test]
fn a_just_saved_plan_shows_as_current_for_every_stack_in_the_repository() {
    use crate::harness::cli::{Sovstack, copy_stack_dir, example_dirs, repo_root};
    let mut dirs = vec![repo_root()];
    dirs.extend(example_dirs());
    for src in dirs {
        let tmp = copy_stack_dir(&src);
        let plan = Sovstack::in_dir(tmp.path())
            .args(["plan", "--out", "plan.json"])
            .run();
        let saved = tmp.path().join("plan.json");
        if plan.code == 1 {
            // A stack that does not validate (the tutorial as written) saves nothing.
            assert!(!saved.exists(), "{}: {}", src.display(), plan.stderr);
            continue;
        }
        plan.expect_code(0);
        let show = Sovstack::in_dir(tmp.path())
            .args(["show", "plan.json"])
            .run();
        show.expect_code(0);
        assert!(
            show.stdout.contains("This plan is current"),
            "{}: {}{}",
            src.display(),
            show.stdout,
            show.stderr
        );
        let shown = show.stdout.split("\nThis plan").next().unwrap_or_default();
        assert!(
            plan.stdout.starts_with(shown.trim_end()),
            "{}",
            src.display()
        );
        // One flipped byte in the body is refused.
        let text = std::fs::read_to_string(&saved).unwrap();
        std::fs::write(
            &saved,
            text.replacen("\"add\"", "\"add\" ", 1)
                .replacen(": 1", ": 2", 1),
        )
        .unwrap();
        let edited = Sovstack::in_dir(tmp.path())
            .args(["show", "plan.json"])
            .run();
        assert!(
            edited.stderr.contains("modified after it was saved"),
            "{}",
            edited.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_made_outside_sovstack_are_imported_not_created() {
    use serde_json::json;
    let ws = CloudWorkspace::start().await;
    let key =
        std::fs::read_to_string(crate::harness::cli::repo_root().join("keys/admin.pub")).unwrap();
    let key_id = ws
        .create_directly(
            "ssh_keys",
            "ssh_key",
            json!({"name": "legacy-key", "public_key": key.trim()}),
        )
        .await;
    let server = ws
        .create_directly(
            "servers",
            "server",
            json!({"name": "legacy-app", "server_type": "cx23", "location": "nbg1", "image": "ubuntu-24.04"}),
        )
        .await;
    let volume = ws
        .create_directly(
            "volumes",
            "volume",
            json!({"name": "legacy-data", "size": 20, "location": "nbg1", "format": "ext4"}),
        )
        .await;
    let firewall = ws
        .create_directly(
            "firewalls",
            "firewall",
            json!({"name": "legacy-fw", "rules": []}),
        )
        .await;
    let before = world(&ws).await;
    // One by the command, the rest by blocks.
    let out = ws.run(&["import", "server.app", &server.to_string()]).await;
    CloudWorkspace::expect(&out, 0);
    ws.edit_stack(|mut t| {
        for (to, id) in [
            ("ssh_key.admin", key_id),
            ("volume.data", volume),
            ("firewall.app", firewall),
        ] {
            t.push_str(&format!("\nimport {{\n  to = {to}\n  id = \"{id}\"\n}}\n"));
        }
        t
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    assert!(
        plan.contains(&format!("(imported from id {firewall})")),
        "{plan}"
    );
    assert!(plan.contains("Plan: 3 to import, 0 to add"), "{plan}");
    assert!(
        !plan.contains("will be created") && !plan.contains("forces replacement"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(world(&ws).await, before, "nothing made, nothing deleted");
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
    let servers = ws.list("servers").await;
    assert_eq!(servers[0]["labels"]["sovstack.address"], "server.app");
    assert_eq!(servers[0]["name"], "cloud-only-app");
    // A resource already managed is not imported twice.
    let again = ws.run(&["import", "server.app", &server.to_string()]).await;
    assert!(CloudWorkspace::expect(&again, 1).contains("already in state"));
}

#[tokio::test(flavor = "multi_thread")]
async fn data_blocks_find_what_sovstack_does_not_manage_and_leave_it_alone() {
    use serde_json::json;
    let ws = CloudWorkspace::start().await;
    let team_key = ws
        .create_directly(
            "ssh_keys",
            "ssh_key",
            json!({"name": "team-key", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqP2jeAWUGTdKLqzCn5Jq5fFSx6oB8KfWUbQOB0h2Ts team"}),
        )
        .await;
    let baseline = ws
        .create_directly(
            "firewalls",
            "firewall",
            json!({"name": "baseline", "labels": {"team": "sec"}}),
        )
        .await;
    ws.edit_stack(|t| {
        t.replace(
            "ssh_keys    = [ssh_key.admin]",
            "ssh_keys    = [ssh_key.admin, data.ssh_key.team]",
        ) + r#"
data "ssh_key" "team" {
  name = "team-key"
}

data "firewall" "baseline" {
  labels = { team = "sec" }
}

output "team_key_id" {
  value = data.ssh_key.team.id
}

output "baseline_firewall" {
  value = "${data.firewall.baseline.name}:${data.firewall.baseline.id}"
}
"#
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    assert!(
        plan.contains("\"team-key\""),
        "the server is planned with the found key:\n{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let out = CloudWorkspace::expect(&ws.run(&["output", "team_key_id"]).await, 0);
    assert_eq!(out.trim(), team_key.to_string());
    let out = CloudWorkspace::expect(&ws.run(&["output", "baseline_firewall"]).await, 0);
    assert_eq!(out.trim(), format!("baseline:{baseline}"));
    // Found, never managed: not in state, and still there after destroy.
    let list = CloudWorkspace::expect(&ws.run(&["state", "list"]).await, 0);
    assert!(!list.contains("data."), "{list}");
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
    CloudWorkspace::expect(&ws.run(&["destroy", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("ssh_keys").await, vec![team_key]);
    assert_eq!(ws.ids("firewalls").await, vec![baseline]);
    // A data block that finds nothing stops the plan, naming it.
    ws.edit_stack(|t| t.replace("name = \"team-key\"", "name = \"no-such-key\""));
    let missing = CloudWorkspace::expect(&ws.run(&["plan"]).await, 1);
    assert!(
        missing.contains("data.ssh_key.team") && missing.contains("no ssh_key matches"),
        "{missing}"
    );
}
