//! JSON Schema of the state file, generated from the types so that it cannot drift from them.
//!
//! The checked-in copy is `schemas/state.schema.json`; a test fails when it differs from the generated one.
//! Regenerate with `UPDATE_SCHEMAS=1 cargo test --lib state::schema`.

/// The state file's JSON Schema, pretty-printed with a final newline.
pub fn state_schema_json() -> String {
    let schema = schemars::schema_for!(super::model::StateFile);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/state.schema.json");

    #[test]
    fn checked_in_schema_matches_the_types() {
        let generated = state_schema_json();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(CHECKED_IN, &generated).unwrap();
            return;
        }
        let on_disk = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
        assert!(
            on_disk == generated,
            "schemas/state.schema.json is out of date with src/state/model.rs; regenerate it with \
             `UPDATE_SCHEMAS=1 cargo test --lib state::schema` and review the diff"
        );
    }

    #[test]
    fn a_written_state_validates_against_the_schema() {
        use crate::state::{
            KeyedHasher, OutputState, ResourceState, ResourceStatus, StateFile, StateOp,
        };
        let schema: serde_json::Value = serde_json::from_str(&state_schema_json()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let h = KeyedHasher::from_key([9; 32]);
        let mut s = StateFile::new("demo");
        s.apply(&StateOp::Upsert {
            address: "server.gpu".into(),
            resource: ResourceState {
                kind: "server".into(),
                id: Some("42".into()),
                attributes: [("name".to_string(), serde_json::json!("gpu"))].into(),
                sensitive_attributes: [("root_password".to_string(), h.hash("pw"))].into(),
                dependencies: vec![],
                status: ResourceStatus::Pending,
            },
        });
        s.apply(&StateOp::SetOutputs {
            outputs: [("token".to_string(), OutputState::Sensitive(h.hash("t")))].into(),
        });
        s.seal();
        let v = serde_json::to_value(&s).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        let mut bad = v.clone();
        bad["resources"]["server.gpu"]["status"] = "weird".into();
        assert!(!validator.is_valid(&bad));
    }
}
