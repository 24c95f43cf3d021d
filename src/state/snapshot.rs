//! Snapshot bytes <-> `StateFile`, with every check that lets us refuse what we cannot trust.

use std::path::Path;

use super::error::StateError;
use super::model::{FORMAT_VERSION, StateFile};

/// Encodes a sealed state as pretty JSON ending in a newline. The newline is part of the format: a file without
/// it was cut short, even if what remains happens to parse.
pub fn encode(state: &StateFile) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(StateError::Encode)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Decodes and verifies snapshot bytes read from `path` (used in messages only).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<StateFile, StateError> {
    let corrupt = |reason: String| StateError::SnapshotCorrupt {
        path: path.to_path_buf(),
        reason,
    };
    let truncated = || StateError::SnapshotTruncated {
        path: path.to_path_buf(),
        len: bytes.len(),
    };
    if bytes.last() != Some(&b'\n') {
        return Err(truncated());
    }
    // The common case, a file we wrote: decoded straight into the typed form, and the checksum
    // computed over the text itself (no JSON tree is built: most of the cost of loading a large
    // state). When the text's hash matches, these bytes are what the writer hashed.
    if let Ok(state) = serde_json::from_slice::<StateFile>(bytes) {
        check_format_version(path, u64::from(state.format_version))?;
        if super::canonical::checksum_of_sorted_text_without(bytes, "checksum").as_ref()
            == Some(&state.checksum)
        {
            return Ok(state);
        }
        return verify_typed(path, state);
    }
    // Anything else is looked at as generic JSON first, so that the error says what is wrong.
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.is_eof() => return Err(truncated()),
        Err(e) => return Err(corrupt(format!("not JSON: {e}"))),
    };
    let Some(obj) = value.as_object() else {
        return Err(corrupt("not a JSON object".into()));
    };
    // Checked before the typed decode's error is reported: a newer format may have fields we do
    // not know, and the user must hear "upgrade", not "unknown field".
    match obj.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) => check_format_version(path, v)?,
        None => {
            return Err(corrupt(
                "`format_version` is missing or not a number".into(),
            ));
        }
    }
    let state: StateFile = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    verify_typed(path, state)
}

fn check_format_version(path: &Path, found: u64) -> Result<(), StateError> {
    if found > u64::from(FORMAT_VERSION) {
        return Err(StateError::FormatTooNew {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// The typed form decides when the text is spelled other than we write it (it also fills in
/// defaults a hand-edited file may leave out).
fn verify_typed(path: &Path, state: StateFile) -> Result<StateFile, StateError> {
    let actual = state.compute_checksum().map_err(StateError::Encode)?;
    if actual != state.checksum {
        return Err(StateError::ChecksumMismatch {
            path: path.to_path_buf(),
            recorded: state.checksum.clone(),
            actual,
        });
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut s = StateFile::new("demo");
        s.serial = 3;
        s.seal();
        encode(&s).unwrap()
    }

    #[test]
    fn roundtrip() {
        let bytes = sample();
        let s = decode(Path::new("s.json"), &bytes).unwrap();
        assert_eq!(s.serial, 3);
        assert_eq!(encode(&s).unwrap(), bytes);
    }

    /// Loading trusts the text's own order (see `StateFile`): a field declared out of key order
    /// would send every load down the slow path, and this test says so first.
    #[test]
    fn a_written_state_is_in_canonical_order_and_takes_the_fast_path() {
        use super::super::keyed_hash::KeyedHash;
        use super::super::model::{OutputState, ResourceState, ResourceStatus};
        let mut s = StateFile::new("demo");
        let secret = KeyedHash {
            algorithm: "hmac-sha256".into(),
            key_id: "0123456789abcdef".into(),
            mac: "00".into(),
        };
        s.resources.insert(
            "server.gpu".into(),
            ResourceState {
                kind: "server".into(),
                id: Some("1".into()),
                attributes: serde_json::from_value(serde_json::json!({
                    "z": {"b": [1, {"y": null, "x": "a\"b"}], "a": 2.5}, "labels": {"k": "v"}
                }))
                .unwrap(),
                sensitive_attributes: [("token".to_string(), secret.clone())].into(),
                dependencies: vec!["ssh_key.b".into(), "ssh_key.a".into()],
                status: ResourceStatus::Ready,
            },
        );
        s.outputs = [
            ("ip".to_string(), OutputState::Value("127.0.0.2".into())),
            ("key".to_string(), OutputState::Sensitive(secret)),
        ]
        .into();
        s.seal();
        let bytes = encode(&s).unwrap();
        assert_eq!(
            super::super::canonical::checksum_of_sorted_text_without(&bytes, "checksum"),
            Some(s.checksum.clone())
        );
        assert_eq!(decode(Path::new("s.json"), &bytes).unwrap(), s);
    }

    #[test]
    fn missing_final_newline_is_truncation() {
        let bytes = sample();
        let err = decode(Path::new("s.json"), &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, StateError::SnapshotTruncated { .. }), "{err}");
    }

    #[test]
    fn newer_format_is_refused_as_such() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample()).unwrap();
        v["format_version"] = 99.into();
        v["something_new"] = true.into();
        let mut bytes = serde_json::to_vec(&v).unwrap();
        bytes.push(b'\n');
        let err = decode(Path::new("s.json"), &bytes).unwrap_err();
        assert!(
            matches!(err, StateError::FormatTooNew { found: 99, .. }),
            "{err}"
        );
    }

    #[test]
    fn edited_content_fails_the_checksum() {
        let text = String::from_utf8(sample())
            .unwrap()
            .replace("\"serial\": 3", "\"serial\": 4");
        let err = decode(Path::new("s.json"), text.as_bytes()).unwrap_err();
        assert!(matches!(err, StateError::ChecksumMismatch { .. }), "{err}");
    }
}
