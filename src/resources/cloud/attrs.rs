//! Reading a `Desired`'s attributes (with references to earlier results filled in) and building
//! the `ResourceState` to record.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::config::value;
use crate::providers::hcloud::Labels;
use crate::providers::hcloud::models::UpdateResource;
use crate::resources::Desired;
use crate::resources::{ApplyContext, ApplyError};
use crate::state::{ResourceState, ResourceStatus};

pub(crate) fn precondition(address: &str, message: impl Into<String>) -> ApplyError {
    ApplyError::Precondition {
        address: address.to_string(),
        message: message.into(),
        help: None,
    }
}

/// `addr.attribute` -> value for everything recorded, for filling in after-apply references.
pub(crate) fn known_values(cx: &ApplyContext) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    let Ok(resources) = cx.resources.read() else {
        return known;
    };
    for (address, state) in resources.iter() {
        if let Some(id) = &state.id {
            known.insert(format!("{address}.id"), id.clone());
        }
        for (key, v) in &state.attributes {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => continue,
            };
            known.insert(format!("{address}.{key}"), text);
        }
    }
    known
}

fn resolve_json(v: &Json, known: &BTreeMap<String, String>) -> Json {
    match v {
        Json::String(s) if value::is_unknown(s) => Json::String(value::resolve(s, known)),
        Json::Array(a) => Json::Array(a.iter().map(|x| resolve_json(x, known)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), resolve_json(x, known)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A desired resource's attributes with every after-apply reference filled in from state.
#[derive(Debug, Clone)]
pub(crate) struct Attrs {
    pub address: String,
    pub map: BTreeMap<String, Json>,
}

impl Attrs {
    /// Fails when something the resource needs is still unknown (its dependency was not applied).
    pub fn resolve(cx: &ApplyContext, desired: &Desired) -> Result<Self, ApplyError> {
        let known = known_values(cx);
        let map: BTreeMap<String, Json> = desired
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), resolve_json(v, &known)))
            .collect();
        let mut waiting: Vec<String> = Vec::new();
        for v in map.values() {
            collect_unknowns(v, &mut waiting);
        }
        if !waiting.is_empty() {
            waiting.sort();
            waiting.dedup();
            return Err(ApplyError::Precondition {
                address: desired.address.clone(),
                message: format!("values still unknown: {}", waiting.join(", ")),
                help: Some("the resources they come from must be applied first".into()),
            });
        }
        Ok(Self {
            address: desired.address.clone(),
            map,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Result<&str, ApplyError> {
        self.get(key)
            .and_then(Json::as_str)
            .ok_or_else(|| self.missing(key, "a string"))
    }

    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    pub fn u64(&self, key: &str) -> Result<u64, ApplyError> {
        self.get(key)
            .and_then(Json::as_u64)
            .ok_or_else(|| self.missing(key, "a whole number"))
    }

    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        self.get(key).and_then(Json::as_bool).unwrap_or(default)
    }

    pub fn strings(&self, key: &str) -> Result<Vec<String>, ApplyError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.missing(key, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(self.missing(key, "a list of strings")),
        }
    }

    pub fn labels(&self) -> Result<Labels, ApplyError> {
        labels_of(self.get("labels")).ok_or_else(|| self.missing("labels", "a map of strings"))
    }

    /// The name and labels to send when either changed; `None` when neither did.
    pub fn rename_relabel(&self, changed: &[String]) -> Result<Option<UpdateResource>, ApplyError> {
        let has = |k: &str| changed.iter().any(|c| c == k);
        if !has("name") && !has("labels") {
            return Ok(None);
        }
        Ok(Some(UpdateResource {
            name: has("name")
                .then(|| self.str("name").map(str::to_owned))
                .transpose()?,
            labels: has("labels").then(|| self.labels()).transpose()?,
        }))
    }

    fn missing(&self, key: &str, what: &str) -> ApplyError {
        precondition(&self.address, format!("attribute `{key}` must be {what}"))
    }
}

fn collect_unknowns(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::String(s) => out.extend(value::unknowns(s)),
        Json::Array(a) => a.iter().for_each(|x| collect_unknowns(x, out)),
        Json::Object(o) => o.values().for_each(|x| collect_unknowns(x, out)),
        _ => {}
    }
}

/// A JSON object of strings as labels; `None` (absent) is an empty set.
pub(crate) fn labels_of(v: Option<&Json>) -> Option<Labels> {
    match v {
        None | Some(Json::Null) => Some(Labels::new()),
        Some(Json::Object(o)) => o
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect(),
        Some(_) => None,
    }
}

pub(crate) fn labels_json(labels: &Labels) -> Json {
    Json::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// The block name of an address: `server.app` -> `app`.
pub(crate) fn block_name(address: &str) -> String {
    crate::config::instance::block_name_of(address)
}

/// The provider id recorded for `address`, as the API's integer id.
pub(crate) fn recorded_id(cx: &ApplyContext, address: &str) -> Option<u64> {
    cx.id_of(address)?.parse().ok()
}

/// Like [`recorded_id`], for a dependency that must already exist.
pub(crate) fn dependency_id(
    cx: &ApplyContext,
    address: &str,
    dependency: &str,
) -> Result<u64, ApplyError> {
    recorded_id(cx, dependency).ok_or_else(|| ApplyError::Precondition {
        address: address.to_string(),
        message: format!("{dependency} has no id in state"),
        help: Some(format!("{dependency} must be created before {address}")),
    })
}

/// What to record: the desired attributes plus the computed ones.
pub(crate) fn ready_state(
    desired: &Desired,
    attrs: &Attrs,
    id: u64,
    computed: impl IntoIterator<Item = (&'static str, Json)>,
) -> ResourceState {
    let mut attributes = attrs.map.clone();
    attributes.insert("id".into(), Json::String(id.to_string()));
    for (k, v) in computed {
        attributes.insert(k.to_string(), v);
    }
    ResourceState {
        kind: desired.kind.to_string(),
        id: Some(id.to_string()),
        attributes,
        sensitive_attributes: BTreeMap::new(),
        dependencies: desired.dependencies.iter().cloned().collect(),
        status: ResourceStatus::Ready,
    }
}

/// After an in-place update: the desired attributes, the prior computed ones kept.
pub(crate) fn updated_state(
    desired: &Desired,
    attrs: &Attrs,
    prior: &ResourceState,
    computed: &[&str],
) -> ResourceState {
    let mut attributes = attrs.map.clone();
    for key in computed {
        if let Some(v) = prior.attributes.get(*key) {
            attributes.insert((*key).to_string(), v.clone());
        }
    }
    ResourceState {
        kind: desired.kind.to_string(),
        id: prior.id.clone(),
        attributes,
        sensitive_attributes: prior.sensitive_attributes.clone(),
        dependencies: desired.dependencies.iter().cloned().collect(),
        status: ResourceStatus::Ready,
    }
}

/// The API id of a recorded resource, or a clear error.
pub(crate) fn prior_id(address: &str, prior: &ResourceState) -> Result<u64, ApplyError> {
    prior
        .id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| precondition(address, "state records no Hetzner id for it"))
}
