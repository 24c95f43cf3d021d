//! Semantic and policy checks over a loaded `Stack`; knowledge tables live here as data.
//!
//! One module per area. Every rule emits a diagnostic with a stable code (`area::what`), the span of
//! the value at fault, a message saying what is wrong and a help line saying what to do. Rules skip
//! values that are only known after apply: a rule never guesses.

mod bootstrap;
mod checks;
mod clickhouse;
mod collector;
mod common;
mod compose;
mod firewall;
pub mod knowledge;
mod logs;
mod names;
mod policy;
mod signoz;
mod vllm;
mod volumes;

use crate::config::{Diagnostics, Stack};

/// Every check over a loaded stack, sorted in source order.
pub fn check(stack: &Stack) -> Diagnostics {
    let mut out = Diagnostics::new();
    policy::check(stack, &mut out);
    names::check(stack, &mut out);
    firewall::check(stack, &mut out);
    compose::check(stack, &mut out);
    vllm::check(stack, &mut out);
    collector::check(stack, &mut out);
    signoz::check(stack, &mut out);
    clickhouse::check(stack, &mut out);
    volumes::check(stack, &mut out);
    logs::check(stack, &mut out);
    bootstrap::check(stack, &mut out);
    checks::check(stack, &mut out);
    out.sort();
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::config::{Diagnostic, LoadOptions, load_str};
    use std::path::Path;

    /// Load an inline stack (which must load without errors) and run every rule on it.
    pub fn run(text: &str) -> Vec<Diagnostic> {
        let loaded = load_str("stack.hcl", text, Path::new("."), &LoadOptions::default());
        assert!(
            !loaded.diagnostics.has_errors(),
            "the test stack does not load: {:#?}",
            loaded.diagnostics
        );
        let stack = loaded.stack.expect("stack");
        super::check(&stack).into_vec()
    }

    /// The diagnostics with `code`.
    pub fn with_code(text: &str, code: &str) -> Vec<Diagnostic> {
        run(text).into_iter().filter(|d| d.code == code).collect()
    }

    /// The one diagnostic with `code` in `text`; fails unless there is exactly one.
    pub fn only(text: &str, code: &str) -> Diagnostic {
        let mut d = with_code(text, code);
        assert_eq!(d.len(), 1, "{d:#?}");
        d.remove(0)
    }

    /// Fails if `text` has a diagnostic with `code`.
    pub fn none(text: &str, code: &str) {
        let d = with_code(text, code);
        assert!(d.is_empty(), "{d:#?}");
    }

    /// The one diagnostic with `code` in `text`, which must point at `at`.
    pub fn only_at(text: &str, code: &str, at: &str) -> Diagnostic {
        let d = only(text, code);
        assert_eq!(pointed(text, &d), at);
        d
    }

    /// Whether a diagnostic has a help line that contains `part`.
    pub fn help_has(d: &Diagnostic, part: &str) -> bool {
        d.help.as_deref().unwrap().contains(part)
    }

    /// The text of a test stack: `stack "t" {}`, then what the first words name, then `rest`:
    /// `host` a host `h` at 203.0.113.1 (`host gpus = N`: with N GPUs), `server "name" "type"` a
    /// Cloud server in fsn1 on Ubuntu 24.04. The text is the same as written out, so spans point the same.
    macro_rules! stack_text {
        (host, $rest:literal) => {
            concat!(
                "\nstack \"t\" {}\nhost \"h\" {\n  address = \"203.0.113.1\"\n}",
                $rest
            )
        };
        (host gpus = $gpus:literal, $rest:literal) => {
            concat!(
                "\nstack \"t\" {}\nhost \"h\" {\n  address = \"203.0.113.1\"\n  gpus    = ",
                $gpus,
                "\n}",
                $rest
            )
        };
        (server $name:literal $type:literal, $rest:literal) => {
            concat!(
                "\nstack \"t\" {}\nserver \"",
                $name,
                "\" {\n  server_type = \"",
                $type,
                "\"\n  location    = \"fsn1\"\n  image       = \"ubuntu-24.04\"\n}",
                $rest
            )
        };
        ($rest:literal) => {
            concat!("\nstack \"t\" {}", $rest)
        };
    }
    pub(crate) use stack_text;

    /// The text a diagnostic points at.
    pub fn pointed<'a>(text: &'a str, d: &Diagnostic) -> &'a str {
        let span = d.span.clone().expect("span");
        &text[span]
    }
}
