//! The one integration-test binary. Each area has its own module; `harness` holds what they share.

mod cli;
mod cli_hygiene;
mod cloud_apply;
mod cloud_e2e;
mod cloud_graph;
mod cloud_kill;
mod compose_v2;
mod compose_capture;
mod docker_host;
mod docs;
mod drift;
mod harness;
mod hcloud_client;
mod hcloud_official;
mod host_key;
mod input_checks;
mod node;
mod plan;
mod render;
mod sandbox;
mod ssh;
mod stack_e2e;
mod state;
mod state_ops;
mod validate;
