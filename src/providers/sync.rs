//! Locks on plain shared data.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, and goes on with its data when a panic left it poisoned. What the providers keep
/// under a lock (request counts, pacing state, connection slots, learned host keys, a test
/// clock) is consistent between any two statements, so one panic must not make every later call
/// panic too.
pub(crate) fn lock_even_if_poisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
