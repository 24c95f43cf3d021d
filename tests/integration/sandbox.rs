//! The Hetzner Cloud API sandbox, driven over HTTP with a raw client, every exchange checked against the official
//! OpenAPI document.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sovstack::sandbox::{
    FaultSpec, RateLimitConfig, Sandbox, SandboxConfig, SandboxHandle, ServerIpv4,
};

use crate::harness::openapi::{RequestCheck, assert_log_conforms, check_log, spec};

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8s8DJSQrJ+CCNRIF3AfXf2PBn6WAZdOYkZevQOv7L4 a@test";
const KEY_A_MD5: &str = "a3:c9:f1:23:61:ba:e5:88:a1:ca:8c:08:2b:ba:dd:98";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNwmTPTRkXn6ZfFJVZ0Vfjvmn+W2aAbDTZS6TbJS9Sr b@test";

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn field_names(&self) -> Vec<String> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|x| x["name"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Api {
    sandbox: SandboxHandle,
    http: reqwest::Client,
    token: String,
}

impl Api {
    async fn start(config: SandboxConfig) -> Self {
        let token = config.token.clone().unwrap_or_else(|| "test-token".into());
        let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            sandbox,
            http: reqwest::Client::new(),
            token,
        }
    }

    async fn fast() -> Self {
        Self::start(SandboxConfig::for_tests()).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Resp {
        let url = format!("{}{path}", self.sandbox.base_url());
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, Some(&self.token)).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), Some(&self.token))
            .await
    }

    async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None, Some(&self.token)).await
    }

    async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body), Some(&self.token))
            .await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, Some(&self.token))
            .await
    }

    /// Polls `GET /actions?id=..` (the batched way) until none is running; returns them by ID order.
    async fn wait(&self, ids: &[u64]) -> Vec<Value> {
        let query: Vec<String> = ids.iter().map(|i| format!("id={i}")).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.get(&format!("/actions?{}", query.join("&"))).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let actions = r.body["actions"].as_array().unwrap().clone();
            if actions.iter().all(|a| a["status"] != "running") {
                return actions;
            }
            assert!(
                Instant::now() < deadline,
                "actions still running: {actions:?}"
            );
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }

    async fn wait_one(&self, action: &Value) -> Value {
        self.wait(&[action["id"].as_u64().unwrap()]).await.remove(0)
    }

    async fn create_server(&self, name: &str, extra: Value) -> Resp {
        let mut body = json!({"name": name, "server_type": "cx23", "image": "ubuntu-24.04", "location": "fsn1"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.post("/servers", body).await
    }

    /// Uploads `KEY_A` under `name`; returns its ID.
    async fn key_a(&self, name: &str) -> u64 {
        let key = self
            .post("/ssh_keys", json!({"name": name, "public_key": KEY_A}))
            .await;
        key.body["ssh_key"]["id"].as_u64().unwrap()
    }

    /// Creates a server and waits for it to be running.
    async fn running_server(&self, name: &str, extra: Value) -> u64 {
        let r = self.create_server(name, extra).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let mut ids = vec![r.body["action"]["id"].as_u64().unwrap()];
        ids.extend(
            r.body["next_actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_u64().unwrap()),
        );
        self.wait(&ids).await;
        r.body["server"]["id"].as_u64().unwrap()
    }

    fn conforms(&self) {
        assert_log_conforms(
            &self.sandbox.request_log().entries(),
            RequestCheck::Accepted,
        );
    }

    /// For tests that send what the spec types differently but the API accepts (IDs as numbers).
    fn conforms_responses(&self) {
        assert_log_conforms(&self.sandbox.request_log().entries(), RequestCheck::None);
    }
}

fn action_ids(body: &Value, key: &str) -> Vec<u64> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn catalogs_have_eu_and_non_eu_locations_types_and_images() {
    let api = Api::fast().await;
    let r = api.get("/locations").await;
    assert_eq!(r.status, 200);
    let locs = r.body["locations"].as_array().unwrap();
    let by_name = |n: &str| locs.iter().find(|l| l["name"] == n).unwrap().clone();
    assert_eq!(by_name("fsn1")["country"], "DE");
    assert_eq!(by_name("hel1")["country"], "FI");
    assert_eq!(by_name("hel1")["network_zone"], "eu-central");
    assert_eq!(by_name("ash")["country"], "US");
    assert_eq!(by_name("hil")["network_zone"], "us-west");
    assert_eq!(by_name("sin")["country"], "SG");
    let r = api.get("/locations?name=nbg1").await;
    assert_eq!(r.body["locations"].as_array().unwrap().len(), 1);
    let id = by_name("nbg1")["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/locations/{id}")).await.body["location"]["name"],
        "nbg1"
    );
    assert_eq!(api.get("/locations/999").await.error_code(), "not_found");

    let r = api.get("/server_types?per_page=50").await;
    let types = r.body["server_types"].as_array().unwrap();
    for name in ["cx23", "cpx22", "ccx13", "cax11"] {
        assert!(types.iter().any(|t| t["name"] == name), "{name} missing");
    }
    let cx22 = api.get("/server_types?name=cx23").await.body["server_types"][0].clone();
    assert_eq!(cx22["architecture"], "x86");
    assert!(
        cx22["prices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| ["fsn1", "nbg1", "hel1"].contains(&p["location"].as_str().unwrap()))
    );
    let id = cx22["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/server_types/{id}")).await.body["server_type"]["cores"],
        2
    );

    let r = api.get("/images?name=ubuntu-24.04&architecture=arm").await;
    let imgs = r.body["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 1);
    assert_eq!(imgs[0]["architecture"], "arm");
    let id = imgs[0]["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/images/{id}")).await.body["image"]["os_flavor"],
        "ubuntu"
    );
    api.conforms();
}

#[tokio::test]
async fn ssh_keys_crud_uniqueness_and_validation() {
    let api = Api::fast().await;
    let r = api
        .post(
            "/ssh_keys",
            json!({"name": "ops", "public_key": KEY_A, "labels": {"team": "infra"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["ssh_key"]["fingerprint"], KEY_A_MD5);
    let id = r.body["ssh_key"]["id"].as_u64().unwrap();

    let dup_name = api
        .post("/ssh_keys", json!({"name": "ops", "public_key": KEY_B}))
        .await;
    assert_eq!(
        (dup_name.status, dup_name.error_code()),
        (409, "uniqueness_error")
    );
    assert_eq!(dup_name.field_names(), ["name"]);
    let dup_key = api
        .post("/ssh_keys", json!({"name": "other", "public_key": KEY_A}))
        .await;
    assert_eq!(
        (dup_key.status, dup_key.error_code()),
        (409, "uniqueness_error")
    );
    assert_eq!(dup_key.field_names(), ["public_key"]);

    let bad = api
        .post(
            "/ssh_keys",
            json!({"public_key": "ssh-rsa nope", "labels": {"-x": "y"}}),
        )
        .await;
    assert_eq!((bad.status, bad.error_code()), (422, "invalid_input"));
    assert_eq!(bad.field_names(), ["name", "labels", "public_key"]);

    let found = api.get(&format!("/ssh_keys?fingerprint={KEY_A_MD5}")).await;
    assert_eq!(found.body["ssh_keys"][0]["id"], id);
    assert_eq!(
        api.get("/ssh_keys?name=nobody").await.body["ssh_keys"],
        json!([])
    );

    let r = api
        .put(&format!("/ssh_keys/{id}"), json!({"labels": {"new": ""}}))
        .await;
    assert_eq!(
        r.body["ssh_key"]["labels"],
        json!({"new": ""}),
        "labels replace, not merge"
    );
    assert_eq!(r.body["ssh_key"]["name"], "ops");
    let r = api
        .put(&format!("/ssh_keys/{id}"), json!({"name": "ops2"}))
        .await;
    assert_eq!(r.body["ssh_key"]["name"], "ops2");

    assert_eq!(api.delete(&format!("/ssh_keys/{id}")).await.status, 204);
    assert_eq!(
        api.get(&format!("/ssh_keys/{id}")).await.error_code(),
        "not_found"
    );
    assert_eq!(api.delete(&format!("/ssh_keys/{id}")).await.status, 404);
    api.conforms();
}

#[tokio::test]
async fn malformed_json_unknown_paths_and_methods() {
    let api = Api::fast().await;
    let r = api
        .http
        .post(format!("{}/ssh_keys", api.sandbox.base_url()))
        .bearer_auth("t")
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "json_error");
    assert_eq!(api.get("/nothing").await.error_code(), "not_found");
    let r = api.send(Method::PATCH, "/servers", None, Some("t")).await;
    assert_eq!((r.status, r.error_code()), (405, "method_not_allowed"));
    assert_eq!(api.get("/servers/abc").await.status, 404);
    api.conforms();
}

#[tokio::test]
async fn server_lifecycle_with_power_type_and_rebuild_actions() {
    let api = Api::fast().await;
    let key_id = api.key_a("k").await;
    let r = api
        .create_server(
            "gpu-1",
            json!({"ssh_keys": ["k"], "labels": {"sovstack.stack": "demo"}, "user_data": "#cloud-config\n"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let server = &r.body["server"];
    let id = server["id"].as_u64().unwrap();
    assert_eq!(server["status"], "initializing");
    assert_eq!(server["public_net"]["ipv4"]["ip"], "127.0.1.1");
    assert_eq!(server["public_net"]["ipv6"]["ip"], "2001:db8:0:2::/64");
    assert_eq!(server["public_net"]["ipv6"]["id"], 2);
    assert_eq!(server["location"]["country"], "DE");
    assert_eq!(
        r.body["root_password"],
        Value::Null,
        "no password when an SSH key is given"
    );
    assert_eq!(r.body["action"]["command"], "create_server");
    assert_eq!(r.body["action"]["status"], "running");
    assert_eq!(r.body["action"]["finished"], Value::Null);
    assert_eq!(r.body["next_actions"][0]["command"], "start_server");

    let mut ids = vec![r.body["action"]["id"].as_u64().unwrap()];
    ids.extend(action_ids(&r.body, "next_actions"));
    let done = api.wait(&ids).await;
    assert!(
        done.iter()
            .all(|a| a["status"] == "success" && a["progress"] == 100 && a["finished"].is_string())
    );
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "running"
    );

    let not_stopped = api
        .post(
            &format!("/servers/{id}/actions/change_type"),
            json!({"server_type": "cx33", "upgrade_disk": true}),
        )
        .await;
    assert_eq!(
        (not_stopped.status, not_stopped.error_code()),
        (422, "server_not_stopped")
    );

    let off = api
        .post_empty(&format!("/servers/{id}/actions/poweroff"))
        .await;
    assert_eq!(off.status, 201);
    assert_eq!(off.body["action"]["command"], "stop_server");
    api.wait_one(&off.body["action"]).await;
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "off"
    );

    let bad_type = api
        .post(
            &format!("/servers/{id}/actions/change_type"),
            json!({"server_type": "cax11", "upgrade_disk": true}),
        )
        .await;
    assert_eq!(
        bad_type.error_code(),
        "invalid_server_type",
        "architecture change refused"
    );
    let missing = api
        .post(&format!("/servers/{id}/actions/change_type"), json!({}))
        .await;
    assert_eq!(missing.field_names(), ["server_type", "upgrade_disk"]);
    let ct = api
        .post(
            &format!("/servers/{id}/actions/change_type"),
            json!({"server_type": "cx33", "upgrade_disk": true}),
        )
        .await;
    assert_eq!(ct.body["action"]["command"], "change_server_type");
    api.wait_one(&ct.body["action"]).await;
    let s = api.get(&format!("/servers/{id}")).await.body["server"].clone();
    assert_eq!(
        (
            s["server_type"]["name"].as_str(),
            s["primary_disk_size"].as_u64()
        ),
        (Some("cx33"), Some(80))
    );

    let on = api
        .post_empty(&format!("/servers/{id}/actions/poweron"))
        .await;
    assert_eq!(on.body["action"]["command"], "start_server");
    api.wait_one(&on.body["action"]).await;
    for (action, command) in [
        ("reboot", "reboot_server"),
        ("reset", "reset_server"),
        ("shutdown", "shutdown_server"),
    ] {
        let r = api
            .post_empty(&format!("/servers/{id}/actions/{action}"))
            .await;
        assert_eq!(r.body["action"]["command"], command);
        api.wait_one(&r.body["action"]).await;
    }
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "off"
    );

    let rb = api
        .post(
            &format!("/servers/{id}/actions/rebuild"),
            json!({"image": "debian-12"}),
        )
        .await;
    assert_eq!(rb.status, 201, "{}", rb.body);
    assert_eq!(rb.body["root_password"], Value::Null);
    api.wait_one(&rb.body["action"]).await;
    let s = api.get(&format!("/servers/{id}")).await.body["server"].clone();
    assert_eq!(
        (s["image"]["name"].as_str(), s["status"].as_str()),
        (Some("debian-12"), Some("running"))
    );
    assert_eq!(
        api.post_empty(&format!("/servers/{id}/actions/explode"))
            .await
            .status,
        404
    );

    let renamed = api
        .put(&format!("/servers/{id}"), json!({"name": "gpu-2"}))
        .await;
    assert_eq!(renamed.body["server"]["name"], "gpu-2");
    assert_eq!(
        api.put(&format!("/servers/{id}"), json!({"name": "bad_name"}))
            .await
            .error_code(),
        "invalid_input"
    );

    let del = api.delete(&format!("/servers/{id}")).await;
    assert_eq!(del.status, 200, "DELETE /servers answers with an action");
    api.wait_one(&del.body["action"]).await;
    assert_eq!(api.get(&format!("/servers/{id}")).await.status, 404);
    assert_eq!(api.get("/servers").await.body["servers"], json!([]));
    // The SSH key is not touched by deleting the server.
    assert_eq!(api.get(&format!("/ssh_keys/{key_id}")).await.status, 200);
    api.conforms();
}

#[tokio::test]
async fn server_create_validation_uniqueness_and_availability() {
    let api = Api::fast().await;
    let r = api.post("/servers", json!({"labels": {"ok": "1"}})).await;
    assert_eq!((r.status, r.error_code()), (422, "invalid_input"));
    assert_eq!(r.field_names(), ["name", "server_type", "image"]);
    let r = api
        .create_server("x", json!({"server_type": "nope", "location": "mars"}))
        .await;
    assert_eq!(r.field_names(), ["server_type", "location"]);
    let r = api
        .create_server("x", json!({"user_data": "a".repeat(32 * 1024 + 1)}))
        .await;
    assert_eq!(r.field_names(), ["user_data"]);
    let r = api.create_server("x", json!({"location": "ash"})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (412, "resource_unavailable"),
        "cx22 is EU-only"
    );
    let r = api
        .create_server("x", json!({"ssh_keys": ["missing"]}))
        .await;
    assert_eq!(r.field_names(), ["ssh_keys"]);
    let r = api
        .create_server(
            "us",
            json!({"server_type": "cpx22", "location": "ash", "start_after_create": false}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["server"]["location"]["country"], "US");
    assert!(
        r.body["root_password"].is_string(),
        "a root password without SSH keys"
    );
    assert_eq!(r.body["next_actions"], json!([]));
    api.wait_one(&r.body["action"]).await;
    let id = r.body["server"]["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "off"
    );
    let dup = api.create_server("us", json!({})).await;
    assert_eq!((dup.status, dup.error_code()), (409, "uniqueness_error"));
    let no_v4 = api
        .create_server(
            "dark",
            json!({"public_net": {"enable_ipv4": false, "enable_ipv6": false}}),
        )
        .await;
    assert_eq!(no_v4.body["server"]["public_net"]["ipv4"], Value::Null);
    assert_eq!(no_v4.body["server"]["public_net"]["ipv6"], Value::Null);
    api.conforms();
}

#[tokio::test]
async fn firewalls_rules_application_selectors_and_in_use() {
    let api = Api::fast().await;
    let web = api
        .running_server("web", json!({"labels": {"role": "web"}}))
        .await;
    let db = api
        .running_server("db", json!({"labels": {"role": "db"}}))
        .await;
    let rules = json!([
        {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["10.0.0.0/8", "2001:DB8::/32"]},
        {"direction": "in", "protocol": "icmp", "source_ips": ["0.0.0.0/0"], "description": "ping"},
    ]);
    let r = api
        .post(
            "/firewalls",
            json!({"name": "edge", "labels": {"tier": "edge"}, "rules": rules,
                   "apply_to": [{"type": "server", "server": {"id": web}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fw = r.body["firewall"]["id"].as_u64().unwrap();
    assert_eq!(
        r.body["firewall"]["rules"][0]["source_ips"][1], "2001:db8::/32",
        "IPv6 canonicalised"
    );
    assert_eq!(r.body["firewall"]["rules"][1]["port"], Value::Null);
    assert_eq!(r.body["actions"][0]["command"], "apply_firewall");
    api.wait(&action_ids(&r.body, "actions")).await;
    let applied =
        api.get(&format!("/servers/{web}")).await.body["server"]["public_net"]["firewalls"].clone();
    assert_eq!(applied, json!([{"id": fw, "status": "applied"}]));

    let bad = api
        .post("/firewalls", json!({"name": "bad", "rules": [{"direction": "in", "protocol": "tcp", "source_ips": ["nope"]}], "extra": 1}))
        .await;
    assert_eq!(bad.error_code(), "invalid_input");
    assert_eq!(
        bad.field_names(),
        ["extra", "rules[0].port", "rules[0].source_ips"]
    );
    assert_eq!(
        api.post("/firewalls", json!({"name": "edge"}))
            .await
            .error_code(),
        "uniqueness_error"
    );

    // Someone edits the rules in the console: set_rules replaces them and re-applies to every resource.
    let sr = api
        .post(&format!("/firewalls/{fw}/actions/set_rules"), json!({"rules": [{"direction": "out", "protocol": "udp", "port": "53", "destination_ips": ["0.0.0.0/0"]}]}))
        .await;
    assert_eq!(sr.status, 201, "{}", sr.body);
    let commands: Vec<_> = sr.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["command"].clone())
        .collect();
    assert_eq!(commands, ["set_firewall_rules", "apply_firewall"]);
    api.wait(&action_ids(&sr.body, "actions")).await;
    let f = api.get(&format!("/firewalls/{fw}")).await.body["firewall"].clone();
    assert_eq!(f["rules"][0]["direction"], "out");
    assert_eq!(f["rules"].as_array().unwrap().len(), 1);

    let sel = api
        .post(&format!("/firewalls/{fw}/actions/apply_to_resources"), json!({"apply_to": [{"type": "label_selector", "label_selector": {"selector": "role=db"}}]}))
        .await;
    assert_eq!(sel.status, 201, "{}", sel.body);
    api.wait(&action_ids(&sel.body, "actions")).await;
    let f = api.get(&format!("/firewalls/{fw}")).await.body["firewall"].clone();
    assert_eq!(
        f["applied_to"][1]["applied_to_resources"],
        json!([{"type": "server", "server": {"id": db}}])
    );
    assert_eq!(
        api.get(&format!("/servers/{db}")).await.body["server"]["public_net"]["firewalls"],
        json!([{"id": fw, "status": "applied"}])
    );
    let twice = api
        .post(
            &format!("/firewalls/{fw}/actions/apply_to_resources"),
            json!({"apply_to": [{"type": "server", "server": {"id": web}}]}),
        )
        .await;
    assert_eq!(twice.error_code(), "firewall_already_applied");
    let ghost = api
        .post(
            &format!("/firewalls/{fw}/actions/apply_to_resources"),
            json!({"apply_to": [{"type": "server", "server": {"id": 999}}]}),
        )
        .await;
    assert_eq!(
        (ghost.status, ghost.error_code()),
        (404, "firewall_resource_not_found")
    );
    let via_sel = api
        .post(
            &format!("/firewalls/{fw}/actions/remove_from_resources"),
            json!({"remove_from": [{"type": "server", "server": {"id": db}}]}),
        )
        .await;
    assert_eq!(via_sel.error_code(), "firewall_managed_by_label_selector");

    let in_use = api.delete(&format!("/firewalls/{fw}")).await;
    assert_eq!(
        (in_use.status, in_use.error_code()),
        (422, "resource_in_use")
    );
    let rm = api
        .post(
            &format!("/firewalls/{fw}/actions/remove_from_resources"),
            json!({"remove_from": [{"type": "server", "server": {"id": web}}, {"type": "label_selector", "label_selector": {"selector": "role=db"}}]}),
        )
        .await;
    assert_eq!(rm.status, 201, "{}", rm.body);
    assert!(
        rm.body["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["command"] == "remove_firewall")
    );
    api.wait(&action_ids(&rm.body, "actions")).await;
    assert_eq!(
        api.get(&format!("/servers/{web}")).await.body["server"]["public_net"]["firewalls"],
        json!([])
    );
    let renamed = api
        .put(
            &format!("/firewalls/{fw}"),
            json!({"name": "edge2", "labels": {}}),
        )
        .await;
    assert_eq!(renamed.body["firewall"]["name"], "edge2");
    assert_eq!(
        api.put(&format!("/firewalls/{fw}"), json!({"rules": []}))
            .await
            .error_code(),
        "invalid_input"
    );
    assert_eq!(api.delete(&format!("/firewalls/{fw}")).await.status, 204);
    assert_eq!(api.get(&format!("/firewalls/{fw}")).await.status, 404);

    // Firewalls given at server creation are applied by the create action.
    let fw2 = api
        .post("/firewalls", json!({"name": "at-create"}))
        .await
        .body["firewall"]["id"]
        .as_u64()
        .unwrap();
    let s = api
        .running_server("with-fw", json!({"firewalls": [{"firewall": fw2}]}))
        .await;
    assert_eq!(
        api.get(&format!("/servers/{s}")).await.body["server"]["public_net"]["firewalls"],
        json!([{"id": fw2, "status": "applied"}])
    );
    api.conforms();
}

#[tokio::test]
async fn volumes_create_attach_detach_resize_delete() {
    let api = Api::fast().await;
    let srv = api.running_server("vm", json!({})).await;
    let far = api.running_server("far", json!({"location": "hel1"})).await;
    let r = api.post("/volumes", json!({"name": "data", "size": 10, "location": "fsn1", "format": "ext4", "labels": {"a": "b"}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let vol = r.body["volume"]["id"].as_u64().unwrap();
    assert_eq!(r.body["volume"]["status"], "creating");
    assert_eq!(
        r.body["volume"]["linux_device"],
        format!("/dev/disk/by-id/scsi-0HC_Volume_{vol}")
    );
    assert_eq!(r.body["next_actions"], json!([]));
    api.wait_one(&r.body["action"]).await;
    assert_eq!(
        api.get(&format!("/volumes/{vol}")).await.body["volume"]["status"],
        "available"
    );

    let bad = api
        .post(
            "/volumes",
            json!({"name": "-x", "size": 5, "format": "zfs", "automount": true}),
        )
        .await;
    assert_eq!(
        bad.field_names(),
        ["size", "name", "format", "location", "automount"]
    );
    assert_eq!(
        api.post(
            "/volumes",
            json!({"name": "data", "size": 10, "location": "fsn1"})
        )
        .await
        .error_code(),
        "uniqueness_error"
    );

    let wrong_loc = api
        .post(
            &format!("/volumes/{vol}/actions/attach"),
            json!({"server": far}),
        )
        .await;
    assert_eq!(wrong_loc.error_code(), "invalid_input");
    let at = api
        .post(
            &format!("/volumes/{vol}/actions/attach"),
            json!({"server": srv, "automount": false}),
        )
        .await;
    assert_eq!(at.body["action"]["command"], "attach_volume");
    api.wait_one(&at.body["action"]).await;
    assert_eq!(
        api.get(&format!("/volumes/{vol}")).await.body["volume"]["server"],
        srv
    );
    assert_eq!(
        api.get(&format!("/servers/{srv}")).await.body["server"]["volumes"],
        json!([vol])
    );
    let again = api
        .post(
            &format!("/volumes/{vol}/actions/attach"),
            json!({"server": srv}),
        )
        .await;
    assert_eq!(again.error_code(), "volume_already_attached");
    assert_eq!(
        api.delete(&format!("/volumes/{vol}")).await.error_code(),
        "resource_in_use"
    );

    let shrink = api
        .post(
            &format!("/volumes/{vol}/actions/resize"),
            json!({"size": 10}),
        )
        .await;
    assert_eq!(shrink.field_names(), ["size"]);
    let grow = api
        .post(
            &format!("/volumes/{vol}/actions/resize"),
            json!({"size": 50}),
        )
        .await;
    api.wait_one(&grow.body["action"]).await;
    assert_eq!(
        api.get(&format!("/volumes/{vol}")).await.body["volume"]["size"],
        50
    );

    let de = api
        .post_empty(&format!("/volumes/{vol}/actions/detach"))
        .await;
    assert_eq!(de.body["action"]["command"], "detach_volume");
    api.wait_one(&de.body["action"]).await;
    assert_eq!(
        api.get(&format!("/volumes/{vol}")).await.body["volume"]["server"],
        Value::Null
    );
    assert_eq!(
        api.put(&format!("/volumes/{vol}"), json!({"name": "data2"}))
            .await
            .body["volume"]["name"],
        "data2"
    );
    assert_eq!(api.delete(&format!("/volumes/{vol}")).await.status, 204);

    // Created for a server: its location, attached by a next action.
    let r = api
        .post(
            "/volumes",
            json!({"name": "logs", "size": 10, "server": srv, "automount": true}),
        )
        .await;
    assert_eq!(r.body["volume"]["location"]["name"], "fsn1");
    assert_eq!(r.body["next_actions"][0]["command"], "attach_volume");
    let mut ids = vec![r.body["action"]["id"].as_u64().unwrap()];
    ids.extend(action_ids(&r.body, "next_actions"));
    api.wait(&ids).await;
    let logs = r.body["volume"]["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/volumes/{logs}")).await.body["volume"]["server"],
        srv
    );

    // Deleting the server detaches, never deletes, its volumes.
    let del = api.delete(&format!("/servers/{srv}")).await;
    api.wait_one(&del.body["action"]).await;
    assert_eq!(
        api.get(&format!("/volumes/{logs}")).await.body["volume"]["server"],
        Value::Null
    );
    api.conforms();
}

#[tokio::test]
async fn action_endpoints_batch_and_per_resource() {
    let api = Api::fast().await;
    let r = api.create_server("a", json!({})).await;
    let sid = r.body["server"]["id"].as_u64().unwrap();
    let create = r.body["action"]["id"].as_u64().unwrap();
    let start = r.body["next_actions"][0]["id"].as_u64().unwrap();

    let batch = api
        .get(&format!("/actions?id={create}&id=987654&id={start}"))
        .await;
    assert_eq!(batch.status, 200);
    assert_eq!(
        action_ids(&batch.body, "actions"),
        [create, start],
        "unknown IDs are left out"
    );
    assert_eq!(api.get("/actions").await.error_code(), "invalid_input");
    assert_eq!(
        api.get(&format!("/actions/{create}")).await.body["action"]["resources"],
        json!([{"id": sid, "type": "server"}])
    );
    assert_eq!(api.get("/actions/987654").await.status, 404);
    let per = api
        .get(&format!("/servers/{sid}/actions?sort=id:desc"))
        .await;
    assert_eq!(action_ids(&per.body, "actions"), [start, create]);
    assert_eq!(
        api.get(&format!("/servers/actions/{create}")).await.status,
        200
    );
    assert_eq!(
        api.get(&format!("/firewalls/actions/{create}"))
            .await
            .status,
        404
    );
    assert_eq!(
        api.get(&format!("/servers/{sid}/actions/{create}"))
            .await
            .status,
        200
    );
    assert_eq!(api.get("/servers/999/actions").await.status, 404);
    api.wait(&[create, start]).await;
    let ok = api
        .get(&format!("/servers/{sid}/actions?status=success"))
        .await;
    assert_eq!(ok.body["actions"].as_array().unwrap().len(), 2);
    api.conforms();
}

/// With actions that outlast the test, intermediate states and locks are asserted without racing the clock.
#[tokio::test]
async fn intermediate_states_and_locks_while_actions_run() {
    let api = Api::start(SandboxConfig {
        action_duration: Duration::from_secs(600),
        ..SandboxConfig::default()
    })
    .await;
    let r = api.create_server("slow", json!({})).await;
    let id = r.body["server"]["id"].as_u64().unwrap();
    assert_eq!(r.body["action"]["progress"], 0);
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "initializing"
    );
    for (path, body) in [
        (format!("/servers/{id}/actions/poweroff"), json!({})),
        (
            format!("/servers/{id}/actions/rebuild"),
            json!({"image": "debian-12"}),
        ),
    ] {
        let locked = api.post(&path, body).await;
        assert_eq!(
            (locked.status, locked.error_code()),
            (423, "locked"),
            "{path}"
        );
    }
    assert_eq!(
        api.delete(&format!("/servers/{id}")).await.error_code(),
        "locked"
    );
    // Name and labels may still be edited while an action runs.
    assert_eq!(
        api.put(&format!("/servers/{id}"), json!({"labels": {"a": "b"}}))
            .await
            .status,
        200
    );
    let a = api
        .get(&format!("/actions/{}", r.body["action"]["id"]))
        .await;
    assert_eq!(a.body["action"]["status"], "running");
    assert_eq!(a.body["action"]["finished"], Value::Null);

    let fw = api
        .post(
            "/firewalls",
            json!({"name": "slow-fw", "apply_to": [{"type": "server", "server": {"id": id}}]}),
        )
        .await;
    let fw_id = fw.body["firewall"]["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["public_net"]["firewalls"],
        json!([{"id": fw_id, "status": "pending"}])
    );
    let again = api
        .post(
            &format!("/firewalls/{fw_id}/actions/set_rules"),
            json!({"rules": []}),
        )
        .await;
    assert_eq!(again.error_code(), "locked");
    assert_eq!(
        api.delete(&format!("/firewalls/{fw_id}"))
            .await
            .error_code(),
        "locked"
    );

    let v = api
        .post(
            "/volumes",
            json!({"name": "slow-v", "size": 10, "location": "fsn1"}),
        )
        .await;
    let vid = v.body["volume"]["id"].as_u64().unwrap();
    let resize = api
        .post(
            &format!("/volumes/{vid}/actions/resize"),
            json!({"size": 20}),
        )
        .await;
    assert_eq!(resize.error_code(), "locked");
    assert_eq!(
        api.delete(&format!("/volumes/{vid}")).await.error_code(),
        "locked"
    );

    api.conforms();
}

/// A running server from a fast sandbox, reloaded into a slow one, shows the transitional statuses.
#[tokio::test]
async fn transitional_statuses_of_power_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let state = Some(dir.path().join("state.json"));
    let fast = Api::start(SandboxConfig {
        state_file: state.clone(),
        ..SandboxConfig::for_tests()
    })
    .await;
    let a = fast.running_server("a", json!({})).await;
    let b = fast.running_server("b", json!({})).await;
    fast.sandbox.shutdown().await;

    let slow = Api::start(SandboxConfig {
        state_file: state,
        action_duration: Duration::from_secs(600),
        ..SandboxConfig::default()
    })
    .await;
    let off = slow
        .post_empty(&format!("/servers/{a}/actions/poweroff"))
        .await;
    assert_eq!(off.status, 201);
    assert_eq!(
        slow.get(&format!("/servers/{a}")).await.body["server"]["status"],
        "stopping"
    );
    let del = slow.delete(&format!("/servers/{b}")).await;
    assert_eq!(del.status, 200);
    assert_eq!(
        slow.get(&format!("/servers/{b}")).await.body["server"]["status"],
        "deleting"
    );
    let running = slow
        .get(&format!("/servers/{b}/actions?status=running"))
        .await;
    assert_eq!(running.body["actions"][0]["command"], "delete_server");
    slow.conforms();
}

#[tokio::test]
async fn zero_action_duration_finishes_on_the_next_request() {
    let api = Api::start(SandboxConfig {
        action_duration: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let r = api.create_server("now", json!({})).await;
    assert_eq!(r.body["action"]["status"], "running");
    let id = r.body["server"]["id"].as_u64().unwrap();
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "running"
    );
    api.conforms();
}

#[tokio::test]
async fn auth_is_required_and_a_configured_token_must_match() {
    let api = Api::start(SandboxConfig {
        token: Some("s3cret".into()),
        ..SandboxConfig::for_tests()
    })
    .await;
    let none = api.send(Method::GET, "/servers", None, None).await;
    assert_eq!((none.status, none.error_code()), (401, "unauthorized"));
    assert!(!none.header("ratelimit-remaining").is_empty());
    assert!(!none.header("x-correlation-id").is_empty());
    let wrong = api.send(Method::GET, "/servers", None, Some("guess")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(api.get("/servers").await.status, 200);
    api.conforms();
}

#[tokio::test]
async fn rate_limit_headers_and_429_when_the_bucket_is_empty() {
    let api = Api::start(SandboxConfig {
        rate_limit: RateLimitConfig {
            limit: 3,
            refill_per_second: 0.0,
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for expected in ["2", "1", "0"] {
        let r = api.get("/locations").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), "3");
        assert_eq!(r.header("ratelimit-remaining"), expected);
        assert!(r.header("ratelimit-reset").parse::<u64>().unwrap() >= now);
    }
    let r = api.get("/locations").await;
    assert_eq!((r.status, r.error_code()), (429, "rate_limit_exceeded"));
    assert_eq!(r.header("ratelimit-remaining"), "0");
    let unauth = api.send(Method::GET, "/locations", None, None).await;
    assert_eq!(
        unauth.status, 429,
        "unauthenticated requests are limited too"
    );
    api.conforms();

    // With the default budget the headers say 3600 per hour.
    let default = Api::fast().await;
    let r = default.get("/locations").await;
    assert_eq!(
        (r.header("ratelimit-limit"), r.header("ratelimit-remaining")),
        ("3600", "3599")
    );
}

#[tokio::test]
async fn pagination_over_more_than_fifty_servers() {
    let api = Api::start(SandboxConfig {
        action_duration: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    for i in 0..60 {
        let r = api
            .create_server(
                &format!("s{i:02}"),
                json!({"labels": {"batch": if i % 2 == 0 { "even" } else { "odd" }}}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let first = api.get("/servers").await;
    assert_eq!(first.body["servers"].as_array().unwrap().len(), 25);
    assert_eq!(
        first.body["meta"]["pagination"],
        json!({"page": 1, "per_page": 25, "previous_page": null, "next_page": 2, "last_page": 3, "total_entries": 60})
    );
    assert!(first.header("link").contains("rel=\"next\""));

    let clamped = api.get("/servers?per_page=500").await;
    assert_eq!(clamped.body["servers"].as_array().unwrap().len(), 50);
    assert_eq!(clamped.body["meta"]["pagination"]["per_page"], 50);

    let mut seen = Vec::new();
    let mut page = Some(1u64);
    while let Some(p) = page {
        let r = api
            .get(&format!("/servers?per_page=50&page={p}&sort=name:desc"))
            .await;
        seen.extend(
            r.body["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned()),
        );
        page = r.body["meta"]["pagination"]["next_page"].as_u64();
    }
    let mut expected: Vec<String> = (0..60).map(|i| format!("s{i:02}")).collect();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "every server exactly once, in the requested order"
    );

    let last = api.get("/servers?per_page=50&page=2").await;
    assert_eq!(last.body["meta"]["pagination"]["next_page"], Value::Null);
    assert_eq!(last.body["meta"]["pagination"]["previous_page"], 1);
    assert!(!last.header("link").contains("rel=\"next\""));
    let filtered = api
        .get("/servers?label_selector=batch%3Dodd&per_page=50")
        .await;
    assert_eq!(filtered.body["meta"]["pagination"]["total_entries"], 30);
    assert_eq!(
        api.get("/servers?page=0").await.error_code(),
        "invalid_input"
    );
    assert_eq!(
        api.get("/servers?sort=ram").await.error_code(),
        "invalid_input"
    );
    api.conforms();
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let api = Api::start(SandboxConfig {
        action_duration: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    for (name, labels) in [
        ("a", json!({"env": "production", "type": "web"})),
        ("b", json!({"env": "production", "type": "database"})),
        ("c", json!({"env": "staging"})),
        ("d", json!({"env": "testing", "sovstack.dev/stack": "demo"})),
    ] {
        assert_eq!(
            api.create_server(name, json!({"labels": labels}))
                .await
                .status,
            201
        );
    }
    let names = |r: Resp| -> Vec<String> {
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = |s: &str| {
        format!(
            "/servers?label_selector={}",
            sovstack::sandbox::query::encode(s)
        )
    };
    assert_eq!(
        names(api.get(&q("env=production,type!=database")).await),
        ["a"]
    );
    assert_eq!(names(api.get(&q("env==production")).await), ["a", "b"]);
    assert_eq!(
        names(api.get(&q("env in (testing,staging)")).await),
        ["c", "d"]
    );
    assert_eq!(
        names(api.get(&q("env notin (production)")).await),
        ["c", "d"]
    );
    assert_eq!(names(api.get(&q("!type")).await), ["c", "d"]);
    assert_eq!(names(api.get(&q("type")).await), ["a", "b"]);
    assert_eq!(names(api.get(&q("sovstack.dev/stack=demo")).await), ["d"]);
    assert_eq!(names(api.get("/servers?name=c").await), ["c"]);
    assert_eq!(
        names(api.get("/servers?status=running&status=off").await).len(),
        4
    );
    let bad = api.get(&q("env in (a")).await;
    assert_eq!((bad.status, bad.error_code()), (422, "invalid_input"));
    api.conforms();
}

#[tokio::test]
async fn correlation_ids_are_unique_and_logged() {
    let api = Api::fast().await;
    let a = api.get("/servers").await;
    let b = api.get("/servers/404").await;
    assert_ne!(a.header("x-correlation-id"), b.header("x-correlation-id"));
    let log = api.sandbox.request_log().entries();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].correlation_id, a.header("x-correlation-id"));
    assert_eq!(
        (log[1].endpoint.as_str(), log[1].status),
        ("GET /servers/{id}", 404)
    );
    assert_eq!(api.sandbox.request_log().count("GET /servers"), 1);
    api.sandbox.reset_log();
    assert!(api.sandbox.request_log().is_empty());
}

/// Runs a fixed request sequence and returns the statuses it got.
async fn status_sequence(faults: &str, seed: u64) -> Vec<u16> {
    let api = Api::start(SandboxConfig {
        faults: FaultSpec::parse(faults).unwrap(),
        fault_seed: seed,
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(api.get("/locations").await.status);
    }
    out
}

#[tokio::test]
async fn probabilistic_faults_are_deterministic_under_a_seed() {
    let a = status_sequence("GET /locations:503@0.5", 42).await;
    let b = status_sequence("GET /locations:503@0.5", 42).await;
    let c = status_sequence("GET /locations:503@0.5", 43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&503) && a.contains(&200));
    let nth = status_sequence("GET /locations:429#2,*:504#4+", 0).await;
    assert_eq!(&nth[..5], &[200, 429, 200, 504, 504]);
}

#[tokio::test]
async fn injected_errors_latency_and_failing_actions() {
    let api = Api::start(SandboxConfig {
        faults: FaultSpec::parse(
            "POST /servers:502#1,GET /server_types:latency=30ms,POST /servers/*/actions/poweroff:action_error=hardware_fault,DELETE /servers/*:409#1",
        )
        .unwrap(),
        ..SandboxConfig::for_tests()
    })
    .await;
    let first = api.create_server("f", json!({})).await;
    assert_eq!((first.status, first.error_code()), (502, "bad_gateway"));
    assert_eq!(
        api.get("/servers").await.body["servers"],
        json!([]),
        "an injected error performs nothing"
    );
    let id = api.running_server("f", json!({})).await;

    let t = Instant::now();
    assert_eq!(api.get("/server_types").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(30));

    let off = api
        .post_empty(&format!("/servers/{id}/actions/poweroff"))
        .await;
    assert_eq!(off.status, 201);
    let done = api.wait_one(&off.body["action"]).await;
    assert_eq!(done["status"], "error");
    assert_eq!(done["error"]["code"], "hardware_fault");
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["status"],
        "running",
        "a failed action changes nothing"
    );

    let conflict = api.delete(&format!("/servers/{id}")).await;
    assert_eq!((conflict.status, conflict.error_code()), (409, "conflict"));
    let log = api.sandbox.request_log().entries();
    assert!(log.iter().any(|e| e.status == 409 && !e.faults.is_empty()));
    api.conforms();
}

#[tokio::test]
async fn a_lost_create_response_still_creates_so_clients_can_adopt() {
    let api = Api::start(SandboxConfig {
        faults: FaultSpec::parse(
            "POST /servers:fail_after_create#1,POST /firewalls:drop_after_create#1",
        )
        .unwrap(),
        ..SandboxConfig::for_tests()
    })
    .await;
    let labels = json!({"sovstack.stack": "demo", "sovstack.address": "server.gpu"});
    let r = api.create_server("gpu", json!({"labels": labels})).await;
    assert_eq!((r.status, r.error_code()), (503, "unavailable"));
    let found = api
        .get("/servers?label_selector=sovstack.stack%3Ddemo%2Csovstack.address%3Dserver.gpu")
        .await;
    assert_eq!(
        found.body["servers"].as_array().unwrap().len(),
        1,
        "the server exists despite the 503"
    );

    let dropped = api
        .http
        .post(format!("{}/firewalls", api.sandbox.base_url()))
        .bearer_auth("t")
        .json(&json!({"name": "edge", "labels": labels}))
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection must close without a response"
    );
    let fws = api.get("/firewalls?name=edge").await;
    assert_eq!(
        fws.body["firewalls"].as_array().unwrap().len(),
        1,
        "the firewall exists despite the dropped response"
    );
    let log = api.sandbox.request_log().entries();
    assert!(log.iter().any(|e| e.dropped && e.status == 201));
    // A retry sees the name taken, which is how a client learns to adopt by labels.
    assert_eq!(
        api.post("/firewalls", json!({"name": "edge"}))
            .await
            .error_code(),
        "uniqueness_error"
    );
    api.conforms();
}

#[tokio::test]
async fn faults_can_be_changed_while_running() {
    let api = Api::fast().await;
    assert_eq!(api.get("/servers").await.status, 200);
    api.sandbox
        .set_faults(FaultSpec::parse("*:500").unwrap(), 0);
    assert_eq!(api.get("/servers").await.error_code(), "server_error");
    api.sandbox.set_faults(FaultSpec::default(), 0);
    assert_eq!(api.get("/servers").await.status, 200);
}

#[tokio::test]
async fn state_persists_atomically_and_ids_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let config = SandboxConfig {
        state_file: Some(state.clone()),
        ..SandboxConfig::for_tests()
    };
    let api = Api::start(config.clone()).await;
    let first = api
        .running_server("keep", json!({"labels": {"k": "v"}}))
        .await;
    let fw = api.post("/firewalls", json!({"name": "fw"})).await.body["firewall"]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        api.post("/ssh_keys", json!({"name": "key", "public_key": KEY_A}))
            .await
            .status,
        201
    );
    let gone = api.running_server("gone", json!({})).await;
    let del = api.delete(&format!("/servers/{gone}")).await;
    api.wait_one(&del.body["action"]).await;
    api.get("/servers").await;
    api.sandbox.shutdown().await;

    let on_disk: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(on_disk.is_object());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temp files left behind: {leftovers:?}"
    );

    let api = Api::start(config).await;
    let s = api.get(&format!("/servers/{first}")).await;
    assert_eq!(
        (
            s.body["server"]["name"].as_str(),
            s.body["server"]["status"].as_str()
        ),
        (Some("keep"), Some("running"))
    );
    assert_eq!(s.body["server"]["labels"], json!({"k": "v"}));
    assert_eq!(api.get(&format!("/firewalls/{fw}")).await.status, 200);
    assert_eq!(api.get(&format!("/servers/{gone}")).await.status, 404);
    assert_eq!(
        api.get("/ssh_keys?name=key").await.body["ssh_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let next = api.running_server("new", json!({})).await;
    assert!(next > gone, "IDs are never reused: {next} after {gone}");
    assert_eq!(
        api.get(&format!("/servers/{next}")).await.body["server"]["public_net"]["ipv4"]["ip"],
        "127.0.1.3"
    );
    api.conforms();
}

#[tokio::test]
async fn corrupt_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("bad.json");
    std::fs::write(&state, "{oops").unwrap();
    let err = Sandbox::start(
        SandboxConfig {
            state_file: Some(state),
            ..SandboxConfig::for_tests()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("not valid"), "{err}");
}

fn ipv4_addresses_in(v: &Value, out: &mut Vec<Ipv4Addr>) {
    match v {
        Value::String(s) => out.extend(s.parse::<Ipv4Addr>()),
        Value::Array(a) => a.iter().for_each(|x| ipv4_addresses_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| ipv4_addresses_in(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn servers_only_ever_get_loopback_addresses() {
    let api = Api::fast().await;
    for i in 0..3 {
        api.create_server(&format!("seq{i}"), json!({})).await;
    }
    let list = api.get("/servers").await;
    let ips: Vec<_> = list.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["public_net"]["ipv4"]["ip"].clone())
        .collect();
    assert_eq!(ips, ["127.0.1.1", "127.0.1.2", "127.0.1.3"]);
    let mut all = Vec::new();
    for e in api.sandbox.request_log().entries() {
        if let Some(b) = &e.response_body {
            ipv4_addresses_in(b, &mut all);
        }
    }
    assert!(
        !all.is_empty() && all.iter().all(Ipv4Addr::is_loopback),
        "{all:?}"
    );
    assert!(list.body["servers"].as_array().unwrap().iter().all(|s| {
        // IPv6 networks come from the documentation prefix, which is never routed.
        let ip = s["public_net"]["ipv6"]["ip"].as_str().unwrap();
        ip.starts_with("2001:db8:") && ip.ends_with("::/64")
    }));

    let fixed = Api::start(SandboxConfig {
        server_ipv4: ServerIpv4::Fixed(Ipv4Addr::LOCALHOST),
        ..SandboxConfig::for_tests()
    })
    .await;
    for i in 0..2 {
        let r = fixed.create_server(&format!("fx{i}"), json!({})).await;
        assert_eq!(r.body["server"]["public_net"]["ipv4"]["ip"], "127.0.0.1");
    }
    assert!("192.168.1.1".parse::<ServerIpv4>().is_err());
}

// The validator must be able to fail, or the contract checks above prove nothing.
#[test]
fn validator_matches_templates_and_reports_violations_with_paths() {
    let api = spec();
    assert_eq!(
        api.find("POST", "/v1/servers/5/actions/poweroff")
            .unwrap()
            .template,
        "/servers/{id}/actions/poweroff"
    );
    assert_eq!(
        api.find("GET", "/v1/servers/5/actions/9").unwrap().template,
        "/servers/{id}/actions/{action_id}"
    );
    assert_eq!(
        api.find("GET", "/v1/servers/actions/9").unwrap().template,
        "/servers/actions/{id}"
    );
    assert!(api.find("PATCH", "/v1/servers").is_none());

    let good = json!({"ssh_key": {"id": 1, "name": "k", "fingerprint": "f", "public_key": "p", "labels": {}, "created": "2016-01-30T23:55:00Z"}});
    assert!(
        api.validate_response("GET", "/v1/ssh_keys/1", 200, Some(&good))
            .is_empty()
    );
    let mut bad = good.clone();
    bad["ssh_key"]["id"] = json!("1");
    bad["ssh_key"]["created"] = json!("yesterday");
    bad["ssh_key"].as_object_mut().unwrap().remove("labels");
    let v = api.validate_response("GET", "/v1/ssh_keys/1", 200, Some(&bad));
    let paths: Vec<_> = v.iter().map(|x| x.instance_path.as_str()).collect();
    assert!(paths.contains(&"/ssh_key/id"), "{v:?}");
    assert!(paths.contains(&"/ssh_key/created"), "{v:?}");
    assert!(
        paths.contains(&"/ssh_key"),
        "missing `labels` is reported on its object: {v:?}"
    );

    let err = json!({"error": {"code": "not_found", "message": "x", "details": null}});
    assert!(
        api.validate_response("GET", "/v1/ssh_keys/1", 404, Some(&err))
            .is_empty()
    );
    assert!(
        !api.validate_response("GET", "/v1/ssh_keys/1", 404, Some(&json!({"message": "x"})))
            .is_empty()
    );
    assert!(
        !api.validate_response("DELETE", "/v1/ssh_keys/1", 204, Some(&json!({})))
            .is_empty(),
        "204 has no body"
    );
    assert!(
        !api.validate_response("GET", "/v1/ssh_keys/1", 302, None)
            .is_empty()
    );

    let v = api.validate_request(
        "POST",
        "/v1/firewalls",
        Some(&json!({"name": "x", "bogus": 1})),
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        api.validate_request("POST", "/v1/firewalls", None).len() == 1,
        "body required"
    );
    assert!(
        api.validate_request(
            "POST",
            "/v1/servers",
            Some(&json!({"name": "a", "server_type": "cx23", "image": "x"}))
        )
        .is_empty()
    );
    assert!(
        !api.validate_query("GET", "/v1/servers", Some("page=x"))
            .is_empty()
    );
    assert!(
        !api.validate_query("GET", "/v1/servers", Some("colour=red"))
            .is_empty()
    );
    assert!(
        !api.validate_query("GET", "/v1/servers", Some("sort=ram"))
            .is_empty()
    );
    assert!(
        api.validate_query(
            "GET",
            "/v1/servers",
            Some("sort=name%3Adesc&status=running&label_selector=a%3D1")
        )
        .is_empty()
    );
}

#[tokio::test]
async fn log_checker_reports_every_violation_at_once() {
    let api = Api::fast().await;
    api.get("/servers").await;
    api.get("/locations").await;
    let mut entries = api.sandbox.request_log().entries();
    assert!(check_log(&entries, RequestCheck::All).is_empty());
    entries[0].response_body = Some(json!({"servers": "nope"}));
    entries[1].response_body = Some(json!({"locations": [{"id": 0}]}));
    let v = check_log(&entries, RequestCheck::All);
    assert!(
        v.iter()
            .any(|x| x.exchange == "GET /servers" && x.instance_path == "/servers"),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.exchange == "GET /servers" && x.instance_path.is_empty()),
        "missing meta: {v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.exchange == "GET /locations" && x.instance_path == "/locations/0/id"),
        "{v:?}"
    );
}

#[tokio::test]
async fn references_by_numeric_id_as_the_official_clients_send_them() {
    let api = Api::fast().await;
    let key_id = api.key_a("k").await;
    // cx23 (22), ubuntu-24.04 x86 (161547269), hel1 (3), as JSON numbers.
    let r = api
        .post(
            "/servers",
            json!({"name": "by-id", "server_type": 22, "image": 161547269, "location": 3, "ssh_keys": [key_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let server = &r.body["server"];
    assert_eq!(
        (
            &server["server_type"]["name"],
            &server["image"]["name"],
            &server["location"]["name"]
        ),
        (&json!("cx23"), &json!("ubuntu-24.04"), &json!("hel1"))
    );
    let bad = api
        .post(
            "/servers",
            json!({"name": "bad", "server_type": 0, "image": 1.5, "location": true}),
        )
        .await;
    assert_eq!(
        bad.field_names(),
        ["server_type", "image", "location"],
        "{}",
        bad.body
    );
    let vol = api
        .post("/volumes", json!({"name": "v", "size": 10, "location": 3}))
        .await;
    assert_eq!(
        vol.body["volume"]["location"]["name"], "hel1",
        "{}",
        vol.body
    );
    api.conforms_responses();
}

#[tokio::test]
async fn protection_is_reflected_and_enforced() {
    let api = Api::fast().await;
    let id = api.running_server("guarded", json!({})).await;
    let path = format!("/servers/{id}/actions/change_protection");
    let uneven = api.post(&path, json!({"delete": true})).await;
    assert_eq!(
        (uneven.status, uneven.field_names()),
        (422, vec!["rebuild".to_owned()])
    );
    let on = api
        .post(&path, json!({"delete": true, "rebuild": true}))
        .await;
    assert_eq!(on.body["action"]["command"], "change_protection");
    api.wait_one(&on.body["action"]).await;
    let server = api.get(&format!("/servers/{id}")).await.body["server"].clone();
    assert_eq!(
        server["protection"],
        json!({"delete": true, "rebuild": true})
    );
    let del = api.delete(&format!("/servers/{id}")).await;
    assert_eq!((del.status, del.error_code()), (423, "protected"));
    let rebuild = api
        .post(
            &format!("/servers/{id}/actions/rebuild"),
            json!({"image": "debian-12"}),
        )
        .await;
    assert_eq!(rebuild.error_code(), "protected");

    let vol = api
        .post(
            "/volumes",
            json!({"name": "v", "size": 10, "location": "fsn1"}),
        )
        .await;
    let vid = vol.body["volume"]["id"].as_u64().unwrap();
    api.wait_one(&vol.body["action"]).await;
    let vpath = format!("/volumes/{vid}/actions/change_protection");
    api.wait_one(&api.post(&vpath, json!({"delete": true})).await.body["action"])
        .await;
    assert_eq!(
        api.get(&format!("/volumes/{vid}")).await.body["volume"]["protection"],
        json!({"delete": true})
    );
    assert_eq!(
        api.delete(&format!("/volumes/{vid}")).await.error_code(),
        "protected"
    );
    api.wait_one(&api.post(&vpath, json!({"delete": false})).await.body["action"])
        .await;
    assert_eq!(api.delete(&format!("/volumes/{vid}")).await.status, 204);
    api.conforms();
}

#[tokio::test]
async fn backups_and_per_kind_action_lists() {
    let api = Api::fast().await;
    let id = api.running_server("backed-up", json!({})).await;
    let on = api
        .post_empty(&format!("/servers/{id}/actions/enable_backup"))
        .await;
    assert_eq!(on.body["action"]["command"], "enable_backup", "{}", on.body);
    api.wait_one(&on.body["action"]).await;
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["backup_window"],
        "02-06"
    );
    let off = api
        .post_empty(&format!("/servers/{id}/actions/disable_backup"))
        .await;
    api.wait_one(&off.body["action"]).await;
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["backup_window"],
        Value::Null
    );

    let vol = api
        .post(
            "/volumes",
            json!({"name": "v", "size": 10, "location": "fsn1"}),
        )
        .await;
    api.wait_one(&vol.body["action"]).await;
    let commands = |r: &Resp| -> Vec<String> {
        r.body["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["command"].as_str().unwrap().to_owned())
            .collect()
    };
    let servers = api.get("/servers/actions?sort=id:desc").await;
    assert_eq!(
        commands(&servers),
        [
            "disable_backup",
            "enable_backup",
            "start_server",
            "create_server"
        ]
    );
    let first = servers.body["actions"][3]["id"].as_u64().unwrap();
    let by_id = api
        .get(&format!("/servers/actions?id={first}&status=success"))
        .await;
    assert_eq!(commands(&by_id), ["create_server"]);
    assert_eq!(
        commands(&api.get("/volumes/actions").await),
        ["create_volume"]
    );
    assert!(commands(&api.get("/firewalls/actions").await).is_empty());
    let paged = api.get("/servers/actions?per_page=1&page=2").await;
    assert_eq!(paged.body["meta"]["pagination"]["total_entries"], 4);
    assert_eq!(
        api.get("/servers/actions?sort=nope").await.error_code(),
        "invalid_input"
    );
    api.conforms();
}

#[tokio::test]
async fn a_server_is_locked_while_an_action_on_it_runs() {
    let api = Api::start(SandboxConfig {
        faults: FaultSpec::parse("POST /servers/*/actions/reboot:action_duration=30s").unwrap(),
        ..SandboxConfig::for_tests()
    })
    .await;
    let id = api.running_server("busy", json!({})).await;
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["locked"],
        false
    );
    let reboot = api
        .post_empty(&format!("/servers/{id}/actions/reboot"))
        .await;
    assert_eq!(reboot.body["action"]["status"], "running");
    assert_eq!(
        api.get(&format!("/servers/{id}")).await.body["server"]["locked"],
        true
    );
    for action in ["poweroff", "enable_backup", "change_protection"] {
        let r = api
            .post(&format!("/servers/{id}/actions/{action}"), json!({}))
            .await;
        assert_eq!((r.status, r.error_code()), (423, "locked"), "{action}");
    }
    api.conforms();
}
