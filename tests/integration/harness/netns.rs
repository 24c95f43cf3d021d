//! A network namespace per test host, reached from the test through a veth pair.
//!
//! Each namespace gets a private /30 (`10.251.N.0/30`: the test's end `.1`, the host's `.2`) and
//! its own loopback, so the host's sshd, its Docker Engine, the container networks and the
//! ports they publish stay inside it, as on a real machine. N is taken by creating the
//! namespace `sovstack-tN`, which fails when another test (in this process or another) holds
//! it, so hosts can start in parallel. Dropping the guard deletes the veth pair and the
//! namespace, also when the test failed.
//!
//! The whole test range `10.251.0.0/16` is routed `unreachable` in the test's namespace (one
//! route, added once, below the hosts' own /30s), so a connection to a host that is gone fails
//! at once instead of leaving the machine by the default route.
//!
//! Two hosts can be joined by a direct link ([`NetNs::link_to`]), as a private network (Hetzner's
//! vSwitch) joins machines, without the test's namespace forwarding anything between them.
//!
//! Daemons run in it through `nsenter --net=...` ([`NetNs::command`]), not `ip netns exec`,
//! which remounts /sys and hides the cgroup mounts dockerd needs.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

const IP: &str = "/usr/bin/ip";
const ALT_IP: &str = "/sbin/ip";
const NSENTER: &str = "/usr/bin/nsenter";
/// Namespaces numbered 1..=MAX_HOSTS; the third octet of the host's subnet is the number.
const MAX_HOSTS: u8 = 250;
const TEST_RANGE: &str = "10.251.0.0/16";

pub struct NetNs {
    name: String,
    host_side: String,
    index: u8,
}

fn ip_binary() -> &'static str {
    if std::path::Path::new(IP).exists() {
        IP
    } else {
        ALT_IP
    }
}

/// Runs `ip args...`; the error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ip_binary()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The `unreachable` route for the whole test range; already there is fine.
fn keep_test_range_local() -> Result<(), String> {
    match ip(&["route", "add", "unreachable", TEST_RANGE]) {
        Err(e) if !e.contains("File exists") => Err(e),
        _ => Ok(()),
    }
}

impl NetNs {
    /// Creates the next free namespace with its veth pair and addresses.
    pub fn create() -> Result<NetNs, String> {
        keep_test_range_local()?;
        for index in 1..=MAX_HOSTS {
            let name = format!("sovstack-t{index}");
            if ip(&["netns", "add", &name]).is_err() {
                continue; // taken by another host
            }
            let ns = NetNs {
                host_side: format!("sovt{index}h"),
                name,
                index,
            };
            ns.wire()?;
            return Ok(ns);
        }
        Err(format!("all {MAX_HOSTS} test network namespaces are taken"))
    }

    fn wire(&self) -> Result<(), String> {
        let peer = format!("sovt{}n", self.index);
        // A stale pair from a run that was killed would block the name.
        let _ = ip(&["link", "delete", &self.host_side]);
        ip(&[
            "link",
            "add",
            &self.host_side,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ])?;
        ip(&["link", "set", &peer, "netns", &self.name])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", self.test_side_ip()),
            "dev",
            &self.host_side,
        ])?;
        ip(&["link", "set", &self.host_side, "up"])?;
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", self.name.as_str()];
            all.extend_from_slice(args);
            ip(&all)
        };
        inside(&["addr", "add", &format!("{}/30", self.ip()), "dev", &peer])?;
        inside(&["link", "set", &peer, "up"])?;
        inside(&["link", "set", "lo", "up"])
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address, inside the namespace.
    pub fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 251, self.index, 2)
    }

    /// The test's end of the pair.
    fn test_side_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 251, self.index, 1)
    }

    /// `program` to be run inside the namespace (network only: the file system is shared).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(NSENTER);
        c.arg(format!("--net=/var/run/netns/{}", self.name))
            .arg("--")
            .arg(program);
        c
    }
}

/// A direct link from one test host to another: a veth pair with one end in each namespace
/// (point-to-point addresses `10.252.A.B` and `10.253.A.B`) and, in the first, a route to the
/// second's address over it. Dropping it deletes the pair (deleting a namespace does too).
pub struct Link {
    ns: String,
    end: String,
}

impl NetNs {
    /// Lets this host reach `other`'s address ([`NetNs::ip`]) over a link of their own; `other`
    /// answers over the same link. Packets never pass through the test's namespace.
    pub fn link_to(&self, other: &NetNs) -> Result<Link, String> {
        let (a, b) = (self.index, other.index);
        let (here, there) = (format!("sovl{a}x{b}"), format!("sovl{b}x{a}"));
        let (near, far) = (format!("10.252.{a}.{b}"), format!("10.253.{a}.{b}"));
        // A stale pair from a run killed while linking would block the name.
        let _ = ip(&["link", "delete", &here]);
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there])?;
        ip(&["link", "set", &here, "netns", &self.name])?;
        ip(&["link", "set", &there, "netns", &other.name])?;
        for (ns, dev, local, peer) in [
            (&self.name, &here, &near, &far),
            (&other.name, &there, &far, &near),
        ] {
            ip(&["-n", ns, "addr", "add", local, "peer", peer, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        let target = format!("{}/32", other.ip());
        ip(&[
            "-n", &self.name, "route", "add", &target, "via", &far, "dev", &here,
        ])?;
        Ok(Link {
            ns: self.name.clone(),
            end: here,
        })
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Gone already when its namespace went first.
        let _ = ip(&["-n", &self.ns, "link", "delete", &self.end]);
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting one end deletes the pair; the namespace goes when nothing uses it.
        let _ = ip(&["link", "delete", &self.host_side]);
        let _ = ip(&["netns", "delete", &self.name]);
    }
}
