//! What the generic handlers need to know about a resource collection, and the lookups they share.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ListSpec;
use crate::body::Body;
use crate::error::ApiError;
use crate::model::Labels;
use crate::store::Store;

/// One collection of the simulated project (`/servers`, `/ssh_keys`, ...): where its records live, how one looks in
/// JSON, which names it accepts. The generic handlers ([`super::crud`], [`super::actions`],
/// [`super::start_action`]) serve every collection through it, so a resource's own module holds only what is
/// particular to it.
pub trait Collection: Send + Sync + 'static {
    type Record;
    /// The JSON key of one record, and its `type` among an action's `resources`, e.g. `server`.
    const KIND: &'static str;
    /// How messages name one record (`SSH key not found`).
    const NOUN: &'static str;
    /// The list endpoint; its key is also the collection's path segment.
    const LIST: ListSpec<'static>;
    /// The `uniqueness_error` message for a name another record already has.
    const NAME_TAKEN: &'static str;

    fn records(store: &Store) -> &BTreeMap<u64, Self::Record>;
    fn records_mut(store: &mut Store) -> &mut BTreeMap<u64, Self::Record>;
    fn to_json(store: &Store, record: &Self::Record) -> Value;
    fn name(record: &Self::Record) -> &str;
    /// The fields `PUT` may change.
    fn editable(record: &mut Self::Record) -> (&mut String, &mut Labels);
    /// Why the API refuses `name`, or `None` when it accepts it.
    fn name_problem(name: &str) -> Option<&'static str>;

    /// Reads a `PUT` body.
    fn read_edit(b: &mut Body) -> Edit {
        Edit::read(b, Self::name_problem)
    }

    /// Refuses to delete record `id` when its protection forbids it or something still uses it.
    fn check_deletable(_id: u64, _record: &Self::Record) -> Result<(), ApiError> {
        Ok(())
    }
}

/// What a `PUT` body asks to change.
pub struct Edit {
    pub name: Option<String>,
    pub labels: Option<Labels>,
}

impl Edit {
    /// Reads `name` and `labels`, then checks the name: a bad name is listed after bad labels.
    pub fn read(b: &mut Body, problem: fn(&str) -> Option<&'static str>) -> Self {
        let name = b.str("name");
        let labels = b.labels("labels");
        check_name(b, name.as_deref(), problem);
        Self { name, labels }
    }

    /// Reads and checks `name` before `labels`: a bad name is listed before bad labels.
    pub fn read_name_first(b: &mut Body, problem: fn(&str) -> Option<&'static str>) -> Self {
        let name = b.str("name");
        check_name(b, name.as_deref(), problem);
        let labels = b.labels("labels");
        Self { name, labels }
    }
}

/// Reports `name`'s problem, if it has one, against the field `name`.
pub fn check_name(b: &mut Body, name: Option<&str>, problem: fn(&str) -> Option<&'static str>) {
    if let Some(p) = name.and_then(problem) {
        b.error("name", p);
    }
}

pub fn find<C: Collection>(s: &Store, id: u64) -> Result<&C::Record, ApiError> {
    C::records(s)
        .get(&id)
        .ok_or_else(|| ApiError::not_found(C::NOUN))
}

/// The record `id`, when it exists and no running action holds it.
pub fn unlocked<C: Collection>(s: &Store, id: u64) -> Result<&C::Record, ApiError> {
    let record = find::<C>(s, id)?;
    if s.is_locked(C::KIND, id) {
        return Err(ApiError::locked(C::NOUN));
    }
    Ok(record)
}

/// Whether a record other than `except` is called `name`.
pub fn name_taken<C: Collection>(s: &Store, name: &str, except: Option<u64>) -> bool {
    C::records(s)
        .iter()
        .any(|(id, r)| C::name(r) == name && Some(*id) != except)
}

/// `{"<kind>": <record>}`, the body of a single-record answer.
pub fn one<C: Collection>(s: &Store, record: &C::Record) -> Value {
    let mut body = Map::new();
    body.insert(C::KIND.to_owned(), C::to_json(s, record));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_long(name: &str) -> Option<&'static str> {
        (name.len() > 3).then_some("too long")
    }

    fn failed_fields(b: Body) -> Vec<String> {
        let e = b.finish().unwrap_err();
        e.details["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn edits_report_the_name_after_or_before_the_labels() {
        let body = br#"{"name": "toolong", "labels": {"bad key": "v"}}"#;
        let mut b = Body::parse(body).unwrap();
        Edit::read(&mut b, too_long);
        assert_eq!(failed_fields(b), ["labels", "name"]);
        let mut b = Body::parse(body).unwrap();
        Edit::read_name_first(&mut b, too_long);
        assert_eq!(failed_fields(b), ["name", "labels"]);
    }

    #[test]
    fn a_record_does_not_take_its_own_name() {
        use crate::handlers::ssh_keys::SshKeys;
        use crate::model::SshKey;
        let mut s = Store::default();
        s.ssh_keys.insert(
            1,
            SshKey {
                id: 1,
                name: "deploy".into(),
                public_key: String::new(),
                fingerprint: String::new(),
                labels: Labels::new(),
                created: chrono::Utc::now(),
            },
        );
        assert!(name_taken::<SshKeys>(&s, "deploy", None));
        assert!(name_taken::<SshKeys>(&s, "deploy", Some(2)));
        assert!(!name_taken::<SshKeys>(&s, "deploy", Some(1)));
        assert!(!name_taken::<SshKeys>(&s, "other", None));
    }
}
