//! The flag tables, lookups and command-line reading of v0.33.0, against what the real parser does.

use super::advice::DEPRECATED_FLAGS;
use super::advice::FLAG_ADVICE;
use super::command::looks_like_flag;
use super::*;
use crate::validate::knowledge::Version;

fn v33() -> &'static VllmFlags {
    VllmFlags::for_version("0.33.0").expect("table for 0.33.0")
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn table_has_all_435_option_strings_of_v0_33_0() {
    let t = v33();
    assert_eq!(t.len(), 435);
    assert_eq!(t.version, Version::new(0, 33, 0));
    // Same set as the .txt file (the two data files must not drift apart).
    let txt = include_str!("../../data/flags-v0.33.0.txt");
    let mut from_txt: Vec<&str> = txt
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    from_txt.sort_unstable();
    assert_eq!(from_txt, t.names());
}

#[test]
fn version_lookup_accepts_v_prefix_and_rejects_unknown() {
    assert!(VllmFlags::for_version("v0.33.0").is_some());
    assert!(VllmFlags::for_version("0.32.0").is_none());
    assert!(VllmFlags::for_version("latest").is_none());
    assert_eq!(VllmFlags::latest().version, Version::new(0, 33, 0));
    assert_eq!(VllmFlags::known_versions(), vec![Version::new(0, 33, 0)]);
}

#[test]
fn otlp_traces_endpoint_is_known_and_takes_one_value() {
    let FlagLookup::Known(info) = v33().lookup("--otlp-traces-endpoint") else {
        panic!("expected known");
    };
    assert!(info.takes_value);
    assert_eq!(info.nargs, Nargs::One);
    assert_eq!(info.dest, "otlp_traces_endpoint");
    assert_eq!(info.group, "ObservabilityConfig");
}

#[test]
fn underscore_and_equals_spellings_resolve_to_the_registered_flag() {
    for w in [
        "--max_model_len",
        "--max-model-len=8192",
        "--max_model_len=8192",
    ] {
        match v33().lookup(w) {
            FlagLookup::Known(info) => assert_eq!(info.flag, "--max-model-len", "{w}"),
            other => panic!("{w}: {other:?}"),
        }
    }
    // Single-dash aliases are not normalised, and keep their own registration.
    assert!(
        matches!(v33().lookup("-tp"), FlagLookup::Known(i) if i.dest == "tensor_parallel_size")
    );
}

#[test]
fn optimization_level_short_forms() {
    for w in ["-O3", "-O=3", "-O", "-Odecode"] {
        assert!(
            matches!(v33().lookup(w), FlagLookup::Known(i) if i.flag == "--optimization-level"),
            "{w}"
        );
    }
}

#[test]
fn model_flag_is_deprecated() {
    match v33().lookup("--model") {
        FlagLookup::Deprecated {
            info, replacement, ..
        } => {
            assert_eq!(info.flag, "--model");
            assert!(replacement.contains("positional"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        v33().lookup("--model=X"),
        FlagLookup::Deprecated { .. }
    ));
}

#[test]
fn negative_forms_are_listed_flags_sharing_the_dest() {
    let t = v33();
    let FlagLookup::Known(on) = t.lookup("--enable-prefix-caching") else {
        panic!()
    };
    let FlagLookup::Known(off) = t.lookup("--disable-prefix-caching") else {
        panic!()
    };
    assert_eq!(on.dest, off.dest);
    assert_eq!(on.nargs, Nargs::Zero);
    assert!(matches!(
        t.lookup("--no-kv-sharing-fast-prefill"),
        FlagLookup::Known(_)
    ));
    // Not every flag has a `--no-` form.
    assert!(matches!(
        t.lookup("--no-enable-prefix-caching"),
        FlagLookup::Unknown { .. }
    ));
    assert_eq!(
        t.same_dest("--tensor-parallel-size"),
        vec!["--tensor-parallel-size", "-tp"]
    );
}

#[test]
fn typo_is_unknown_with_suggestion() {
    assert_eq!(
        v33().lookup("--max-model-lenght"),
        FlagLookup::Unknown {
            suggestion: Some("--max-model-len")
        }
    );
    assert_eq!(
        v33().lookup("--otlp-trace-endpoint"),
        FlagLookup::Unknown {
            suggestion: Some("--otlp-traces-endpoint")
        }
    );
    assert_eq!(
        v33().lookup("--zzzzzzzzzzzzzzzz"),
        FlagLookup::Unknown { suggestion: None }
    );
}

#[test]
fn unique_prefix_is_an_abbreviation_ambiguous_prefix_is_unknown() {
    assert!(matches!(
        v33().lookup("--otlp-traces"),
        FlagLookup::Abbreviation { of } if of.flag == "--otlp-traces-endpoint"
    ));
    // `--max-` prefixes many flags: argparse calls it ambiguous.
    assert!(matches!(v33().lookup("--max-"), FlagLookup::Unknown { .. }));
}

#[test]
fn dotted_json_keys_attach_to_their_base_flag() {
    match v33().lookup("--compilation-config.mode") {
        FlagLookup::DottedJson { base, key } => {
            assert_eq!(base.flag, "--compilation-config");
            assert_eq!(key, "mode");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        v33().lookup("--compilation_config.pass_config.x+"),
        FlagLookup::DottedJson { key, .. } if key == "pass_config.x"
    ));
    assert!(matches!(
        v33().lookup("-cc.mode"),
        FlagLookup::DottedJson { .. }
    ));
    assert!(matches!(
        v33().lookup("--nope.mode"),
        FlagLookup::Unknown { .. }
    ));
    // A switch has no JSON value to set keys in.
    assert!(matches!(
        v33().lookup("--enforce-eager.x"),
        FlagLookup::Unknown { .. }
    ));
}

#[test]
fn advice_table() {
    let redundant: Vec<_> = flag_advice("--enable-chunked-prefill").collect();
    assert_eq!(redundant.len(), 1);
    assert_eq!(redundant[0].kind, AdviceKind::Redundant);
    assert!(flag_advice("--enable-prefix-caching").any(|a| a.kind == AdviceKind::Redundant));
    assert!(flag_advice("--max-model-len").next().is_none());
    // Every advised flag exists in the table.
    for a in FLAG_ADVICE {
        assert!(v33().get(a.flag).is_some(), "{}", a.flag);
    }
    for d in DEPRECATED_FLAGS {
        assert!(v33().get(d.flag).is_some(), "{}", d.flag);
    }
}

#[test]
fn parse_finds_positional_model_and_flag_values() {
    let p = v33().parse_command(&args(&[
        "Qwen/Qwen2.5-1.5B-Instruct",
        "--max-model-len",
        "8192",
    ]));
    assert_eq!(
        p.model,
        Some(ModelArg {
            value: "Qwen/Qwen2.5-1.5B-Instruct".into(),
            index: 0,
            source: ModelSource::Positional
        })
    );
    assert_eq!(p.flags.len(), 1);
    assert_eq!(p.flags[0].flag, "--max-model-len");
    assert_eq!(p.flags[0].index, 1);
    assert_eq!(p.flags[0].values, vec![("8192".to_string(), 2)]);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.value_of("--max-model-len"), Some("8192"));
}

#[test]
fn parse_model_after_flags_is_still_positional() {
    let p = v33().parse_command(&args(&[
        "--max-model-len",
        "8192",
        "Qwen/Q",
        "--enforce-eager",
    ]));
    assert_eq!(
        p.model.as_ref().map(|m| (m.value.as_str(), m.index)),
        Some(("Qwen/Q", 2))
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn parse_model_flag_is_found_and_reported_deprecated() {
    let p = v33().parse_command(&args(&["--model", "X"]));
    assert_eq!(
        p.model,
        Some(ModelArg {
            value: "X".into(),
            index: 1,
            source: ModelSource::ModelFlag
        })
    );
    assert!(matches!(
        p.problems[..],
        [CommandProblem::DeprecatedFlag {
            index: 0,
            flag: "--model",
            ..
        }]
    ));
    let p = v33().parse_command(&args(&["--model=X"]));
    assert_eq!(p.model.as_ref().map(|m| m.index), Some(0));
}

#[test]
fn parse_leading_serve_is_reported() {
    let p = v33().parse_command(&args(&["serve", "Qwen/Q"]));
    assert_eq!(p.problems[0], CommandProblem::LeadingServe { index: 0 });
    assert_eq!(p.model.as_ref().map(|m| m.value.as_str()), Some("Qwen/Q"));
    let p = v33().parse_command(&args(&["vllm", "serve", "Qwen/Q"]));
    assert_eq!(p.problems, vec![CommandProblem::LeadingServe { index: 0 }]);
    assert_eq!(p.model.as_ref().map(|m| m.index), Some(2));
}

#[test]
fn parse_tutorial_command() {
    // The tutorial's shape (stack-content.md §5 items 3, 4): `--model` plus a redundant switch.
    let p = v33().parse_command(&args(&[
        "--model",
        "Qwen/Qwen2.5-1.5B-Instruct",
        "--enable-chunked-prefill",
        "--otlp-traces-endpoint",
        "http://otel-collector:4317",
        "--collect-detailed-traces",
        "all",
    ]));
    assert_eq!(
        p.model.as_ref().map(|m| m.source),
        Some(ModelSource::ModelFlag)
    );
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    let advice: Vec<_> = p
        .advice()
        .into_iter()
        .map(|(i, a)| (i, a.flag, a.kind))
        .collect();
    assert_eq!(
        advice,
        vec![
            (2, "--enable-chunked-prefill", AdviceKind::Redundant),
            (5, "--collect-detailed-traces", AdviceKind::NoEffect),
        ]
    );
}

#[test]
fn advice_on_flag_combinations() {
    let p = v33().parse_command(&args(&["M", "--collect-detailed-traces", "model,worker"]));
    assert!(
        p.advice()
            .iter()
            .any(|(_, a)| a.kind == AdviceKind::Requires("--otlp-traces-endpoint"))
    );
    let p = v33().parse_command(&args(&["M", "--disable-log-stats"]));
    assert!(p.advice().is_empty());
    let p = v33().parse_command(&args(&[
        "M",
        "--disable-log-stats",
        "--otlp-traces-endpoint",
        "http://c:4317",
    ]));
    assert!(
        p.advice()
            .iter()
            .any(|(i, a)| *i == 1 && matches!(a.kind, AdviceKind::RiskyWith(_)))
    );
}

#[test]
fn parse_invalid_choice_and_missing_value() {
    let p = v33().parse_command(&args(&["M", "--collect-detailed-traces", "everything"]));
    assert!(
        matches!(&p.problems[..], [CommandProblem::InvalidChoice { value, .. }] if value == "everything")
    );
    let p = v33().parse_command(&args(&["M", "--max-model-len"]));
    assert_eq!(
        p.problems,
        vec![CommandProblem::MissingValue {
            index: 1,
            flag: "--max-model-len"
        }]
    );
    let p = v33().parse_command(&args(&["M", "--max-model-len", "--enforce-eager"]));
    assert!(matches!(
        p.problems[..],
        [CommandProblem::MissingValue { index: 1, .. }]
    ));
}

#[test]
fn parse_switch_with_inline_value_is_rejected() {
    let p = v33().parse_command(&args(&["M", "--enforce-eager=true"]));
    assert_eq!(
        p.problems,
        vec![CommandProblem::UnexpectedValue {
            index: 1,
            flag: "--enforce-eager"
        }]
    );
}

#[test]
fn parse_unknown_flag_does_not_eat_the_model_detection() {
    let p = v33().parse_command(&args(&[
        "M",
        "--max-model-lenght",
        "8192",
        "--port",
        "8000",
    ]));
    assert_eq!(p.model.as_ref().map(|m| m.value.as_str()), Some("M"));
    assert_eq!(
        p.problems,
        vec![CommandProblem::UnknownFlag {
            index: 1,
            written: "--max-model-lenght".into(),
            suggestion: Some("--max-model-len")
        }]
    );
    assert_eq!(p.value_of("--port"), Some("8000"));
}

#[test]
fn parse_extra_positional_and_double_model() {
    let p = v33().parse_command(&args(&["A", "B"]));
    assert_eq!(
        p.problems,
        vec![CommandProblem::ExtraPositional {
            index: 1,
            value: "B".into()
        }]
    );
    let p = v33().parse_command(&args(&["A", "--model", "B"]));
    assert!(p.problems.contains(&CommandProblem::ModelGivenTwice {
        positional: 0,
        flag: 2
    }));
}

#[test]
fn parse_served_model_name_without_model() {
    let p = v33().parse_command(&args(&["--served-model-name", "qwen", "--port", "8000"]));
    assert_eq!(p.model, None);
    assert_eq!(
        p.problems,
        vec![CommandProblem::ServedNameWithoutModel { index: 0 }]
    );
    // nargs='+' swallows what was meant as the model.
    let p = v33().parse_command(&args(&["--served-model-name", "qwen", "Qwen/Q"]));
    assert_eq!(p.model, None);
    assert!(p.problems.contains(&CommandProblem::ModelSwallowed {
        flag_index: 0,
        value_index: 2
    }));
    // With --config the model may come from the file.
    let p = v33().parse_command(&args(&["--config", "c.yaml", "--served-model-name", "q"]));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.config_file, Some(("c.yaml".to_string(), 1)));
}

#[test]
fn parse_no_model() {
    let p = v33().parse_command(&args(&["--port", "8000"]));
    assert_eq!(p.problems, vec![CommandProblem::NoModel]);
}

#[test]
fn parse_duplicates_by_dest_including_aliases_and_negations() {
    let p = v33().parse_command(&args(&["M", "-tp", "2", "--tensor-parallel-size", "4"]));
    assert_eq!(
        p.problems,
        vec![CommandProblem::Duplicate {
            first: 1,
            second: 3,
            dest: "tensor_parallel_size"
        }]
    );
    assert_eq!(p.value_of("-tp"), Some("4"));
    let p = v33().parse_command(&args(&[
        "M",
        "--enable-prefix-caching",
        "--disable-prefix-caching",
    ]));
    assert!(matches!(p.problems[..], [CommandProblem::Duplicate { .. }]));
    // Append actions may repeat.
    let p = v33().parse_command(&args(&["M", "--middleware", "a", "--middleware", "b"]));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn parse_short_optimization_level_and_negative_numbers() {
    let p = v33().parse_command(&args(&["M", "-O3", "--seed", "-1"]));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.value_of("--optimization-level"), Some("3"));
    assert_eq!(p.value_of("--seed"), Some("-1"));
}

#[test]
fn parse_lone_o_needs_a_level() {
    let p = v33().parse_command(&args(&["M", "-O", "2"]));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.value_of("--optimization-level"), Some("2"));
    let p = v33().parse_command(&args(&["M", "-O", "--port", "8000"]));
    assert!(matches!(
        &p.problems[..],
        [CommandProblem::UnknownFlag { index: 1, .. }]
    ));
}

#[test]
fn parse_dotted_json_consumes_next_value() {
    let p = v33().parse_command(&args(&[
        "M",
        "--compilation-config.mode",
        "3",
        "--port",
        "8001",
    ]));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.flags[0].json_key.as_deref(), Some("mode"));
    assert_eq!(p.flags[0].values, vec![("3".to_string(), 2)]);
    assert_eq!(p.model.as_ref().map(|m| m.index), Some(0));
}

#[test]
fn env_var_facts() {
    assert!(matches!(
        env_var("VLLM_OTLP_TRACES_ENDPOINT").map(|e| e.fact),
        Some(EnvVarFact::DoesNotExist { use_instead, .. }) if use_instead.contains("--otlp-traces-endpoint")
    ));
    assert!(matches!(
        env_var("VLLM_TRACE_FUNCTION").map(|e| e.fact),
        Some(EnvVarFact::Harmful { .. })
    ));
    assert!(matches!(
        env_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").map(|e| e.fact),
        Some(EnvVarFact::Enumerated { values, default: "grpc", .. }) if values == ["grpc", "http/protobuf"]
    ));
    assert!(env_var("HF_HOME").is_none());
}

#[test]
fn trace_endpoint_checks() {
    assert_eq!(
        check_trace_endpoint(None, "http://otel-collector:4317"),
        Ok(())
    );
    assert_eq!(
        check_trace_endpoint(Some("grpc"), "http://otel-collector:4317"),
        Ok(())
    );
    assert_eq!(
        check_trace_endpoint(Some("http/protobuf"), "http://c:4318/v1/traces"),
        Ok(())
    );
    assert!(matches!(
        check_trace_endpoint(Some("http/protobuf"), "http://c:4318"),
        Err(OtlpEndpointProblem::HttpPathMissing(_))
    ));
    assert!(matches!(
        check_trace_endpoint(Some("http/json"), "http://c:4318/v1/traces"),
        Err(OtlpEndpointProblem::UnsupportedProtocol(_))
    ));
    assert!(matches!(
        check_trace_endpoint(None, "otel-collector:4317"),
        Err(OtlpEndpointProblem::NoScheme(_))
    ));
}

#[test]
fn image_otel_package_ranges() {
    let v = |a, b, c| image_otel_packages(Version::new(a, b, c));
    assert_eq!(v(0, 8, 5), OtelPackages::Bundled);
    assert_eq!(v(0, 9, 0), OtelPackages::Bundled);
    assert_eq!(v(0, 9, 1), OtelPackages::Unknown);
    assert_eq!(v(0, 9, 2), OtelPackages::Missing);
    assert_eq!(v(0, 15, 0), OtelPackages::Missing);
    assert_eq!(v(0, 16, 0), OtelPackages::Missing);
    assert_eq!(v(0, 17, 0), OtelPackages::Bundled);
    assert_eq!(v(0, 33, 0), OtelPackages::Bundled);
    assert_eq!(v(0, 34, 0), OtelPackages::Unknown);
    assert_eq!(v(0, 8, 4), OtelPackages::Unknown);
}

#[test]
fn looks_like_flag_matches_argparse() {
    assert!(looks_like_flag("--port"));
    assert!(looks_like_flag("-tp"));
    assert!(!looks_like_flag("-1"));
    assert!(!looks_like_flag("-0.5"));
    assert!(!looks_like_flag("8192"));
    assert!(!looks_like_flag("-"));
}
