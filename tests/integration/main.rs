//! The one integration-test binary. Each area has its own module; `harness` holds what they share.

mod cli;
mod cloud_apply;
mod cloud_e2e;
mod compose_capture;
mod docker_host;
mod docs;
mod drift;
mod harness;
mod hcloud_client;
mod node;
mod plan;
mod render;
mod sandbox;
mod ssh;
mod stack_e2e;
mod state;
mod validate;
