//! Which appliers a run uses: Hetzner Cloud for cloud kinds, SSH for node kinds.

use super::exit;
use crate::apply::Applier;
use crate::config::Stack;
use std::sync::Arc;

/// The appliers for this stack. Filled in as provider layers land; the executor refuses a
/// plan with a kind no applier handles, naming it.
pub fn build(_stack: &Stack) -> Result<Vec<Arc<dyn Applier>>, i32> {
    let appliers: Vec<Arc<dyn Applier>> = Vec::new();
    if appliers.is_empty() {
        return Err({
            eprintln!("error: this build has no provider layers wired yet");
            exit::ERROR
        });
    }
    Ok(appliers)
}
