//! `sovstack version` and `sovstack completions SHELL`.

use clap::CommandFactory;

/// `sovstack --version`: the version, commit and build date.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SOVSTACK_COMMIT"),
    ", ",
    env!("SOVSTACK_BUILD_DATE"),
    ")"
);

/// What this build can do, beside its version.
pub fn report() -> String {
    format!(
        "sovstack {}\ncommit: {}\nbuild date: {} (the commit's, so a rebuild prints the same)\nopentelemetry export: OTLP/HTTP protobuf (traces, logs), via --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT\nstate backends: local file, postgresql\nmachine-readable output: --json, ui format {}",
        env!("CARGO_PKG_VERSION"),
        env!("SOVSTACK_COMMIT"),
        env!("SOVSTACK_BUILD_DATE"),
        crate::progress::message::UI_VERSION,
    )
}

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sovstack", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
}
