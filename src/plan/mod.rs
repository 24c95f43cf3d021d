//! Desired x prior state x refreshed actual -> `Plan`, and its text/JSON renderers.

mod diff;
mod model;
mod saved;
pub mod text;

pub use diff::{PlanError, PlanInput, PlanOptions, compute, unified_diff};
pub use model::*;
pub use saved::{PlanInputs, SavedPlan, SavedPlanError, plan_sha256};

/// JSON Schema of the plan document (`schemas/plan.schema.json`).
pub fn plan_schema_json() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    /// The checked-in schema is what the types generate; regenerate with UPDATE_SCHEMAS=1.
    #[test]
    fn checked_in_plan_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/plan.schema.json");
        let generated = super::plan_schema_json();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &generated).expect("write schema");
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            current, generated,
            "schemas/plan.schema.json is stale: run UPDATE_SCHEMAS=1 cargo test --lib plan::"
        );
    }
}
