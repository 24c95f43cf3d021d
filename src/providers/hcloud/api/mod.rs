//! The operations, one file per resource kind, as methods on [`super::HcloudClient`]; the calls all
//! kinds share are generic, in `resource`.

mod catalog;
mod firewalls;
mod resource;
mod servers;
mod ssh_keys;
mod volumes;
