//! A local simulator of the Hetzner Cloud API (axum), faithful to the official spec.
