//! The operations, one file per resource kind, as methods on [`super::HcloudClient`].

mod catalog;
mod firewalls;
mod servers;
mod ssh_keys;
mod volumes;
