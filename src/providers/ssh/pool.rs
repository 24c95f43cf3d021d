//! One connection per host per run.
//!
//! Refresh, upload, compose and checks for a host all go through the same connection: one
//! handshake, one authentication, one line in the host's auth log. Concurrent callers for the same
//! host wait for the first connect instead of racing to open their own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::config::{SshEndpoint, SshOptions, SshTarget};
use super::error::SshError;
use super::host_key::{HostKeyFingerprint, HostKeyPolicy};
use super::ssh_transport::SshTransport;
use crate::providers::sync::lock_even_if_poisoned;

type Slot = Arc<tokio::sync::Mutex<Option<SshTransport>>>;

#[derive(Debug, Default)]
pub struct SshPool {
    options: SshOptions,
    slots: Mutex<HashMap<SshTarget, Slot>>,
    /// Keys accepted under `LearnOnce` in this run; a reconnect must present the same key.
    learned: Mutex<HashMap<SshTarget, HostKeyFingerprint>>,
    opened: AtomicUsize,
}

impl SshPool {
    pub fn new(options: SshOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    pub fn options(&self) -> &SshOptions {
        &self.options
    }

    /// The connection to `endpoint.target`, opened on first use and re-opened if it broke.
    pub async fn get(&self, endpoint: &SshEndpoint) -> Result<SshTransport, SshError> {
        let slot = {
            let mut slots = lock_even_if_poisoned(&self.slots);
            slots.entry(endpoint.target.clone()).or_default().clone()
        };
        let mut current = slot.lock().await;
        if let Some(existing) = current.as_ref()
            && !existing.is_broken()
        {
            // The cached connection was verified against an earlier policy; hold it to this one.
            endpoint.host_key.verify(
                &endpoint.target.to_string(),
                existing.host_key().fingerprint(),
            )?;
            return Ok(existing.clone());
        }

        let mut endpoint = endpoint.clone();
        if endpoint.host_key == HostKeyPolicy::LearnOnce
            && let Some(fp) = self.learned_for(&endpoint.target)
        {
            endpoint.host_key = HostKeyPolicy::Pinned(fp);
        }
        let target = endpoint.target.clone();
        let transport = SshTransport::connect(endpoint, self.options.clone()).await?;
        self.opened.fetch_add(1, Ordering::SeqCst);
        if let Some(fp) = transport.host_key().learned() {
            lock_even_if_poisoned(&self.learned).insert(target, fp);
        }
        *current = Some(transport.clone());
        Ok(transport)
    }

    /// How many connections this pool opened (reconnects included).
    pub fn connections_opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Host keys learned under `LearnOnce` in this run, to be pinned in state.
    pub fn learned_host_keys(&self) -> Vec<(SshTarget, HostKeyFingerprint)> {
        let learned = lock_even_if_poisoned(&self.learned);
        let mut out: Vec<_> = learned.iter().map(|(t, f)| (t.clone(), *f)).collect();
        out.sort_by_key(|(t, _)| t.to_string());
        out
    }

    /// Drops the cached connection to `target` (e.g. after the server was rebuilt).
    pub fn evict(&self, target: &SshTarget) {
        lock_even_if_poisoned(&self.slots).remove(target);
        lock_even_if_poisoned(&self.learned).remove(target);
    }

    fn learned_for(&self, target: &SshTarget) -> Option<HostKeyFingerprint> {
        lock_even_if_poisoned(&self.learned).get(target).copied()
    }
}
