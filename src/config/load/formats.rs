//! Strings with a format of their own: CIDR blocks for firewall rules, host-key fingerprints,
//! and paths on a node. Each check says what is wrong, in words a diagnostic can carry; `None`
//! means the value is accepted.

use std::net::IpAddr;
use std::str::FromStr;

/// Characters a path on a node may hold: they need no quoting in a POSIX shell, so no value
/// can change the meaning of a remote command however it is built.
fn is_plain_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/._-+@%:,=".contains(&b)
}

/// A firewall CIDR as the Hetzner API takes it: an IPv4 or IPv6 address, `/`, a prefix length
/// within the address family's range. IPv6 must be written as the API stores it (RFC 5952),
/// or every refresh would see a change.
pub(super) fn cidr_problem(s: &str) -> Option<String> {
    let Some((ip, prefix)) = s.split_once('/') else {
        return Some(match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => format!("`{s}` has no prefix length: write `{s}/32` for one host"),
            Ok(IpAddr::V6(_)) => {
                format!("`{s}` has no prefix length: write `{s}/128` for one host")
            }
            Err(_) => format!("`{s}` is not a CIDR block"),
        });
    };
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return Some(format!("`{ip}` is not an IPv4 or IPv6 address"));
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let in_range = prefix.bytes().all(|b| b.is_ascii_digit())
        && !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.parse::<u8>().is_ok_and(|p| p <= max);
    if !in_range {
        return Some(format!(
            "prefix length `/{prefix}` is not between /0 and /{max}"
        ));
    }
    let canonical = format!("{addr}/{}", prefix.parse::<u8>().unwrap_or(0));
    (canonical != s).then(|| format!("the API stores this block as `{canonical}`: write it so"))
}

/// A host-key fingerprint as sovstack pins it: `SHA256:` and the unpadded base64 of a 32-byte
/// digest, what `ssh-keygen -lf` prints. Exactly what the SSH layer parses, nothing more.
pub(super) fn host_key_problem(s: &str) -> Option<&'static str> {
    if !s.starts_with("SHA256:") {
        return Some("a host key fingerprint starts with `SHA256:`");
    }
    match ssh_key::Fingerprint::from_str(s) {
        Ok(ssh_key::Fingerprint::Sha256(_)) => None,
        _ => Some("after `SHA256:` comes the unpadded base64 of 32 bytes (43 characters)"),
    }
}

/// A path on a node (a project directory): absolute, no `.` or `..` component, no empty
/// component, and only characters that mean nothing to a shell.
pub(super) fn remote_path_problem(s: &str) -> Option<String> {
    if !s.starts_with('/') {
        return Some("must be an absolute path".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !c.is_ascii() || !is_plain_path_byte(*c as u8))
    {
        return Some(format!("holds {}, which a shell would interpret", shown(c)));
    }
    let trimmed = s.trim_end_matches('/');
    if trimmed
        .split('/')
        .skip(1)
        .any(|part| part == ".." || part == ".")
    {
        return Some("holds a `.` or `..` component".into());
    }
    if trimmed.split('/').skip(1).any(str::is_empty) {
        return Some("holds an empty component (`//`)".into());
    }
    (trimmed.is_empty()).then(|| "is the root directory".into())
}

fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_of_both_families_with_prefixes_in_range() {
        for ok in [
            "0.0.0.0/0",
            "198.51.100.0/24",
            "10.0.1.1/32",
            "::/0",
            "2001:db8:ff00:42::/64",
            "2001:db8:ff00:42::8329/128",
        ] {
            assert_eq!(cidr_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("not-a-cidr", "not a CIDR"),
            ("999.1.1.1/99", "not an IPv4 or IPv6"),
            ("1.1.1.1/99", "between /0 and /32"),
            ("1.1.1.1/33", "between /0 and /32"),
            ("::/129", "between /0 and /128"),
            ("1.1.1.1/", "between"),
            ("1.1.1.1/+8", "between"),
            ("1.1.1.1/008", "write it so"),
            ("10.0.0.1", "10.0.0.1/32"),
            ("2001:db8::1", "2001:db8::1/128"),
            ("2001:DB8::/32", "`2001:db8::/32`"),
            ("1.1.1.1/8; rm -rf /", "between"),
            ("01.1.1.1/8", "not an IPv4"),
        ] {
            let got = cidr_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(got.contains(says), "{bad}: {got}");
        }
    }

    /// The loader accepts exactly what the SSH layer parses.
    #[test]
    fn host_keys_as_the_ssh_layer_parses_them() {
        use crate::providers::ssh::HostKeyFingerprint;
        let good = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
        for s in [
            good,
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU; touch /tmp/x",
            "SHA256:$(reboot)",
            "SHA256:`id`",
            "SHA512:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg",
            "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
            "",
        ] {
            assert_eq!(
                host_key_problem(s).is_none(),
                s.parse::<HostKeyFingerprint>().is_ok(),
                "{s}"
            );
        }
        assert_eq!(host_key_problem(good), None);
    }

    #[test]
    fn remote_paths_are_absolute_plain_and_never_climb() {
        for ok in ["/opt/sovstack/llm", "/srv/a-b_c.d/e+f@g", "/opt/x/"] {
            assert_eq!(remote_path_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("opt/x", "absolute"),
            ("/opt/../../etc", "`..`"),
            ("/opt/./x", "`.`"),
            ("/opt//x", "empty"),
            ("/", "root"),
            ("/opt/x; rm -rf /", "`;`"),
            ("/opt/x y", "U+0020"),
            ("/opt/$(id)", "`$`"),
            ("/opt/`id`", "```"),
            ("/opt/x\ny", "U+000A"),
            ("/opt/'x'", "`'`"),
            ("/opt/é", "`é`"),
            ("~/x", "absolute"),
        ] {
            let got = remote_path_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(got.contains(says), "{bad}: {got}");
        }
    }
}
