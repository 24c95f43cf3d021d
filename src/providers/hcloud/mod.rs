//! Hetzner Cloud API client.
