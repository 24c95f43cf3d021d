//! `count` and `for_each` through the real binary against the API sandbox: instances are
//! addressed one by one, and taking one away destroys exactly that one.

use crate::harness::cloud::CloudWorkspace;

const KEY: &str = "ssh_key \"admin\" {\n  public_key = file(\"../../keys/admin.pub\")\n}\n";

fn servers(count: usize) -> String {
    format!(
        "stack \"fleet\" {{}}\n{KEY}\nserver \"web\" {{\n  count       = {count}\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.admin]\n  labels = {{\n    slot = \"n${{count.index}}\"\n  }}\n}}\n"
    )
}

/// [`servers`] behind a firewall applied to every instance.
fn servers_behind_a_firewall(count: usize) -> String {
    servers(count)
        + "\nfirewall \"web\" {\n  apply_to = server.web[*]\n  rule {\n    port       = \"22\"\n    source_ips = [\"198.51.100.0/24\"]\n  }\n}\n"
}

fn volumes(keys: &[&str]) -> String {
    let map: String = keys
        .iter()
        .map(|k| format!("    {k} = {{ size = 10 }}\n"))
        .collect();
    format!(
        "stack \"fleet\" {{}}\nvariable \"disks\" {{\n  type = any\n  default = {{\n{map}  }}\n}}\n\nvolume \"data\" {{\n  for_each = var.disks\n  size     = each.value.size\n  location = \"fsn1\"\n}}\n"
    )
}

/// The line of each planned change (`# server.web[2] will be destroyed`).
fn change_lines(plan: &str) -> Vec<&str> {
    plan.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("# ") && l.contains(" will be ") || l.contains(" must be "))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn count_three_to_two_destroys_exactly_the_last_instance() {
    let ws = CloudWorkspace::start().await;
    ws.edit_stack(|_| servers_behind_a_firewall(3));
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
    let before = ws.list("servers").await;
    assert_eq!(
        ws.names("servers").await,
        ["fleet-web-0", "fleet-web-1", "fleet-web-2"]
    );
    ws.edit_stack(|_| servers_behind_a_firewall(2));
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    // The firewall follows in place: it no longer names the destroyed server.
    assert_eq!(
        change_lines(&plan),
        [
            "# firewall.web will be updated in place",
            "# server.web[2] will be destroyed"
        ],
        "{plan}"
    );
    assert!(
        plan.contains("0 to add, 1 to change, 1 to destroy"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let kept: Vec<u64> = ws.ids("servers").await;
    let ids_of = |n: &str| {
        before
            .iter()
            .find(|s| s["name"] == n)
            .and_then(|s| s["id"].as_u64())
            .expect("created")
    };
    let mut expected = [ids_of("fleet-web-0"), ids_of("fleet-web-1")];
    expected.sort_unstable();
    assert_eq!(kept, expected);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_removed_from_for_each_destroys_exactly_its_instance() {
    let ws = CloudWorkspace::start().await;
    ws.edit_stack(|_| volumes(&["a", "b", "c"]));
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(
        ws.names("volumes").await,
        ["fleet-data-a", "fleet-data-b", "fleet-data-c"]
    );
    ws.edit_stack(|_| volumes(&["a", "c"]));
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert_eq!(
        change_lines(&plan),
        ["# volume.data[\"b\"] will be destroyed"],
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.names("volumes").await, ["fleet-data-a", "fleet-data-c"]);
    let list = CloudWorkspace::expect(&ws.run(&["state", "list"]).await, 0);
    assert!(list.contains("volume.data[\"a\"]"), "{list}");
    assert!(!list.contains("volume.data[\"b\"]"), "{list}");
}

/// A single block turned into `for_each` without a `moved` block: the plan says which one
/// keeps the resource; with it, nothing is destroyed.
#[tokio::test(flavor = "multi_thread")]
async fn a_block_turned_into_instances_needs_a_moved_block_and_says_so() {
    let ws = CloudWorkspace::start().await;
    let single =
        "stack \"fleet\" {}\nvolume \"data\" {\n  size     = 10\n  location = \"fsn1\"\n}\n";
    ws.edit_stack(|_| single.to_string());
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let id = ws.ids("volumes").await;
    ws.edit_stack(|_| volumes(&["a"]));
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    // The help may wrap: compare with runs of white space made one.
    let words = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        plan.contains("warning[language::moved-to-instances]")
            && words.contains("moved { from = volume.data to = volume.data[\"a\"] }"),
        "{plan}"
    );
    ws.edit_stack(|t| {
        format!("{t}\nmoved {{\n  from = volume.data\n  to   = volume.data[\"a\"]\n}}\n")
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    assert!(!plan.contains("moved-to-instances"), "{plan}");
    assert!(plan.contains("0 to destroy"), "{plan}");
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("volumes").await, id);
    assert_eq!(ws.names("volumes").await, ["fleet-data-a"]);
}

/// Instances of every shape in one offline plan: `count` servers, `for_each` volumes, a
/// firewall applied to all servers through a splat, an output over every instance.
#[test]
fn plan_text_snapshot_with_instance_addresses() {
    let volumes = r#"
volume "data" {
  for_each = toset(["fsn1-a", "nbg1-b"])
  size     = 10
  location = each.key == "fsn1-a" ? "fsn1" : "nbg1"
}

firewall "web" {
  apply_to = server.web[*]
  rule {
    port       = "22"
    source_ips = ["198.51.100.0/24"]
  }
}

output "ips" {
  value = server.web[*].ipv4_address
}
"#;
    let stack = servers(2).replace("../../keys/admin.pub", "keys/admin.pub") + volumes;
    let ws = crate::harness::sandbox_cli::Workspace::new(&stack);
    let run = crate::harness::cli::Sovstack::in_dir(&ws.dir)
        .args(["plan"])
        .run();
    run.expect_code(0);
    assert_eq!(run.stderr, "", "no warnings");
    insta::assert_snapshot!(run.stdout);
}

/// The fleet example: one host and one instance of the shipped `vllm` module (compose project,
/// files, checks) per key of its map, each project on its own host and waiting for nothing of
/// the others; and one observability host running the shipped `signoz` module.
#[test]
fn the_gex_fleet_example_plans_one_instance_per_machine() {
    let dir = crate::harness::cli::repo_root().join("examples/gex-fleet");
    let run = crate::harness::cli::Sovstack::in_dir(&dir)
        .args(["plan", "--detailed-exitcode"])
        .run();
    run.expect_code(2);
    assert!(run.stdout.contains("Plan: 43 to add"), "{}", run.stdout);
    for address in [
        "host.observability",
        "module.signoz.compose.signoz",
        "module.signoz.file.signoz[\"compose.yaml\"]",
        "module.signoz.check.ui",
    ] {
        assert!(
            run.stdout.contains(&format!("# {address} will be created")),
            "{address}:\n{}",
            run.stdout
        );
    }
    for key in ["gex-a", "gex-b", "gex-c", "gex-d"] {
        for address in [
            format!("host.gpu[\"{key}\"]"),
            format!("module.llm[\"{key}\"].compose.inference"),
            format!("module.llm[\"{key}\"].file.inference[\"compose.yaml\"]"),
            format!("module.llm[\"{key}\"].check.health"),
        ] {
            assert!(
                run.stdout.contains(&format!("# {address} will be created")),
                "{address}:\n{}",
                run.stdout
            );
        }
        assert!(
            run.stdout
                .contains(&format!("node            = \"host.gpu[\\\"{key}\\\"]\"")),
            "{}",
            run.stdout
        );
    }
    let graph = crate::harness::cli::Sovstack::in_dir(&dir)
        .args(["graph"])
        .run();
    graph.expect_code(0);
    let into_a: Vec<&str> = graph
        .stdout
        .lines()
        .filter(|l| l.contains("-> \"module.llm[\\\"gex-a\\\"].compose.inference\""))
        .collect();
    assert_eq!(into_a.len(), 4, "{into_a:?}");
    assert!(into_a.iter().all(|l| l.contains("gex-a")), "{into_a:?}");
}
