//! `/ssh_keys`: list (name, fingerprint, label_selector), create, get, update (name, labels), delete. No actions.
//! What is particular to SSH keys: the fingerprint, unique like the name.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::Value;

use super::collection::{Collection, check_name, name_taken, one};
use super::{ListSpec, created};
use crate::app::App;
use crate::body::Body;
use crate::error::ApiError;
use crate::model::{Labels, SshKey};
use crate::store::Store;

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The MD5 fingerprint (colon-separated hex) of an OpenSSH public key line, or why it is not one.
pub fn fingerprint(public_key: &str) -> Result<String, String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next().ok_or("is empty")?;
    if !KEY_TYPES.contains(&kind) {
        return Err(format!("unsupported key type `{kind}`"));
    }
    let blob = parts
        .next()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or("key data is not valid base64")?;
    // The blob starts with the key type as an SSH string; a mismatch means a pasted or truncated key.
    let declared = blob
        .get(4..)
        .and_then(|rest| {
            let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
            rest.get(..len)
        })
        .ok_or("key data is truncated")?;
    if declared != kind.as_bytes() {
        return Err("key data does not match the key type".into());
    }
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

pub struct SshKeys;

impl Collection for SshKeys {
    type Record = SshKey;
    const KIND: &'static str = "ssh_key";
    const NOUN: &'static str = "SSH key";
    const LIST: ListSpec<'static> = ListSpec {
        key: "ssh_keys",
        sort_fields: &["id", "name"],
        label_selector: true,
        exact: &["name", "fingerprint"],
        any_of: &[],
    };
    const NAME_TAKEN: &'static str = "SSH key with the same name already exists";

    fn records(store: &Store) -> &BTreeMap<u64, SshKey> {
        &store.ssh_keys
    }

    fn records_mut(store: &mut Store) -> &mut BTreeMap<u64, SshKey> {
        &mut store.ssh_keys
    }

    fn to_json(_: &Store, key: &SshKey) -> Value {
        Store::ssh_key_json(key)
    }

    fn name(key: &SshKey) -> &str {
        &key.name
    }

    fn editable(key: &mut SshKey) -> (&mut String, &mut Labels) {
        (&mut key.name, &mut key.labels)
    }

    fn name_problem(name: &str) -> Option<&'static str> {
        name.is_empty().then_some("must not be empty")
    }
}

pub async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let mut b = Body::parse(&body)?;
    let name = b.required_str("name");
    let public_key = b.required_str("public_key");
    let labels = b.labels("labels").unwrap_or_default();
    check_name(&mut b, name.as_deref(), SshKeys::name_problem);
    let fp = match &public_key {
        Some(k) => match fingerprint(k) {
            Ok(fp) => Some(fp),
            Err(e) => {
                b.error("public_key", e);
                None
            }
        },
        None => None,
    };
    b.finish()?;
    let (Some(name), Some(public_key), Some(fp)) = (name, public_key, fp) else {
        return Err(ApiError::invalid_field("public_key", "is required"));
    };
    app.with_store(true, |s, now| {
        if name_taken::<SshKeys>(s, &name, None) {
            return Err(ApiError::uniqueness("name", SshKeys::NAME_TAKEN));
        }
        if s.ssh_keys.values().any(|k| k.fingerprint == fp) {
            return Err(ApiError::uniqueness(
                "public_key",
                "SSH key with the same fingerprint already exists",
            ));
        }
        s.counters.ssh_key += 1;
        let key = SshKey {
            id: s.counters.ssh_key,
            name,
            public_key: public_key.trim().to_owned(),
            fingerprint: fp,
            labels,
            created: now,
        };
        let body = one::<SshKeys>(s, &key);
        s.ssh_keys.insert(key.id, key);
        Ok(created(body))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real ed25519 public key (generated for this test; the private half was discarded).
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8s8DJSQrJ+CCNRIF3AfXf2PBn6WAZdOYkZevQOv7L4 test";

    #[test]
    fn fingerprints_match_ssh_keygen_md5() {
        // `ssh-keygen -l -E md5` printed this for KEY.
        let expected = "a3:c9:f1:23:61:ba:e5:88:a1:ca:8c:08:2b:ba:dd:98";
        assert_eq!(fingerprint(KEY).unwrap(), expected);
        assert_eq!(
            fingerprint(KEY.trim_end_matches(" test")).unwrap(),
            expected
        );
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(fingerprint("").is_err());
        assert!(fingerprint("ssh-dss AAAA").is_err());
        assert!(fingerprint("ssh-ed25519 !!!").is_err());
        assert!(
            fingerprint(
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIF8s8DJSQrJ+CCNRIF3AfXf2PBn6WAZdOYkZevQOv7L4"
            )
            .is_err()
        );
    }
}
