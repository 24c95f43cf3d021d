//! References are graph edges whether or not their value is known: a server whose user data
//! names another server's address (here through a local) is created after it, in the same
//! run, with the address filled in, and is never replaced afterwards for it.

use crate::harness::sandbox_cli::{self, Workspace, run, text};
use sovstack::sandbox::SandboxConfig;

const STACK: &str = r#"
stack "peers" {}

ssh_key "admin" {
  public_key = file("keys/admin.pub")
}

locals {
  peer = server.a.ipv4_address
}

server "a" {
  server_type = "cx23"
  location    = "nbg1"
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.admin]
}

server "b" {
  server_type      = "cx23"
  location         = "nbg1"
  image            = "ubuntu-24.04"
  ssh_keys         = [ssh_key.admin]
  user_data_runcmd = ["echo ${local.peer} > /etc/peer"]
}
"#;

async fn applies_in_one_run_and_plans_empty(extra: &[&str]) {
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let url = sb.base_url();
    let ws = Workspace::new(STACK);

    let out = run(&url, &ws.dir, &["graph"]).await;
    assert!(
        text(&out).contains("\"server.a\" -> \"server.b\""),
        "{}",
        text(&out)
    );

    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    let out = run(&url, &ws.dir, &args).await;
    assert!(out.status.success(), "{extra:?}: {}", text(&out));
    assert!(text(&out).contains("3 added"), "{}", text(&out));

    // b was created once, after a, with a's address in its user data.
    let servers = sandbox_cli::list(&url, "servers").await;
    assert_eq!(servers.len(), 2, "{servers:?}");
    let a = servers.iter().find(|s| s["name"] == "peers-a").expect("a");
    let a_ip = a["public_net"]["ipv4"]["ip"].as_str().expect("a's address");
    let creates: Vec<serde_json::Value> = sb
        .request_log()
        .entries()
        .into_iter()
        .filter(|e| e.endpoint == "POST /servers" && e.status < 300)
        .filter_map(|e| e.request_body)
        .collect();
    let b = creates
        .iter()
        .find(|body| body["name"] == "peers-b")
        .expect("b created");
    let user_data = b["user_data"].as_str().expect("user data");
    assert!(
        user_data.contains(&format!("echo {a_ip} > /etc/peer")),
        "{user_data}"
    );
    assert_eq!(creates.len(), 2, "each server created once");

    let out = run(&url, &ws.dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", text(&out));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_naming_another_server_applies_in_one_run() {
    applies_in_one_run_and_plans_empty(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_naming_another_server_applies_one_at_a_time() {
    applies_in_one_run_and_plans_empty(&["--parallelism", "1"]).await;
}
