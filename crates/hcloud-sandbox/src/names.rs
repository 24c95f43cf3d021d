//! The name rules several parts of the API share: RFC 1123 DNS names (server hostnames, label-key prefixes) and
//! alphanumeric segments (label keys and values, volume names), which differ only in their length limit.

/// An RFC 1123 DNS name: at most 253 characters of dot-separated labels, each 1-63 alphanumerics or `-` that start
/// and end alphanumeric.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !label.is_empty()
                && label.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// 1 to `max_len` alphanumerics or `-_.`, starting and ending alphanumeric.
pub fn is_segment(s: &str, max_len: usize) -> bool {
    let b = s.as_bytes();
    !s.is_empty()
        && s.len() <= max_len
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}
