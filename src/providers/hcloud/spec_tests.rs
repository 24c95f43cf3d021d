//! The models against the official OpenAPI document (`tests/data/hcloud/cloud.spec.json`):
//! every response example of every endpoint we call deserialises, and every request body we can
//! produce validates against the operation's request schema, with no property the schema lacks.

use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::ErrorEnvelope;
use super::ids::*;
use super::labels::Labels;
use super::models::*;

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/hcloud/cloud.spec.json"
        );
        let text = std::fs::read_to_string(path).expect("spec is vendored in tests/data");
        serde_json::from_str(&text).expect("spec is JSON")
    })
}

fn operation(path: &str, method: &str) -> &'static Value {
    let op = &spec()["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the spec");
    op
}

/// All `examples.*.value` of one response, plus the schema-level `example` (error responses).
fn official_examples(path: &str, method: &str, status: &str) -> Vec<Value> {
    let content = &operation(path, method)["responses"][status]["content"]["application/json"];
    let mut out: Vec<Value> = content["examples"]
        .as_object()
        .map(|m| m.values().map(|e| e["value"].clone()).collect())
        .unwrap_or_default();
    if let Some(example) = content["schema"].get("example") {
        out.push(example.clone());
    }
    out
}

/// The official examples of a response; where the spec has none (most GETs), a body assembled from
/// the per-property `example` values of the response schema, which the spec does give everywhere.
fn response_examples(path: &str, method: &str, status: &str) -> Vec<Value> {
    let official = official_examples(path, method, status);
    if !official.is_empty() {
        return official;
    }
    let schema =
        &operation(path, method)["responses"][status]["content"]["application/json"]["schema"];
    vec![example_from_schema(schema)]
}

fn decode_field<T: DeserializeOwned>(value: &Value, field: &str) -> Result<(), String> {
    let inner = value
        .get(field)
        .ok_or_else(|| format!("no field `{field}`"))?;
    serde_json::from_value::<T>(inner.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn decode_whole<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(value.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn decode_list<T: DeserializeOwned>(value: &Value, field: &str) -> Result<(), String> {
    decode_field::<Vec<T>>(value, field)?;
    decode_field::<ResponseMeta>(value, "meta")
}

/// Reads one response body with the model that parses it.
type Check = Box<dyn Fn(&Value) -> Result<(), String>>;

/// The body's `name` field is one `T`.
fn field<T: DeserializeOwned + 'static>(name: &'static str) -> Check {
    Box::new(move |v| decode_field::<T>(v, name))
}

/// The body's `name` field is a list of `T`, with pagination `meta`.
fn list<T: DeserializeOwned + 'static>(name: &'static str) -> Check {
    Box::new(move |v| decode_list::<T>(v, name))
}

/// The whole body is one `T`.
fn whole<T: DeserializeOwned + 'static>() -> Check {
    Box::new(|v| decode_whole::<T>(v))
}

/// One (path, method, status) whose response we parse, with the model that parses it.
type ResponseCase = (&'static str, &'static str, &'static str, Check);

/// Every response we parse. One row a line: it is a table, and rustfmt would spread each longer
/// row over five lines.
#[rustfmt::skip]
fn response_table() -> Vec<ResponseCase> {
    let action = || field::<Action>("action");
    let actions = || field::<Vec<Action>>("actions");
    vec![
        ("/actions", "get", "200", actions()),
        ("/actions/{id}", "get", "200", action()),
        ("/ssh_keys", "get", "200", list::<SshKey>("ssh_keys")),
        ("/ssh_keys", "post", "201", field::<SshKey>("ssh_key")),
        ("/ssh_keys/{id}", "get", "200", field::<SshKey>("ssh_key")),
        ("/ssh_keys/{id}", "put", "200", field::<SshKey>("ssh_key")),
        ("/servers", "get", "200", list::<Server>("servers")),
        ("/servers", "post", "201", whole::<CreateServerResponse>()),
        ("/servers/{id}", "get", "200", field::<Server>("server")),
        ("/servers/{id}", "put", "200", field::<Server>("server")),
        ("/servers/{id}", "delete", "200", action()),
        ("/servers/{id}/actions/poweroff", "post", "201", action()),
        ("/servers/{id}/actions/poweron", "post", "201", action()),
        ("/servers/{id}/actions/shutdown", "post", "201", action()),
        ("/servers/{id}/actions/change_type", "post", "201", action()),
        ("/servers/{id}/actions/rebuild", "post", "201", whole::<RebuildServerResponse>()),
        ("/firewalls", "get", "200", list::<Firewall>("firewalls")),
        ("/firewalls", "post", "201", whole::<CreateFirewallResponse>()),
        ("/firewalls/{id}", "get", "200", field::<Firewall>("firewall")),
        ("/firewalls/{id}", "put", "200", field::<Firewall>("firewall")),
        ("/firewalls/{id}/actions/set_rules", "post", "201", actions()),
        ("/firewalls/{id}/actions/apply_to_resources", "post", "201", actions()),
        ("/firewalls/{id}/actions/remove_from_resources", "post", "201", actions()),
        ("/volumes", "get", "200", list::<Volume>("volumes")),
        ("/volumes", "post", "201", whole::<CreateVolumeResponse>()),
        ("/volumes/{id}", "get", "200", field::<Volume>("volume")),
        ("/volumes/{id}", "put", "200", field::<Volume>("volume")),
        ("/volumes/{id}/actions/attach", "post", "201", action()),
        ("/volumes/{id}/actions/detach", "post", "201", action()),
        ("/volumes/{id}/actions/resize", "post", "201", action()),
        ("/locations", "get", "200", list::<Location>("locations")),
        ("/locations/{id}", "get", "200", field::<Location>("location")),
        ("/server_types", "get", "200", list::<ServerType>("server_types")),
        ("/server_types/{id}", "get", "200", field::<ServerType>("server_type")),
        ("/images", "get", "200", list::<Image>("images")),
        ("/images/{id}", "get", "200", field::<Image>("image")),
    ]
}

#[test]
fn every_official_response_example_deserialises() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, method, status, check) in response_table() {
        let examples = response_examples(path, method, status);
        assert!(
            !examples.is_empty(),
            "{method} {path} {status} has no example: the table is out of date"
        );
        for example in examples {
            checked += 1;
            if let Err(e) = check(&example) {
                failures.push(format!("{method} {path} {status}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 36, "only {checked} examples checked");
}

#[test]
fn error_examples_deserialise() {
    let mut checked = 0;
    for (path, method, _, _) in response_table() {
        for status in ["4xx", "5xx"] {
            for example in official_examples(path, method, status) {
                let envelope: ErrorEnvelope = serde_json::from_value(example.clone())
                    .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"));
                assert!(!envelope.error.code.is_empty());
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn example_values_keep_their_meaning() {
    // Spot checks that fields land where they belong, not merely that parsing succeeds.
    let example = &response_examples("/servers", "post", "201")[0];
    let created: CreateServerResponse = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(created.server.status, ServerStatus::Initializing);
    assert_eq!(created.action.command, "create_server");
    assert_eq!(
        created.server.location.name,
        example["server"]["location"]["name"].as_str().unwrap()
    );
    assert_eq!(
        created.server.ipv4_address(),
        example["server"]["public_net"]["ipv4"]["ip"].as_str()
    );
    let firewall: Firewall = serde_json::from_value(
        response_examples("/firewalls/{id}", "get", "200")[0]["firewall"].clone(),
    )
    .unwrap();
    assert!(!firewall.rules.is_empty());
    assert!(!firewall.applied_to.is_empty());
}

// ---- requests ----

fn request_schema(path: &str, method: &str) -> &'static Value {
    let schema = &operation(path, method)["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} has no request schema");
    schema
}

/// Fails on any object key the schema does not declare. The spec leaves `additionalProperties`
/// open, so plain JSON Schema validation would accept a misspelt optional field.
fn undeclared_keys(schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    match instance {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, value) in map {
                let here = format!("{at}.{key}");
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => undeclared_keys(sub, value, &here, out),
                    None => match additional {
                        Some(sub) if sub.is_object() => undeclared_keys(sub, value, &here, out),
                        _ => out.push(here),
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    undeclared_keys(item_schema, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn assert_conforms<T: Serialize>(path: &str, method: &str, body: &T) {
    let schema = request_schema(path, method);
    let instance = serde_json::to_value(body).unwrap();
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path}: {instance} violates the schema:\n{}",
        errors.join("\n")
    );
    let mut extra = Vec::new();
    undeclared_keys(schema, &instance, "$", &mut extra);
    assert!(
        extra.is_empty(),
        "{method} {path}: undeclared fields {extra:?} in {instance}"
    );
}

/// A body assembled from the per-property `example`s of a schema. A property without one takes its
/// `default`, its first `enum` value, `null` if nullable, or a plain value of its type.
fn example_from_schema(schema: &Value) -> Value {
    if let Some(example) = schema.get("example").or_else(|| schema.get("default")) {
        return example.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return Value::Object(
            props
                .iter()
                .map(|(k, v)| (k.clone(), example_from_schema(v)))
                .collect(),
        );
    }
    if let Some(items) = schema.get("items") {
        return Value::Array(vec![example_from_schema(items)]);
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"null") {
        return Value::Null;
    }
    match types.first().copied() {
        Some("integer") | Some("number") => json!(1),
        Some("string") => json!("example"),
        Some("boolean") => json!(false),
        Some("object") => json!({}),
        _ => Value::Null,
    }
}

/// The spec's example body parses into our type, and what we write back is the same data (minus
/// fields we deliberately do not support).
fn assert_example_round_trips<T: Serialize + DeserializeOwned>(path: &str, method: &str) {
    let example = example_from_schema(request_schema(path, method));
    let parsed: T = serde_json::from_value(example.clone())
        .unwrap_or_else(|e| panic!("{method} {path}: spec example {example} does not parse: {e}"));
    let written = serde_json::to_value(&parsed).unwrap();
    // We leave nullable optionals out rather than sending `null`; both mean "not set".
    let example = strip_nulls(example);
    let mut diffs = Vec::new();
    subset_diff(&written, &example, "$", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{method} {path}: the round trip changed {diffs:?}\nexample: {example}\nwritten: {written}"
    );
    assert_conforms(path, method, &parsed);
}

/// Everything in `written` must be in `example` with the same value (fields we do not support, and
/// the other arm of a union the synthetic example fills in, may be missing from `written`).
fn subset_diff(written: &Value, example: &Value, at: &str, out: &mut Vec<String>) {
    match (written, example) {
        (Value::Object(w), Value::Object(e)) => {
            for (k, v) in w {
                match e.get(k) {
                    Some(ev) => subset_diff(v, ev, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k} added")),
                }
            }
        }
        (Value::Array(w), Value::Array(e)) if w.len() == e.len() => {
            for (i, (wv, ev)) in w.iter().zip(e).enumerate() {
                subset_diff(wv, ev, &format!("{at}[{i}]"), out);
            }
        }
        (w, e) if w == e => {}
        (w, e) => out.push(format!("{at}: {e} became {w}")),
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

fn labels() -> Labels {
    Labels::from([
        ("sovstack.stack".to_owned(), "prod".to_owned()),
        ("sovstack.address".to_owned(), "server.gpu".to_owned()),
    ])
}

fn rules() -> Vec<FirewallRule> {
    vec![
        FirewallRule::inbound(
            Protocol::Tcp,
            Some("22"),
            ["203.0.113.0/24", "2001:db8::/32"],
        )
        .with_description("ssh from office"),
        FirewallRule::inbound(Protocol::Icmp, None, ["0.0.0.0/0", "::/0"]),
        FirewallRule::outbound(Protocol::Udp, Some("1024-5000"), ["10.0.0.0/8"]),
    ]
}

/// One request body we can produce, with the operation it is sent to.
type RequestCase = (&'static str, &'static str, Value);

fn case(path: &'static str, method: &'static str, body: impl Serialize) -> RequestCase {
    let body = serde_json::to_value(body).expect("request bodies serialise");
    (path, method, body)
}

/// SSH key creation, and the name/label update every resource kind shares.
fn ssh_key_and_update_requests() -> Vec<RequestCase> {
    let mut cases = vec![case(
        "/ssh_keys",
        "post",
        CreateSshKey {
            name: "deploy".into(),
            public_key: "ssh-ed25519 AAAA deploy@example".into(),
            labels: labels(),
        },
    )];
    for path in [
        "/ssh_keys/{id}",
        "/servers/{id}",
        "/firewalls/{id}",
        "/volumes/{id}",
    ] {
        let both = UpdateResource {
            name: Some("renamed".into()),
            labels: Some(labels()),
        };
        cases.push(case(path, "put", both));
        cases.push(case(path, "put", UpdateResource::labels(Labels::new())));
        cases.push(case(path, "put", UpdateResource::name("only-name")));
    }
    cases
}

/// A server with only the required fields, then with every field we can set.
fn server_requests() -> Vec<RequestCase> {
    let mut server = CreateServer::new("gpu-1", "cpx22", "ubuntu-24.04");
    let bare = case("/servers", "post", &server);
    server.location = Some("fsn1".into());
    server.start_after_create = Some(true);
    server.ssh_keys = vec!["deploy".into(), SshKeyId(42).to_string()];
    server.volumes = vec![VolumeId(7)];
    server.firewalls = vec![FirewallRef {
        firewall: FirewallId(3),
    }];
    server.user_data = Some("#cloud-config\n".into());
    server.labels = labels();
    server.public_net = Some(CreatePublicNet {
        enable_ipv4: true,
        enable_ipv6: true,
        ipv4: Some(PrimaryIpId(5)),
        ipv6: None,
    });
    server.automount = Some(false);
    let rebuild = RebuildServer {
        image: "ubuntu-24.04".into(),
        user_data: Some("#cloud-config\n".into()),
    };
    let change_type = ChangeServerType {
        server_type: "cpx32".into(),
        upgrade_disk: false,
    };
    vec![
        bare,
        case("/servers", "post", &server),
        case("/servers/{id}/actions/rebuild", "post", rebuild),
        case("/servers/{id}/actions/change_type", "post", change_type),
    ]
}

fn firewall_requests() -> Vec<RequestCase> {
    let targets = vec![
        FirewallResource::server(ServerId(1)),
        FirewallResource::label_selector("sovstack.stack=prod"),
    ];
    let full = CreateFirewall {
        name: "edge".into(),
        labels: labels(),
        rules: rules(),
        apply_to: targets.clone(),
    };
    let bare = CreateFirewall {
        name: "bare".into(),
        labels: Labels::new(),
        rules: Vec::new(),
        apply_to: Vec::new(),
    };
    let set_rules = "/firewalls/{id}/actions/set_rules";
    vec![
        case("/firewalls", "post", full),
        case("/firewalls", "post", bare),
        case(set_rules, "post", SetFirewallRules { rules: rules() }),
        case(set_rules, "post", SetFirewallRules { rules: Vec::new() }),
        case(
            "/firewalls/{id}/actions/apply_to_resources",
            "post",
            ApplyFirewall {
                apply_to: targets.clone(),
            },
        ),
        case(
            "/firewalls/{id}/actions/remove_from_resources",
            "post",
            RemoveFirewall {
                remove_from: targets,
            },
        ),
    ]
}

fn volume_requests() -> Vec<RequestCase> {
    let create = CreateVolume {
        name: "models".into(),
        size: 100,
        labels: labels(),
        location: None,
        server: Some(ServerId(9)),
        automount: Some(true),
        format: Some(VolumeFormat::Ext4),
    };
    let attach = AttachVolume {
        server: ServerId(9),
        automount: Some(false),
    };
    vec![
        case("/volumes", "post", create),
        case("/volumes/{id}/actions/attach", "post", attach),
        case(
            "/volumes/{id}/actions/resize",
            "post",
            ResizeVolume { size: 200 },
        ),
    ]
}

#[test]
fn request_bodies_conform_to_the_spec() {
    let cases = [
        ssh_key_and_update_requests(),
        server_requests(),
        firewall_requests(),
        volume_requests(),
    ]
    .concat();
    assert_eq!(cases.len(), 26, "a request case went missing");
    for (path, method, body) in cases {
        assert_conforms(path, method, &body);
    }
}

#[test]
fn requests_never_send_null_or_empty_optionals() {
    let body = serde_json::to_value(CreateServer::new("a", "cpx22", "ubuntu-24.04")).unwrap();
    assert_eq!(
        body,
        json!({"name": "a", "server_type": "cpx22", "image": "ubuntu-24.04"})
    );
    // An explicit empty label set must reach the API: PUT replaces labels, so this clears them.
    let body = serde_json::to_value(UpdateResource::labels(Labels::new())).unwrap();
    assert_eq!(body, json!({"labels": {}}));
    let rule =
        serde_json::to_value(FirewallRule::inbound(Protocol::Icmp, None, ["0.0.0.0/0"])).unwrap();
    assert_eq!(
        rule,
        json!({"direction": "in", "protocol": "icmp", "source_ips": ["0.0.0.0/0"]})
    );
}

#[test]
fn spec_request_examples_round_trip() {
    assert_example_round_trips::<CreateSshKey>("/ssh_keys", "post");
    assert_example_round_trips::<UpdateResource>("/servers/{id}", "put");
    assert_example_round_trips::<CreateServer>("/servers", "post");
    assert_example_round_trips::<RebuildServer>("/servers/{id}/actions/rebuild", "post");
    assert_example_round_trips::<ChangeServerType>("/servers/{id}/actions/change_type", "post");
    assert_example_round_trips::<CreateFirewall>("/firewalls", "post");
    assert_example_round_trips::<SetFirewallRules>("/firewalls/{id}/actions/set_rules", "post");
    assert_example_round_trips::<ApplyFirewall>(
        "/firewalls/{id}/actions/apply_to_resources",
        "post",
    );
    assert_example_round_trips::<RemoveFirewall>(
        "/firewalls/{id}/actions/remove_from_resources",
        "post",
    );
    assert_example_round_trips::<CreateVolume>("/volumes", "post");
    assert_example_round_trips::<AttachVolume>("/volumes/{id}/actions/attach", "post");
    assert_example_round_trips::<ResizeVolume>("/volumes/{id}/actions/resize", "post");
}
