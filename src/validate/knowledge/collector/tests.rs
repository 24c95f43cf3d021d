//! The collector tables read through the lookups, release by release: these pin the facts.

use super::schema::component;
use super::tables::{COMPONENTS, SERVICE};
use super::*;
use crate::config::ComponentKind;
use ComponentKind::{Exporter, Processor, Receiver};
use Shape::List;

fn at(minor: u64) -> CollectorKnowledge {
    CollectorKnowledge::for_version(&v(minor))
}

/// Whether collector 0.`minor`.0 knows `key` of the `ty` component of `kind`.
fn knows_key(minor: u64, kind: ComponentKind, ty: &str, key: &str) -> bool {
    matches!(at(minor).key_status(kind, ty, key), KeyStatus::Known(_))
}

#[test]
fn image_tags_parse_with_and_without_v() {
    assert_eq!(
        CollectorKnowledge::for_image_tag("0.159.0").map(|k| k.version),
        Some(v(159))
    );
    assert_eq!(
        CollectorKnowledge::for_image_tag("v0.102.0").map(|k| k.version),
        Some(v(102))
    );
    assert!(CollectorKnowledge::for_image_tag("latest").is_none());
    assert!(at(160).is_newer_than_known());
    assert!(at(90).is_older_than_known());
    assert!(!at(159).is_newer_than_known());
}

#[test]
fn component_id_type_split() {
    assert_eq!(component_type("otlp/signoz"), "otlp");
    assert_eq!(component_type("filter/pii/x"), "filter");
    assert_eq!(component_type("batch"), "batch");
    assert_eq!(ComponentKind::from_section("exporters"), Some(Exporter));
    assert_eq!(ComponentKind::from_section("exporter"), None);
}

#[test]
fn logging_exporter_removed_at_159_deprecated_at_102() {
    assert_eq!(
        at(159).component(Exporter, "logging"),
        ComponentStatus::Removed {
            since: v(111),
            use_instead: "debug"
        }
    );
    assert!(matches!(
        at(102).component(Exporter, "logging"),
        ComponentStatus::Deprecated { since, use_instead: "debug", .. } if since == Version::new(0, 86, 0)
    ));
    assert!(!at(110).component(Exporter, "logging").is_removed());
    assert!(at(111).component(Exporter, "logging").is_removed());
}

impl ComponentStatus {
    fn is_removed(&self) -> bool {
        matches!(self, ComponentStatus::Removed { .. })
    }
}

#[test]
fn otlp_exporter_alias_after_144_canonical_before() {
    assert!(matches!(
        at(159).component(Exporter, "otlp/signoz"),
        ComponentStatus::DeprecatedAlias { of: "otlp_grpc", since, .. } if since == v(144)
    ));
    assert!(matches!(
        at(102).component(Exporter, "otlp"),
        ComponentStatus::Known(info) if info.name == "otlp_grpc"
    ));
    assert!(matches!(
        at(143).component(Exporter, "otlp"),
        ComponentStatus::Known(_)
    ));
    assert!(matches!(
        at(144).component(Exporter, "otlp"),
        ComponentStatus::DeprecatedAlias { .. }
    ));
    assert!(matches!(
        at(159).component(Exporter, "otlphttp"),
        ComponentStatus::DeprecatedAlias {
            of: "otlp_http",
            ..
        }
    ));
}

#[test]
fn otlp_grpc_not_yet_at_102() {
    assert_eq!(
        at(102).component(Exporter, "otlp_grpc"),
        ComponentStatus::NotYet {
            since: Since::Exact(v(144))
        }
    );
    assert!(matches!(
        at(159).component(Exporter, "otlp_grpc/signoz"),
        ComponentStatus::Known(_)
    ));
    assert!(matches!(
        at(159).component(Exporter, "otlp_http"),
        ComponentStatus::Known(_)
    ));
}

#[test]
fn otlp_receiver_is_not_renamed() {
    // Only the exporters were renamed; the receiver stays `otlp`.
    assert!(matches!(
        at(159).component(Receiver, "otlp"),
        ComponentStatus::Known(_)
    ));
    assert!(matches!(
        at(159).component(Receiver, "otlp_grpc"),
        ComponentStatus::Unknown { .. }
    ));
}

#[test]
fn unknown_component_suggests_only_close_names_valid_at_that_version() {
    assert_eq!(
        at(159).component(Processor, "memorylimiter"),
        ComponentStatus::Unknown {
            suggestion: Some("memory_limiter")
        }
    );
    assert_eq!(
        at(159).component(Exporter, "otlp_grcp"),
        ComponentStatus::Unknown {
            suggestion: Some("otlp_grpc")
        }
    );
    // At 0.102 `otlp_grpc` is not a valid name, so it is not suggested.
    assert_eq!(
        at(102).component(Exporter, "otlp_grcp"),
        ComponentStatus::Unknown { suggestion: None }
    );
    assert_eq!(
        at(159).component(Exporter, "clickhousetraces"),
        ComponentStatus::Unknown { suggestion: None }
    );
}

#[test]
fn redaction_unchecked_before_159() {
    assert!(matches!(
        at(159).component(Processor, "redaction"),
        ComponentStatus::Known(_)
    ));
    assert_eq!(
        at(102).component(Processor, "redaction"),
        ComponentStatus::Unchecked
    );
}

#[test]
fn renamed_without_alias_uses_synthetic_table() {
    const TABLE: &[ComponentInfo] = &[ComponentInfo {
        alias_removed: Some(Version::new(0, 200, 0)),
        ..component(Exporter, "new_name", "test").renamed_from("old_name", Version::new(0, 150, 0))
    }];
    let k = CollectorKnowledge {
        version: Version::new(0, 201, 0),
        components: TABLE,
    };
    assert_eq!(
        k.component(Exporter, "old_name"),
        ComponentStatus::Renamed {
            to: "new_name",
            since: Version::new(0, 150, 0)
        }
    );
}

#[test]
fn metrics_address_known_deprecated_removed_by_version() {
    assert!(matches!(
        at(102).service_key_status("telemetry.metrics.address"),
        KeyStatus::Known(_)
    ));
    assert!(matches!(
        at(115).service_key_status("telemetry.metrics.address"),
        KeyStatus::Deprecated { since, .. } if since == v(111)
    ));
    assert!(matches!(
        at(159).service_key_status("telemetry.metrics.address"),
        KeyStatus::Removed { since, .. } if since == v(128)
    ));
    assert!(matches!(
        at(128).service_key_status("telemetry.metrics.address"),
        KeyStatus::Removed { .. }
    ));
}

#[test]
fn metrics_level_complete_at_159_only() {
    assert_eq!(
        at(159).service_key_status("telemetry.metrics.adress"),
        KeyStatus::Unknown { suggestion: None }
    );
    assert_eq!(
        at(159).service_key_status("telemetry.metrics.readrs"),
        KeyStatus::Unknown {
            suggestion: Some("readers")
        }
    );
    assert_eq!(
        at(120).service_key_status("telemetry.metrics.whatever"),
        KeyStatus::Unchecked
    );
    assert!(matches!(
        at(159).service_key_status("telemetry.metrics.readers[0].pull"),
        KeyStatus::Unchecked
    ));
    assert_eq!(
        at(159).service_key_status("pipelines.traces"),
        KeyStatus::Unchecked
    );
}

#[test]
fn otlp_receiver_keys() {
    let k = at(159);
    assert!(
        matches!(k.key_status(Receiver, "otlp", "protocols.grpc.endpoint"), KeyStatus::Known(f) if f.note.is_some())
    );
    assert!(matches!(
        k.key_status(Receiver, "otlp", "protocols.http.traces_url_path"),
        KeyStatus::Known(_)
    ));
    assert_eq!(
        k.key_status(Receiver, "otlp", "protocol"),
        KeyStatus::Unknown {
            suggestion: Some("protocols")
        }
    );
    assert_eq!(
        k.key_status(Receiver, "otlp", "protocols.grcp"),
        KeyStatus::Unknown {
            suggestion: Some("grpc")
        }
    );
    // Below grpc/http the key sets are partial.
    assert_eq!(
        k.key_status(Receiver, "otlp", "protocols.grpc.transport"),
        KeyStatus::Unchecked
    );
    assert_eq!(
        k.key_status(Receiver, "prometheus", "whatever"),
        KeyStatus::Unchecked
    );
    assert_eq!(
        k.key_status(Receiver, "nonexistent", "x"),
        KeyStatus::Unchecked
    );
}

#[test]
fn file_exporter_create_directory_by_version() {
    assert!(knows_key(159, Exporter, "file/audit", "create_directory"));
    assert_eq!(
        at(102).key_status(Exporter, "file", "create_directory"),
        KeyStatus::NotYet {
            since: Since::Between {
                absent: v(102),
                present: v(159)
            }
        }
    );
    assert_eq!(
        at(130).key_status(Exporter, "file", "create_directory"),
        KeyStatus::Unchecked
    );
    // Top level complete at 0.159 (config.schema.yaml), not before.
    assert_eq!(
        at(159).key_status(Exporter, "file", "paht"),
        KeyStatus::Unknown {
            suggestion: Some("path")
        }
    );
    assert_eq!(
        at(102).key_status(Exporter, "file", "paht"),
        KeyStatus::Unchecked
    );
    assert!(knows_key(102, Exporter, "file", "rotation.max_days"));
    assert_eq!(
        at(102).key_status(Exporter, "file", "rotation.max_day"),
        KeyStatus::Unknown {
            suggestion: Some("max_days")
        }
    );
}

#[test]
fn filter_groups_deprecated_from_146_with_list_note() {
    match at(159).key_status(Processor, "filter/pii", "traces.span") {
        KeyStatus::Deprecated {
            since,
            use_instead,
            facts,
            ..
        } => {
            assert_eq!(since, v(146));
            assert_eq!(use_instead, "trace_conditions");
            assert_eq!(facts.shape, List);
            assert!(facts.note.is_some_and(|n| n.contains("comma")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        at(102).key_status(Processor, "filter", "traces.span"),
        KeyStatus::Known(KeyFacts { shape: List, .. })
    ));
    assert_eq!(
        at(102).key_status(Processor, "filter", "trace_conditions"),
        KeyStatus::NotYet {
            since: Since::Exact(v(146))
        }
    );
    assert!(knows_key(146, Processor, "filter", "trace_conditions"));
}

#[test]
fn memory_limiter_keys_and_rules() {
    assert_eq!(
        at(102).key_status(
            Processor,
            "memory_limiter",
            "min_gc_interval_when_soft_limited"
        ),
        KeyStatus::NotYet {
            since: Since::Exact(v(121))
        }
    );
    assert!(knows_key(
        159,
        Processor,
        "memory_limiter",
        "max_gc_interval_when_hard_limited"
    ));
    assert_eq!(
        at(159).key_status(Processor, "memory_limiter", "limit_mb"),
        KeyStatus::Unknown {
            suggestion: Some("limit_mib")
        }
    );
    assert!(check_memory_limiter(Some("1s"), Some(512), None).is_empty());
    assert!(check_memory_limiter(Some("1s"), None, Some(80)).is_empty());
    assert_eq!(
        check_memory_limiter(Some("0s"), None, None),
        vec![
            MemoryLimiterProblem::CheckIntervalNotPositive,
            MemoryLimiterProblem::NoLimit
        ]
    );
    assert_eq!(
        check_memory_limiter(None, Some(0), Some(0)),
        vec![
            MemoryLimiterProblem::CheckIntervalNotPositive,
            MemoryLimiterProblem::NoLimit
        ]
    );
    assert_eq!(
        check_memory_limiter(Some("soon"), Some(1), None),
        vec![MemoryLimiterProblem::BadDuration("soon".into())]
    );
}

#[test]
fn otlp_exporter_batcher_deprecated_then_removed() {
    assert!(knows_key(102, Exporter, "otlp", "batcher"));
    assert!(matches!(
        at(125).key_status(Exporter, "otlp", "batcher"),
        KeyStatus::Deprecated { .. }
    ));
    assert!(matches!(
        at(159).key_status(Exporter, "otlp_grpc", "batcher"),
        KeyStatus::Removed { .. }
    ));
    assert!(knows_key(159, Exporter, "otlp_grpc", "tls.insecure"));
    // Alias resolves to the same key table.
    assert!(knows_key(159, Exporter, "otlp/signoz", "tls.insecure"));
}

#[test]
fn debug_exporter_key_history() {
    assert_eq!(
        at(102).key_status(Exporter, "debug", "use_internal_logger"),
        KeyStatus::NotYet {
            since: Since::Exact(v(104))
        }
    );
    assert_eq!(
        at(140).key_status(Exporter, "debug", "sending_queue"),
        KeyStatus::Unchecked
    );
    assert!(knows_key(159, Exporter, "debug", "output_paths"));
}

#[test]
fn resource_attributes_items() {
    assert!(matches!(
        at(159).key_status(Processor, "resource", "attributes[0].action"),
        KeyStatus::Known(KeyFacts { note: Some(_), .. })
    ));
    assert!(knows_key(159, Processor, "resource", "attributes.1.key"));
    assert_eq!(
        at(159).key_status(Processor, "resource", "atributes"),
        KeyStatus::Unknown {
            suggestion: Some("attributes")
        }
    );
}

#[test]
fn tables_are_well_formed() {
    // Names unique per kind (old names included), so lookups are unambiguous.
    let mut seen = std::collections::HashSet::new();
    for c in COMPONENTS {
        assert!(seen.insert((c.kind, c.name)), "duplicate {}", c.name);
        if let Some((old, _)) = c.renamed_from {
            assert!(seen.insert((c.kind, old)), "duplicate {old}");
        }
        check_level(c.keys);
    }
    check_level(SERVICE);
    fn check_level(level: &[KeyDef]) {
        let mut names = std::collections::HashSet::new();
        for k in level {
            assert!(names.insert(k.name), "duplicate key {}", k.name);
            if let (Some((d, _, _)), Some((r, _))) = (k.deprecated, k.removed) {
                assert!(d < r, "{} removed before deprecated", k.name);
            }
            check_level(k.children);
        }
    }
}
