//! SIGINT and SIGTERM during apply and destroy. The first asks the run to stop: nothing new
//! starts, the running operations finish (each within its own deadline) and are recorded, and
//! the run ends with what was done and what was not (exit 1). The second aborts at once, as a
//! kill would: state holds every operation completed so far, and the next apply converges.

use crate::engine::StopSignal;
use tokio::signal::unix::{SignalKind, signal};

/// The exit status of a run aborted by a second signal (128 + SIGINT, as a shell reports it).
const ABORTED: i32 = 130;

/// Listens until the process ends; run it on the runtime of the apply it guards.
pub async fn guard(stop: StopSignal) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the signals keep their default: the process ends at once.
        return;
    };
    let first = tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    eoutln!(
        "\n{first}: stopping. No new operation starts; the running ones finish and are recorded. Send it again to abort at once."
    );
    stop.request();
    let second = tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    eoutln!(
        "{second} again: aborting now. State holds every operation completed; `sovstack apply` continues from there."
    );
    std::process::exit(ABORTED);
}
