//! Tests of splicing modules into a stack, through `load_str`.

use crate::config::{LoadOptions, Loaded, load_str};
const KEY: &str = "ssh_key \"k\" {\n  public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt k\"\n}\n";

/// A module `db` with a server named from an input, and an output of its address.
const MODULE: &str = "variable \"size\" {\n  type = string\n}\n\nvariable \"where\" {\n  type    = string\n  default = \"fsn1\"\n}\n\nlocals {\n  role = \"db-${var.size}\"\n}\n\nserver \"main\" {\n  server_type = var.size\n  location    = var.where\n  image       = \"ubuntu-24.04\"\n  labels      = { role = local.role }\n}\n\noutput \"address\" {\n  value = server.main.ipv4_address\n}\n";

fn load_with(module: &str, call: &str) -> (tempfile::TempDir, Loaded) {
    load_reading(module, call, "module.db.address")
}

/// The stack calling module `db` with `call`; its server `app` has label `db = <read>`.
fn load_reading(module: &str, call: &str, read: &str) -> (tempfile::TempDir, Loaded) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("db")).expect("module dir");
    std::fs::write(dir.path().join("db/main.hcl"), module).expect("module file");
    let text = format!(
        "stack \"s\" {{}}\n{KEY}{call}\nserver \"app\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.k]\n  labels      = {{ db = {read} }}\n}}\n"
    );
    let l = load_str("stack.hcl", &text, dir.path(), &LoadOptions::default());
    (dir, l)
}

#[test]
fn a_modules_blocks_join_the_stack_under_its_name_and_its_outputs_flow_out() {
    let (_d, l) = load_with(
        MODULE,
        "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
    );
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    let db = stack.server("db\u{b7}main").expect("the module's server");
    assert_eq!(db.server_type.value, "cx33");
    assert_eq!(db.location.value, "fsn1");
    assert_eq!(db.labels["role"], "db-cx33");
    // The root server reads the module's output: a dependency on the module's server.
    let used = stack
        .references
        .get("server.app")
        .cloned()
        .unwrap_or_default();
    assert!(used.contains("module.db.server.main"), "{used:?}");
    let app = stack.server("app").expect("server app");
    assert_eq!(
        app.labels["db"],
        crate::config::value::after_apply("module.db.server.main.ipv4_address")
    );
}

#[test]
fn inputs_are_checked_against_the_modules_variables() {
    let (_d, l) = load_with(
        MODULE,
        "module \"db\" {\n  source = \"./db\"\n  sise   = \"cx33\"\n  where  = 3\n}\n",
    );
    let found: Vec<(&str, String, Option<&str>)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == "language::module-input")
        .map(|d| (d.code, d.message.clone(), d.help.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "language::module-input",
                "module `db` needs input `size`".to_string(),
                Some(
                    "add `size = ...` to the module block; the module declares it without a default"
                )
            ),
            (
                "language::module-input",
                "module `db` has no input `sise`".to_string(),
                Some("did you mean `size`?")
            ),
            (
                "language::module-input",
                "input `where` of module `db` must be string, found number".to_string(),
                found[2].2
            ),
        ],
        "{:?}",
        l.diagnostics
    );
    assert!(
        found[2].2.is_some_and(|h| h.ends_with("db/main.hcl:5)")),
        "{found:?}"
    );
    // A missing input is reported once, not again where the module reads it.
    assert!(
        !l.diagnostics
            .iter()
            .any(|d| d.code == "language::undefined-reference"),
        "{:?}",
        l.diagnostics
    );
}

/// A mistake inside the module is reported in the module's file, at its line.
#[test]
fn findings_inside_a_module_point_into_its_file() {
    let module = MODULE.replace("image       = \"ubuntu-24.04\"", "imgae = \"ubuntu-24.04\"");
    let (_d, l) = load_with(
        &module,
        "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
    );
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::unknown-attribute")
        .expect("reported");
    let file = d.file.as_ref().expect("in the module's file");
    assert!(file.name().ends_with("db/main.hcl"), "{}", file.name());
    let span = d.span.clone().expect("located");
    assert_eq!(file.slice(&span).split_whitespace().next(), Some("imgae"));
    assert_eq!(file.line_col(span.start).0, 17);
}

/// A module calling a module: the inner module's blocks are `module.outer.module.db...`,
/// its inputs come from the outer module's scope, its outputs flow out through the outer.
#[test]
fn a_module_calls_a_module() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("outer/db")).expect("module dirs");
    std::fs::write(dir.path().join("outer/db/main.hcl"), MODULE).expect("inner module");
    std::fs::write(
        dir.path().join("outer/main.hcl"),
        "variable \"size\" {}\n\nmodule \"db\" {\n  source = \"./db\"\n  size   = var.size\n}\n\noutput \"address\" {\n  value = module.db.address\n}\n",
    )
    .expect("outer module");
    let text = format!(
        "stack \"s\" {{}}\n{KEY}module \"outer\" {{\n  source = \"./outer\"\n  size   = \"cx33\"\n}}\noutput \"o\" {{\n  value = module.outer.address\n}}\n"
    );
    let l = load_str("stack.hcl", &text, dir.path(), &LoadOptions::default());
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    let db = stack
        .server("outer\u{b7}db\u{b7}main")
        .expect("the inner module's server");
    assert_eq!(db.server_type.value, "cx33");
    assert_eq!(
        stack.outputs[0].value.value,
        serde_json::json!(crate::config::value::after_apply(
            "module.outer.module.db.server.main.ipv4_address"
        ))
    );
}

#[test]
fn unknown_modules_outputs_and_sources_are_reported() {
    let (_d, l) = load_with(MODULE, "module \"db\" {\n  source = \"./nowhere\"\n}\n");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.code == "language::module-source")
    );
    let (_d, l) = load_with(MODULE, "module \"db\" {\n  source = \"sovstack/dbx\"\n}\n");
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::module-source")
        .expect("reported");
    assert_eq!(d.message, "sovstack ships no module `dbx`");
    let (_d, l) = load_with(
        &MODULE.replace("output \"address\"", "output \"addr\""),
        "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
    );
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::undefined-reference")
        .expect("reported");
    assert_eq!(d.message, "module `db` has no output `address`");
    assert!(d.file.is_none());
}

/// `for_each` on a module call: one splice per key, Terraform's addresses, each
/// instance's inputs from `each`, outputs read by key from the caller.
#[test]
fn a_module_with_for_each_makes_one_instance_per_key() {
    let (_d, l) = load_with(
        MODULE,
        "variable \"dbs\" {\n  type    = map(string)\n  default = { a = \"cx23\", b = \"cx33\" }\n}\nmodule \"db\" {\n  for_each = var.dbs\n  source   = \"./db\"\n  size     = each.value\n  where    = \"hel1-${each.key}\"\n}\n",
    );
    // The root server reads `module.db.address`: refused, it must name an instance.
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::undefined-reference")
        .expect("reported");
    assert_eq!(
        d.message,
        "module `db` has `for_each`: name one to read its output `address`"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("write `module.db[\"<key>\"].address`")
    );

    let (_d, l) = load_reading(
        MODULE,
        "variable \"dbs\" {\n  type    = map(string)\n  default = { a = \"cx23\", b = \"cx33\" }\n}\nmodule \"db\" {\n  for_each = var.dbs\n  source   = \"./db\"\n  size     = each.value\n  where    = \"hel1-${each.key}\"\n}\n",
        "module.db[\"b\"].address",
    );
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    let names: Vec<(String, String, String)> = stack
        .servers
        .iter()
        .map(|s| {
            (
                crate::config::instance::block_address("server", &s.name),
                s.server_type.value.clone(),
                s.location.value.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "module.db[\"a\"].server.main".into(),
                "cx23".into(),
                "hel1-a".into()
            ),
            (
                "module.db[\"b\"].server.main".into(),
                "cx33".into(),
                "hel1-b".into()
            ),
            ("server.app".into(), "cx23".into(), "nbg1".into()),
        ]
    );
    let used = stack
        .references
        .get("server.app")
        .cloned()
        .unwrap_or_default();
    assert!(used.contains("module.db[\"b\"].server.main"), "{used:?}");
    assert!(!used.contains("module.db[\"a\"].server.main"), "{used:?}");
}

/// `count` on a module call: instances by index; `module.m[*]` reads them all.
#[test]
fn a_module_with_count_makes_instances_by_index() {
    let (_d, l) = load_reading(
        MODULE,
        "module \"db\" {\n  count  = 2\n  source = \"./db\"\n  size   = \"cx${count.index}3\"\n}\n",
        "join(\",\", module.db[*].address)",
    );
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    let db1 = stack
        .servers
        .iter()
        .find(|s| {
            crate::config::instance::block_address("server", &s.name) == "module.db[1].server.main"
        })
        .expect("instance 1");
    assert_eq!(db1.server_type.value, "cx13");
    assert_eq!(
        crate::config::instance::resource_name("s", &db1.name),
        "s-db-1--main"
    );
    let used = stack
        .references
        .get("server.app")
        .cloned()
        .unwrap_or_default();
    assert!(used.contains("module.db[0].server.main"), "{used:?}");
    assert!(used.contains("module.db[1].server.main"), "{used:?}");
}

/// Keys that cannot name a module instance, and instances of a module inside a module,
/// are refused at the `for_each`.
#[test]
fn module_instances_that_cannot_be_named_are_refused() {
    let (_d, l) = load_with(
        MODULE,
        "module \"db\" {\n  for_each = toset([\"a.b\"])\n  source   = \"./db\"\n  size     = \"cx23\"\n}\n",
    );
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::count-for-each")
        .expect("reported");
    assert_eq!(
        d.message,
        "`for_each` of module `db` has key `a.b`, which cannot name a module instance"
    );
}

/// `validate`'s findings about a module's block point into the module's file.
#[test]
fn findings_made_after_loading_point_into_the_module_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("app")).expect("module dir");
    std::fs::write(
        dir.path().join("app/main.hcl"),
        "variable \"host\" {}\n\ncompose \"web\" {\n  on = var.host\n  service \"web\" {\n    image   = \"busybox:1.36\"\n    restart = \"unless-stopped\"\n  }\n}\n",
    )
    .expect("module file");
    let text = "stack \"s\" {}\nhost \"gpu\" {\n  address  = \"203.0.113.21\"\n  host_key = \"SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2A\"\n  location = \"fsn1\"\n  ssh {\n    user = \"root\"\n  }\n}\nmodule \"app\" {\n  source = \"./app\"\n  host   = host.gpu\n}\n";
    let mut l = load_str("stack.hcl", text, dir.path(), &LoadOptions::default());
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let findings = crate::validate::check(l.stack.as_ref().expect("a stack"));
    l.add_findings(findings);
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "compose::no-log-cap")
        .expect("reported");
    let file = d.file.as_ref().expect("in the module's file");
    assert!(file.name().ends_with("app/main.hcl"), "{}", file.name());
    let span = d.span.clone().expect("located");
    assert_eq!(file.line_col(span.start).0, 5);
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("compose `module.app.web`")),
        "{:?}",
        d.help
    );
}

/// One module's output written directly in another module's inputs (the stack's and a
/// module's own calls), whichever module is declared first.
#[test]
fn a_modules_output_is_another_modules_input() {
    let (_d, l) = load_with(
        MODULE,
        "module \"db\" {\n  source = \"./db\"\n  size   = module.first.address\n}\nmodule \"first\" {\n  source = \"./db\"\n  size   = \"cx23\"\n}\n",
    );
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    let db = stack.server("db\u{b7}main").expect("the module's server");
    assert_eq!(
        db.server_type.value,
        crate::config::value::after_apply("module.first.server.main.ipv4_address")
    );
}

/// An input, a local and an output of one name are three values, as in Terraform.
#[test]
fn a_modules_input_local_and_output_of_one_name_stay_apart() {
    let module = "variable \"size\" {}\nlocals {\n  size = \"cx${var.size}\"\n}\nserver \"main\" {\n  server_type = local.size\n  location    = \"fsn1\"\n  image       = \"ubuntu-24.04\"\n}\noutput \"size\" {\n  value = \"out-${local.size}\"\n}\noutput \"address\" {\n  value = server.main.ipv4_address\n}\n";
    let (_d, l) = load_reading(
        module,
        "module \"db\" {\n  source = \"./db\"\n  size   = \"23\"\n}\n",
        "module.db.size",
    );
    assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    let stack = l.stack.expect("a stack");
    assert_eq!(
        stack
            .server("db\u{b7}main")
            .expect("the module's server")
            .server_type
            .value,
        "cx23"
    );
    assert_eq!(
        stack.server("app").expect("server app").labels["db"],
        "out-cx23"
    );
}

/// A module sees only its own inputs, locals and blocks: the stack's are not in its scope.
#[test]
fn a_module_does_not_see_the_stacks_names() {
    let module = MODULE
        .replace("location    = var.where", "location    = var.region")
        .replace(
            "labels      = { role = local.role }",
            "labels      = { role = local.rol, key = ssh_key.k.name }",
        );
    let (_d, l) = load_with(
        &module,
        "variable \"region\" {\n  default = \"fsn1\"\n}\nmodule \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
    );
    let found: Vec<(String, Option<String>)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == "language::undefined-reference")
        .map(|d| (d.message.clone(), d.help.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "module `db` has no input `region`".to_string(),
                Some("valid inputs: size, where".to_string())
            ),
            (
                "module `db` has no local `rol`".to_string(),
                Some("did you mean `role`?".to_string())
            ),
            (
                "module `db` has no ssh_key `k`".to_string(),
                Some("a module sees only its own blocks and inputs: declare `variable \"k\"` in the module and give it `ssh_key.k` in the module block".to_string())
            ),
        ],
        "{:?}",
        l.diagnostics
    );
    assert!(
        l.diagnostics
            .iter()
            .filter(|d| d.code == "language::undefined-reference")
            .all(|d| d.file.is_some())
    );
}

/// A module whose input `token` is sensitive and validated, used by a server's label.
const SECRET_MODULE: &str = "variable \"token\" {\n  type      = string\n  sensitive = true\n  validation {\n    condition     = length(var.token) >= 8\n    error_message = \"Use at least 8 characters.\"\n  }\n}\nvariable \"size\" {\n  default = \"cx23\"\n  validation {\n    condition     = length(var.size) == 4\n    error_message = \"Four characters.\"\n  }\n}\nserver \"main\" {\n  server_type = var.size\n  location    = \"fsn1\"\n  image       = \"ubuntu-24.04\"\n}\noutput \"address\" {\n  value = server.main.ipv4_address\n}\n";

fn input_findings(call: &str, opts: &LoadOptions) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("db")).expect("module dir");
    std::fs::write(dir.path().join("db/main.hcl"), SECRET_MODULE).expect("module file");
    let text = format!("stack \"s\" {{}}\nvariable \"secret\" {{\n  sensitive = true\n}}\n{call}");
    let l = load_str("stack.hcl", &text, dir.path(), opts);
    l.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d.span.clone().map(|s| l.source.slice(&s).to_string());
            (d.message.clone(), at.unwrap_or_default())
        })
        .collect()
}

/// A `sensitive` input takes only values made from sensitive variables, and a module's
/// `validation` conditions hold for the values it is given, reported at the caller's value;
/// a secret not given yet (plan without secrets) is not checked.
#[test]
fn module_inputs_are_held_to_their_sensitive_and_validation() {
    let opts = LoadOptions::default();
    assert_eq!(
        input_findings("module \"db\" {\n  source = \"./db\"\n  token  = \"hunter22x\"\n  size   = \"ccx33\"\n}\n", &opts),
        [
            (
                "input `token` of module `db` is sensitive, but its value is not made from a sensitive variable".to_string(),
                "\"hunter22x\"".to_string()
            ),
            (
                "invalid value for input `size` of module `db`: Four characters.".to_string(),
                "\"ccx33\"".to_string()
            ),
        ]
    );
    let call = "module \"db\" {\n  source = \"./db\"\n  token  = var.secret\n}\n";
    assert_eq!(input_findings(call, &opts), []);
    let mut short = LoadOptions::default();
    short.vars.insert("secret".into(), "short".into());
    assert_eq!(
        input_findings(call, &short),
        [(
            "invalid value for input `token` of module `db`: Use at least 8 characters."
                .to_string(),
            "var.secret".to_string()
        )]
    );
}

/// `version` on a shipped module names the sovstack release it was written for.
#[test]
fn a_shipped_modules_version_is_the_binarys() {
    let ours = env!("CARGO_PKG_VERSION");
    let minor = ours.rsplit_once('.').map_or(ours, |(m, _)| m);
    let load = |version: &str| {
        let text = format!(
            "stack \"s\" {{}}\nmodule \"sidecar\" {{\n  source   = \"sovstack/otel-sidecar\"\n  version  = \"{version}\"\n  endpoint = \"10.0.0.2:4317\"\n  region   = \"fsn1\"\n}}\n"
        );
        load_str(
            "stack.hcl",
            &text,
            std::path::Path::new("."),
            &LoadOptions::default(),
        )
    };
    for fine in [ours, minor] {
        let l = load(fine);
        assert!(!l.diagnostics.has_errors(), "{fine}: {:?}", l.diagnostics);
    }
    let l = load("9.9");
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "language::module-source")
        .expect("refused");
    assert_eq!(
        d.message,
        format!("the stack wants `sovstack/otel-sidecar` of sovstack 9.9; this is sovstack {ours}")
    );
    let partial = format!("{}1", &ours[..ours.len() - 1]);
    assert!(load(&partial).diagnostics.has_errors() || partial == ours);
}
