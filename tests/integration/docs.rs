//! `docs/language.md` covers the language as the code defines it: every block and attribute of
//! the schema, every function, every diagnostic code the loader and the rules emit. Its HCL
//! examples parse, and its whole-stack example loads and validates cleanly.

use sovstack::config::{LoadOptions, diagnostic, functions, load_str, schema};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn doc() -> String {
    std::fs::read_to_string(repo("docs/language.md")).expect("docs/language.md exists")
}

/// The text of the `### \`path\`` section, up to the next heading.
fn section<'a>(doc: &'a str, path: &str) -> Option<&'a str> {
    let heading = format!("### `{path}`\n");
    let start = doc.find(&heading)? + heading.len();
    let rest = &doc[start..];
    let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
    Some(&rest[..end])
}

#[test]
fn every_block_and_attribute_is_documented_with_an_example() {
    let doc = doc();
    let mut missing = Vec::new();
    for b in schema::BLOCKS {
        let Some(text) = section(&doc, b.path) else {
            missing.push(format!(
                "block `{}` has no `### `{}`` section",
                b.path, b.path
            ));
            continue;
        };
        if !text.contains("```hcl\n") {
            missing.push(format!("block `{}` has no HCL example", b.path));
        }
        for a in b.attrs {
            if !text.contains(&format!("\n| `{}` |", a.name)) {
                missing.push(format!(
                    "attribute `{}` of `{}` has no table row",
                    a.name, b.path
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/language.md lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_function_is_documented() {
    let doc = doc();
    let missing: Vec<&str> = functions::NAMES
        .iter()
        .copied()
        .filter(|f| !doc.contains(&format!("| `{f}(")))
        .collect();
    assert!(missing.is_empty(), "functions without a row: {missing:?}");
}

/// Every `"<area>::<name>"` string literal in the Rust files under `dir`.
fn code_literals(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            code_literals(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            out.extend(literals_in(&text));
        }
    }
}

fn literals_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('"') {
        let rest = &text[i + 1..];
        let Some(end) = rest.find('"') else { continue };
        let candidate = &rest[..end];
        let Some((area, name)) = candidate.split_once("::") else {
            continue;
        };
        let area_ok = !area.is_empty() && area.bytes().all(|b| b.is_ascii_lowercase());
        let name_ok = !name.is_empty()
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if area_ok && name_ok {
            out.push(candidate.to_string());
        }
    }
    out
}

#[test]
fn the_code_scanner_finds_literals_and_nothing_else() {
    let found = literals_in(
        r#"Diagnostic::error("vllm::unknown-flag", x); let p = "a::b::c"; "Not::this"; "x::"; "policy::location""#,
    );
    assert_eq!(found, vec!["vllm::unknown-flag", "policy::location"]);
}

fn emitted_codes() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    code_literals(&repo("src/validate"), &mut codes);
    code_literals(&repo("src/config"), &mut codes);
    code_literals(&repo("src/engine"), &mut codes);
    codes
}

#[test]
fn every_diagnostic_code_is_documented() {
    let doc = doc();
    let codes = emitted_codes();
    // The scan must see the rules: a broken scanner would make this test pass vacuously.
    for known in [
        "policy::unpinned-image",
        "vllm::shared-memory",
        "collector::invalid-key",
        "language::syntax",
    ] {
        assert!(codes.contains(known), "scanner missed {known}: {codes:?}");
    }
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("- `{c}`: ")))
        .collect();
    assert!(
        missing.is_empty(),
        "rule codes without a `- `code`: meaning` line in docs/language.md: {missing:?}"
    );
}

#[test]
fn every_documented_code_exists() {
    let doc = doc();
    let codes = emitted_codes();
    let start = doc.find("## Diagnostic codes").expect("codes section");
    let stale: Vec<String> = doc[start..]
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once("`:").map(|(c, _)| c.to_string()))
        .filter(|c| !codes.contains(c))
        .collect();
    assert!(
        stale.is_empty(),
        "documented codes no rule emits: {stale:?}"
    );
}

fn hcl_examples(doc: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = doc;
    let mut offset = 0;
    while let Some(i) = rest.find("```hcl\n") {
        let body_start = i + "```hcl\n".len();
        let Some(len) = rest[body_start..].find("```") else {
            break;
        };
        let line = doc[..offset + i].lines().count() + 1;
        out.push((line, &rest[body_start..body_start + len]));
        offset += body_start + len + 3;
        rest = &rest[body_start + len + 3..];
    }
    out
}

#[test]
fn every_hcl_example_parses() {
    let doc = doc();
    let examples = hcl_examples(&doc);
    assert!(examples.len() >= 30, "found {} examples", examples.len());
    for (line, text) in examples {
        if let Err(e) = hcl_edit::parser::parse_body(text) {
            panic!("the example at docs/language.md:{line} does not parse: {e}\n{text}");
        }
    }
}

#[test]
fn the_whole_stack_example_loads_and_validates_cleanly() {
    let doc = doc();
    let start = doc.find("## A whole stack").expect("whole-stack section");
    let (_, text) = hcl_examples(&doc[start..])
        .into_iter()
        .next()
        .expect("an example");
    let loaded = load_str("language.md", text, Path::new("."), &LoadOptions::default());
    let mut diags = loaded.diagnostics;
    if let Some(stack) = &loaded.stack {
        diags.extend(sovstack::validate::check(stack));
    }
    assert!(
        loaded.stack.is_some() && diags.is_empty(),
        "{}",
        diagnostic::render(&diags, &loaded.source)
    );
}

/// The README's main command is a bare `cargo run -- plan`; the workspace also builds the test
/// stand-ins' binaries, so without `default-run` cargo would not know which one to run.
#[test]
fn the_readme_main_command_runs_sovstack() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README");
    assert!(readme.contains("cargo run --locked -- plan"), "README");
    let manifest = std::fs::read_to_string(repo("Cargo.toml")).expect("Cargo.toml");
    let package = manifest
        .split("\n[")
        .next()
        .expect("the [package] table comes first");
    assert!(
        package.contains("default-run = \"sovstack\""),
        "[package] needs default-run = \"sovstack\""
    );
}
