//! The one integration-test binary. Each area has its own module; `harness` holds what they share.

mod harness;
mod hcloud_client;
mod node;
mod render;
mod sandbox;
mod ssh;
mod state;
mod validate;
