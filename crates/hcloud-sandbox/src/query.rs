//! Query strings with repeated keys (`?id=1&id=2`, `?sort=name&sort=id`), which the spec uses for arrays.

use super::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self { pairs }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A positive integer parameter; a malformed one is `invalid_input` like the real API.
    pub fn positive_int(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.first(key) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(ApiError::invalid_field(key, "must be a positive integer")),
            },
        }
    }

    /// Every value of a repeated integer parameter (`?id=1&id=2`).
    pub fn ids(&self, key: &str) -> Result<Vec<u64>, ApiError> {
        self.all(key)
            .into_iter()
            .map(|v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ApiError::invalid_field(key, "must be a positive integer"))
            })
            .collect()
    }
}

/// Percent-decoding as in `application/x-www-form-urlencoded` (`+` is a space).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding for building `Link` URLs.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_decoding() {
        let q = Query::parse(Some(
            "id=1&id=2&label_selector=env%3Dprod%2C%21tmp&name=a+b&x",
        ));
        assert_eq!(q.ids("id").unwrap(), vec![1, 2]);
        assert_eq!(q.first("label_selector"), Some("env=prod,!tmp"));
        assert_eq!(q.first("name"), Some("a b"));
        assert_eq!(q.first("x"), Some(""));
        assert!(Query::parse(Some("id=0")).ids("id").is_err());
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode(&encode("k in (a,b)")), "k in (a,b)");
    }
}
