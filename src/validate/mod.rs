//! Semantic and policy checks over a loaded `Stack`; knowledge tables live here as data.

pub mod knowledge;

use crate::config::{Diagnostics, Stack};

/// Every check over a loaded stack.
pub fn check(_stack: &Stack) -> Diagnostics {
    Diagnostics::new()
}
