use crate::config::{Diagnostics, Stack};
pub fn check(_stack: &Stack, _out: &mut Diagnostics) {}
