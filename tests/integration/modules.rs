//! A stack with a local module through the real binary against the API sandbox: the module's
//! server is created under `module.web.server.app` with its own provider-side name, its
//! output flows into a block of the stack, and a server moves into the module by a `moved`
//! block without being re-created.

use crate::harness::cloud::CloudWorkspace;

/// The module: one server sized by an input, its address as an output.
const MODULE: &str = "variable \"size\" {\n  type = string\n}\n\nserver \"app\" {\n  server_type = var.size\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n}\n\noutput \"address\" {\n  value = server.app.ipv4_address\n}\n";

/// The stack: the module, and a server of its own labelled with the module's output.
const STACK: &str = "stack \"mods\" {}\n\nmodule \"web\" {\n  source = \"./modules/web\"\n  size   = \"cx23\"\n}\n\nserver \"peer\" {\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  labels      = { web = module.web.address }\n}\n";

/// A stack of one server, `server.app`, outside any module.
const ONE_SERVER: &str = "stack \"mods\" {}\n\nserver \"app\" {\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n}\n";

/// What `state list` prints, one address a line.
async fn state_list(ws: &CloudWorkspace) -> Vec<String> {
    let list = CloudWorkspace::expect(&ws.run(&["state", "list"]).await, 0);
    list.lines().map(str::to_string).collect()
}

/// The server named `name` among `servers` (as the API lists them).
fn named<'a>(servers: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    servers
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name} in {servers:?}"))
}

fn write_module(ws: &CloudWorkspace) {
    let dir = ws.dir.join("modules/web");
    std::fs::create_dir_all(&dir).expect("module dir");
    std::fs::write(dir.join("main.hcl"), MODULE).expect("module file");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modules_server_is_addressed_under_the_module_and_its_output_flows_out() {
    let ws = CloudWorkspace::start().await;
    write_module(&ws);
    ws.edit_stack(|_| STACK.to_string());
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    insta::assert_snapshot!("module_plan", plan);
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let servers = ws.list("servers").await;
    let by_name = |n: &str| named(&servers, n);
    let web = by_name("mods-web--app");
    assert_eq!(web["labels"]["sovstack.address"], "module.web.server.app");
    let peer = by_name("mods-peer");
    assert_eq!(peer["labels"]["web"], web["public_net"]["ipv4"]["ip"]);
    assert_eq!(
        state_list(&ws).await,
        ["module.web.server.app", "server.peer"]
    );
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_moves_into_a_module_without_being_recreated() {
    let ws = CloudWorkspace::start().await;
    ws.edit_stack(|_| ONE_SERVER.to_string());
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let before = ws.ids("servers").await;
    write_module(&ws);
    ws.edit_stack(|_| {
        "stack \"mods\" {}\n\nmodule \"web\" {\n  source = \"./modules/web\"\n  size   = \"cx23\"\n}\n\nmoved {\n  from = server.app\n  to   = module.web.server.app\n}\n".to_string()
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(plan.contains("(moved from server.app)"), "{plan}");
    assert!(plan.contains("0 to add"), "{plan}");
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("servers").await, before);
    assert_eq!(state_list(&ws).await, ["module.web.server.app"]);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

/// `state mv` into a module address, after the block moved into the module by hand.
#[tokio::test(flavor = "multi_thread")]
async fn state_mv_records_a_server_under_a_module_address() {
    let ws = CloudWorkspace::start().await;
    ws.edit_stack(|_| ONE_SERVER.to_string());
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let before = ws.ids("servers").await;
    write_module(&ws);
    ws.edit_stack(|_| {
        "stack \"mods\" {}\n\nmodule \"web\" {\n  source = \"./modules/web\"\n  size   = \"cx23\"\n}\n".to_string()
    });
    CloudWorkspace::expect(
        &ws.run(&["state", "mv", "server.app", "module.web.server.app"])
            .await,
        0,
    );
    assert_eq!(state_list(&ws).await, ["module.web.server.app"]);
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("servers").await, before);
    let names: Vec<_> = ws
        .list("servers")
        .await
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, ["mods-web--app"]);
}

/// A module calling a module: the inner server is `module.outer.module.web.server.app`, named
/// after both modules, and its output flows out through the outer module.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_calling_a_module_is_applied_under_both_names() {
    let ws = CloudWorkspace::start().await;
    let outer = ws.dir.join("modules/outer");
    std::fs::create_dir_all(outer.join("web")).expect("module dirs");
    std::fs::write(outer.join("web/main.hcl"), MODULE).expect("inner module");
    std::fs::write(
        outer.join("main.hcl"),
        "module \"web\" {\n  source = \"./web\"\n  size   = \"cx23\"\n}\n\noutput \"address\" {\n  value = module.web.address\n}\n",
    )
    .expect("outer module");
    ws.edit_stack(|_| {
        STACK
            .replace("module \"web\"", "module \"outer\"")
            .replace("./modules/web", "./modules/outer")
            .replace("  size   = \"cx23\"\n", "")
            .replace("module.web.address", "module.outer.address")
    });
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let servers = ws.list("servers").await;
    let inner = named(&servers, "mods-outer--web--app");
    let peer = named(&servers, "mods-peer");
    assert_eq!(peer["labels"]["web"], inner["public_net"]["ipv4"]["ip"]);
    assert_eq!(
        state_list(&ws).await,
        ["module.outer.module.web.server.app", "server.peer"]
    );
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

/// The stack with module `web` called once per key of `keys`, and a peer labelled with the
/// output of instance `b`.
fn stack_with_module_instances(keys: &[&str]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    format!(
        "stack \"mods\" {{}}\n\nmodule \"web\" {{\n  for_each = toset([{}])\n  source   = \"./modules/web\"\n  size     = \"cx23\"\n}}\n\nserver \"peer\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  labels      = {{ web = module.web[\"b\"].address }}\n}}\n",
        keys.join(", ")
    )
}

/// `for_each` on a module call: one instance of the module's server per key, addressed
/// `module.web["a"].server.app` and named `mods-web-a--app`; a key removed destroys exactly
/// that instance's server and leaves the others (same ids).
#[tokio::test(flavor = "multi_thread")]
async fn a_module_with_for_each_is_applied_per_key_and_a_removed_key_destroys_only_its_instance() {
    let ws = CloudWorkspace::start().await;
    write_module(&ws);
    ws.edit_stack(|_| stack_with_module_instances(&["a", "b", "c"]));
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(
        state_list(&ws).await,
        [
            "module.web[\"a\"].server.app",
            "module.web[\"b\"].server.app",
            "module.web[\"c\"].server.app",
            "server.peer"
        ]
    );
    let servers = ws.list("servers").await;
    let by_name = |n: &str| named(&servers, n);
    let b = by_name("mods-web-b--app");
    // A label value holds no brackets or quotes: the address as labels write it.
    assert_eq!(
        b["labels"]["sovstack.address"],
        "module.web__b__.server.app"
    );
    assert_eq!(
        by_name("mods-peer")["labels"]["web"],
        b["public_net"]["ipv4"]["ip"]
    );
    let removed = by_name("mods-web-c--app")["id"].as_u64();
    let mut kept = ws.ids("servers").await;
    kept.retain(|id| Some(*id) != removed);

    ws.edit_stack(|_| stack_with_module_instances(&["a", "b"]));
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(
        plan.contains("module.web[\"c\"].server.app will be destroyed"),
        "{plan}"
    );
    assert!(
        plan.contains("0 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("servers").await, kept);
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}

/// `count` on a module call: 3 -> 2 destroys exactly `module.web[2]`.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_with_count_three_to_two_destroys_exactly_the_last_instance() {
    let ws = CloudWorkspace::start().await;
    write_module(&ws);
    let stack = |n: u32| {
        format!(
            "stack \"mods\" {{}}\n\nmodule \"web\" {{\n  count  = {n}\n  source = \"./modules/web\"\n  size   = \"cx23\"\n}}\n\noutput \"addresses\" {{\n  value = module.web[*].address\n}}\n"
        )
    };
    ws.edit_stack(|_| stack(3));
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    ws.edit_stack(|_| stack(2));
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(
        plan.contains("module.web[2].server.app will be destroyed"),
        "{plan}"
    );
    assert!(
        plan.contains("0 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(
        state_list(&ws).await,
        ["module.web[0].server.app", "module.web[1].server.app"]
    );
    assert_eq!(
        ws.names("servers").await,
        ["mods-web-0--app", "mods-web-1--app"]
    );
}

/// Instances of a block moved into instances of a module by `moved` blocks with instance
/// addresses on both sides: kept (same ids), renamed in place, nothing created.
#[tokio::test(flavor = "multi_thread")]
async fn instances_move_into_instances_of_a_module_without_being_recreated() {
    let ws = CloudWorkspace::start().await;
    ws.edit_stack(|_| {
        "stack \"mods\" {}\n\nserver \"app\" {\n  for_each    = toset([\"a\", \"b\"])\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n}\n".to_string()
    });
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    let before = ws.ids("servers").await;
    write_module(&ws);
    // Without the moves the plan would replace both, and says which moves keep them.
    ws.edit_stack(|_| {
        "stack \"mods\" {}\n\nmodule \"web\" {\n  for_each = toset([\"a\", \"b\"])\n  source   = \"./modules/web\"\n  size     = \"cx23\"\n}\n".to_string()
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan"]).await, 0);
    let words = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    for key in ["a", "b"] {
        let moved = format!(
            "moved {{ from = server.app[\"{key}\"] to = module.web[\"{key}\"].server.app }}"
        );
        assert!(words.contains(&moved), "{plan}");
    }
    assert!(
        plan.contains("warning[language::moved-into-module]"),
        "{plan}"
    );
    ws.edit_stack(|_| {
        "stack \"mods\" {}\n\nmodule \"web\" {\n  for_each = toset([\"a\", \"b\"])\n  source   = \"./modules/web\"\n  size     = \"cx23\"\n}\n\nmoved {\n  from = server.app[\"a\"]\n  to   = module.web[\"a\"].server.app\n}\n\nmoved {\n  from = server.app[\"b\"]\n  to   = module.web[\"b\"].server.app\n}\n".to_string()
    });
    let plan = CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 2);
    assert!(plan.contains("(moved from server.app[\"a\"])"), "{plan}");
    assert!(plan.contains("(moved from server.app[\"b\"])"), "{plan}");
    assert!(plan.contains("0 to add"), "{plan}");
    assert!(plan.contains("0 to destroy"), "{plan}");
    CloudWorkspace::expect(&ws.run(&["apply", "--auto-approve"]).await, 0);
    assert_eq!(ws.ids("servers").await, before);
    assert_eq!(
        state_list(&ws).await,
        [
            "module.web[\"a\"].server.app",
            "module.web[\"b\"].server.app"
        ]
    );
    assert_eq!(
        ws.names("servers").await,
        ["mods-web-a--app", "mods-web-b--app"]
    );
    CloudWorkspace::expect(&ws.run(&["plan", "--detailed-exitcode"]).await, 0);
}
