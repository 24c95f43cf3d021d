//! Reading and changing the world: Hetzner Cloud, SSH transport, node operations.
pub mod hcloud;
pub mod node;
pub mod ssh;
mod sync;
