//! Sensitive values are stored only as HMAC-SHA256 hashes.
//!
//! A plain hash of a short secret (a password, an API token) can be brute-forced from the state; a keyed hash
//! cannot without the key. So the key never lives in the state:
//! - `SOVSTACK_STATE_KEY` (64 hex characters = 32 bytes) wins when set: the choice for CI and for the PostgreSQL
//!   backend, where the key comes from the CI secret store;
//! - otherwise a local state uses the key file `<state>.key` beside it (mode 0600), created with 32 random bytes
//!   on first use. Back it up with the state: without it every sensitive value looks changed and is rewritten once.
//!
//! Each hash carries a key id (a hash of the key, not the key) so that "the key changed" is told apart from
//! "the value changed".

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::StateError;

/// Environment variable holding the hex-encoded state key.
pub const STATE_KEY_ENV: &str = "SOVSTACK_STATE_KEY";

const KEY_LEN: usize = 32;
const ALGORITHM: &str = "hmac-sha256";

/// A keyed hash of a sensitive value, the only form in which secrets reach state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyedHash {
    /// Always `hmac-sha256`.
    pub algorithm: String,
    /// First 16 hex characters of sha256 over a domain tag and the key: tells which key made this hash.
    pub key_id: String,
    /// Hex-encoded MAC.
    pub mac: String,
}

/// Computes and checks keyed hashes with one key.
#[derive(Clone)]
pub struct KeyedHasher {
    key: [u8; KEY_LEN],
    key_id: String,
}

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("KeyedHasher")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl KeyedHasher {
    /// A hasher over an explicit 32-byte key.
    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        let mut h = Sha256::new();
        h.update(b"sovstack-state-key-id\0");
        h.update(key);
        let key_id = hex::encode(&h.finalize()[..8]);
        KeyedHasher { key, key_id }
    }

    /// A hasher over a hex-encoded key (the `SOVSTACK_STATE_KEY` format).
    pub fn from_hex(hex_key: &str) -> Result<Self, StateError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|e| StateError::Key {
            reason: format!("key is not hex: {e}"),
        })?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| StateError::Key {
            reason: format!(
                "key must be {KEY_LEN} bytes (64 hex characters), got {} bytes",
                b.len()
            ),
        })?;
        Ok(Self::from_key(key))
    }

    /// The key from `SOVSTACK_STATE_KEY`, if set.
    pub fn from_env() -> Result<Option<Self>, StateError> {
        match std::env::var(STATE_KEY_ENV) {
            Ok(v) => Self::from_hex(&v).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(StateError::Key {
                reason: format!("{STATE_KEY_ENV} is not valid UTF-8"),
            }),
        }
    }

    /// `SOVSTACK_STATE_KEY` when set, else the key file at `key_file`, created (0600, random) when missing.
    /// A key file readable by others is refused: it would let them brute-force the hashes.
    pub fn from_env_or_file(key_file: &Path) -> Result<Self, StateError> {
        if let Some(h) = Self::from_env()? {
            return Ok(h);
        }
        Self::from_file(key_file)
    }

    /// The key file at `key_file`, created (0600, random) when missing.
    pub fn from_file(key_file: &Path) -> Result<Self, StateError> {
        match std::fs::read_to_string(key_file) {
            Ok(s) => {
                let meta =
                    std::fs::metadata(key_file).map_err(|e| StateError::io("stat", key_file, e))?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(StateError::Key {
                        reason: format!(
                            "key file {} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
                            key_file.display()
                        ),
                    });
                }
                Self::from_hex(&s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_file(key_file),
            Err(e) => Err(StateError::io("read", key_file, e)),
        }
    }

    fn create_file(key_file: &Path) -> Result<Self, StateError> {
        let mut key = [0u8; KEY_LEN];
        rand::fill(&mut key);
        Self::write_new_file(key_file, key)
    }

    /// Keeps this key in `key_file` (0600) unless a key file is there already (a state moved
    /// to a local file then needs no variable); returns the key the file holds.
    pub fn keep_in_file(&self, key_file: &Path) -> Result<Self, StateError> {
        Self::write_new_file(key_file, self.key)
    }

    fn write_new_file(key_file: &Path, key: [u8; KEY_LEN]) -> Result<Self, StateError> {
        // The key may be made before the state it belongs to (`plan --out` of a new stack).
        if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StateError::io("create", dir, e))?;
        }
        // create_new: if two processes race, exactly one key wins and the loser reads it.
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(key_file)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Self::from_file(key_file);
            }
            Err(e) => return Err(StateError::io("create", key_file, e)),
        };
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| StateError::io("write", key_file, e))?;
        super::atomic::sync_parent_dir(key_file)?;
        Ok(Self::from_key(key))
    }

    /// Identifies the key without revealing it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key for the digests of secret-bearing rendered artifacts (`RenderOptions::digest_key`): a sub-key
    /// derived from the state key, so the state key itself never leaves this type.
    ///
    /// HKDF-Extract style (the fixed label is the HMAC key, the state key the message) rather than
    /// `HMAC(state key, label)`: the latter is exactly what [`KeyedHasher::hash`] would store for a sensitive value
    /// equal to the label, which would put the sub-key into the state.
    pub fn digest_key(&self) -> [u8; KEY_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"sovstack-render-digest-key")
            .unwrap_or_else(|_| unreachable!());
        mac.update(&self.key);
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail for our fixed 32-byte key.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// The keyed hash of `value`.
    pub fn hash(&self, value: impl AsRef<[u8]>) -> KeyedHash {
        let mut mac = self.mac();
        mac.update(value.as_ref());
        KeyedHash {
            algorithm: ALGORITHM.to_string(),
            key_id: self.key_id.clone(),
            mac: hex::encode(mac.finalize().into_bytes()),
        }
    }

    /// The keyed hash of a JSON value, over its canonical form.
    pub fn hash_json(&self, value: &serde_json::Value) -> KeyedHash {
        self.hash(super::canonical::canonical_json(value))
    }

    /// Whether `value` is what `hash` was made from, compared in constant time. A hash made with another key or
    /// algorithm never matches: use [`KeyedHasher::same_key`] to tell that case apart.
    pub fn matches(&self, value: impl AsRef<[u8]>, hash: &KeyedHash) -> bool {
        if !self.same_key(hash) {
            return false;
        }
        let Ok(expected) = hex::decode(&hash.mac) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(value.as_ref());
        mac.verify_slice(&expected).is_ok()
    }

    /// Whether the JSON `value` is what `hash` was made from ([`KeyedHasher::hash_json`]).
    pub fn matches_json(&self, value: &serde_json::Value, hash: &KeyedHash) -> bool {
        self.matches(super::canonical::canonical_json(value), hash)
    }

    /// Whether `hash` was made by this hasher's key and algorithm.
    pub fn same_key(&self, hash: &KeyedHash) -> bool {
        hash.algorithm == ALGORITHM && hash.key_id == self.key_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2_holds_for_our_mac() {
        // RFC 4231 uses a 4-byte key; check the primitive directly, then our wrapper's consistency.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn matches_the_value_only_with_the_same_key() {
        let a = KeyedHasher::from_key([7; 32]);
        let b = KeyedHasher::from_key([8; 32]);
        let h = a.hash("s3cret");
        assert!(a.matches("s3cret", &h));
        assert!(!a.matches("s3cret!", &h));
        assert!(!b.matches("s3cret", &h));
        assert!(!b.same_key(&h));
        assert_eq!(h.algorithm, "hmac-sha256");
        assert_eq!(h.mac.len(), 64);
        assert!(!h.mac.contains("s3cret"));
        assert!(!format!("{a:?}").contains("0707"));
    }

    #[test]
    fn digest_key_is_derived_stable_and_per_key() {
        let a = KeyedHasher::from_key([7; 32]);
        assert_eq!(a.digest_key(), KeyedHasher::from_key([7; 32]).digest_key());
        assert_ne!(a.digest_key(), KeyedHasher::from_key([8; 32]).digest_key());
        assert_ne!(
            a.digest_key(),
            [7; 32],
            "the raw key must not be handed out"
        );
        // Not what `hash` stores for any value: a value equal to the label must not reveal the sub-key.
        let label_hash = a.hash("sovstack-render-digest-key");
        assert_ne!(hex::encode(a.digest_key()), label_hash.mac);
    }

    #[test]
    fn tampered_mac_does_not_match() {
        let a = KeyedHasher::from_key([1; 32]);
        let mut h = a.hash("x");
        h.mac
            .replace_range(0..2, if &h.mac[0..2] == "00" { "01" } else { "00" });
        assert!(!a.matches("x", &h));
        h.mac = "zz".into();
        assert!(!a.matches("x", &h));
    }

    #[test]
    fn key_file_is_created_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json.key");
        let a = KeyedHasher::from_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = KeyedHasher::from_file(&path).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        assert!(b.matches("v", &a.hash("v")));
    }

    #[test]
    fn world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, hex::encode([3u8; 32])).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyedHasher::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn bad_hex_keys_are_refused() {
        assert!(KeyedHasher::from_hex("abc").is_err());
        assert!(KeyedHasher::from_hex(&"ab".repeat(31)).is_err());
        assert!(KeyedHasher::from_hex(&"ab".repeat(32)).is_ok());
    }
}
