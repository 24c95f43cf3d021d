//! Putting a project's files on a node: atomic uploads (the transport writes a temp file, fsyncs,
//! verifies the checksum and renames), parent directories, the host directories a project
//! bind-mounts (owned by the service's numeric user, so e.g. the collector running as 10001 can
//! write its audit directory), and a copy of every deployed bundle under
//! `<dir>/releases/<hash>/`, so a rollback never depends on files that were overwritten.

use super::error::NodeError;
use crate::config::Compose;
use crate::providers::ssh::{ExecRequest, Transport, UploadReceipt, UploadRequest, shell_quote};

/// How many deployed bundles are kept per project.
pub const RELEASES_KEPT: usize = 5;

/// Creates `path`'s parent directory and uploads the file atomically with its mode and owner.
pub async fn upload_file(
    t: &dyn Transport,
    request: UploadRequest,
) -> Result<UploadReceipt, NodeError> {
    let parent = parent_dir(&request.path);
    t.exec_checked(ExecRequest::new(format!(
        "mkdir -p -- {}",
        shell_quote(parent)
    )))
    .await?;
    let want = request.sha256_hex();
    let path = request.path.clone();
    let receipt = t.upload(request).await?;
    if receipt.sha256 != want {
        return Err(NodeError::Step {
            target: t.describe(),
            step: format!("upload of {path}"),
            reason: "the file on the node does not have the content sent".into(),
        });
    }
    Ok(receipt)
}

fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// A host directory a service bind-mounts (`./audit:/var/lib/otelcol/audit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindDir {
    /// Absolute path on the node.
    pub path: String,
    /// `uid` or `uid:gid` when the service runs as a numeric user.
    pub owner: Option<String>,
}

/// The bind-mount source directories of `compose` under its project directory. Sources outside
/// the project directory are the operator's business and left alone.
pub fn bind_dirs(compose: &Compose) -> Vec<BindDir> {
    let dir = compose.directory.value.trim_end_matches('/');
    let mut out: Vec<BindDir> = Vec::new();
    for svc in &compose.services {
        let owner = svc.user.as_ref().map(|u| u.value.clone()).filter(|u| {
            !u.is_empty()
                && u.split(':')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        for v in &svc.volumes {
            let Some(source) = v.value.split(':').next() else {
                continue;
            };
            let Some(rel) = source.strip_prefix("./") else {
                continue;
            };
            let rel = rel.trim_end_matches('/');
            if rel.is_empty() || rel.split('/').any(|c| c == ".." || c.is_empty()) {
                continue;
            }
            let path = format!("{dir}/{rel}");
            match out.iter_mut().find(|b| b.path == path) {
                Some(existing) if existing.owner.is_none() => existing.owner = owner.clone(),
                Some(_) => {}
                None => out.push(BindDir {
                    path,
                    owner: owner.clone(),
                }),
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Creates the directories (and hands them to their owners) in one command.
pub async fn ensure_bind_dirs(t: &dyn Transport, dirs: &[BindDir]) -> Result<(), NodeError> {
    if dirs.is_empty() {
        return Ok(());
    }
    let mut cmd = String::from("set -e");
    for d in dirs {
        cmd.push_str(&format!("; mkdir -p -- {}", shell_quote(&d.path)));
        if let Some(o) = &d.owner {
            cmd.push_str(&format!(
                "; chown -- {} {}",
                shell_quote(o),
                shell_quote(&d.path)
            ));
        }
    }
    t.exec_checked(ExecRequest::new(cmd)).await?;
    Ok(())
}

const SNAPSHOT_SCRIPT: &str = r#"set -eu
dir=$1 hash=$2 keep=$3; shift 3
releases="$dir/releases"
mkdir -p -- "$releases"; chmod 0700 -- "$releases"
if [ -d "$releases/$hash" ]; then touch -- "$releases/$hash"; exit 0; fi
tmp="$releases/.tmp-$hash"
rm -rf -- "$tmp"; mkdir -m 0700 -- "$tmp"
for f in "$@"; do
  if [ -f "$dir/$f" ]; then
    mkdir -p -- "$tmp/$(dirname -- "$f")"
    cp -p -- "$dir/$f" "$tmp/$f"
  fi
done
mv -- "$tmp" "$releases/$hash"
ls -1t -- "$releases" | grep -v '^\.' | tail -n +$((keep + 1)) | while IFS= read -r old; do rm -rf -- "${releases:?}/$old"; done
"#;

/// Copies the project's files (paths relative to `directory`) to `<directory>/releases/<hash>/`,
/// unless that bundle is already kept, and prunes all but the newest [`RELEASES_KEPT`].
pub async fn snapshot_release(
    t: &dyn Transport,
    directory: &str,
    hash: &str,
    relative_files: &[String],
) -> Result<(), NodeError> {
    let keep = RELEASES_KEPT.to_string();
    let mut cmd = format!(
        "/bin/sh -c {} sovstack-release {} {} {}",
        shell_quote(SNAPSHOT_SCRIPT),
        shell_quote(directory.trim_end_matches('/')),
        shell_quote(hash),
        keep
    );
    for f in relative_files {
        cmd.push(' ');
        cmd.push_str(&shell_quote(f));
    }
    t.exec_checked(ExecRequest::new(cmd)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::node::test_support::run_ok;

    #[test]
    fn parents() {
        assert_eq!(parent_dir("/a/b/c.env"), "/a/b");
        assert_eq!(parent_dir("/c"), "/");
    }

    #[test]
    fn snapshot_keeps_bundles_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("files/otel")).unwrap();
        std::fs::write(d.join("compose.yaml"), "v1").unwrap();
        std::fs::write(d.join("files/otel/config.yaml"), "c1").unwrap();
        let run = |hash: &str| {
            run_ok(
                std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(SNAPSHOT_SCRIPT)
                    .arg("x")
                    .arg(d)
                    .arg(hash)
                    .arg("2")
                    .args(["compose.yaml", "files/otel/config.yaml", "missing.env"]),
            );
        };
        run("aaa");
        assert_eq!(
            std::fs::read_to_string(d.join("releases/aaa/files/otel/config.yaml")).unwrap(),
            "c1"
        );
        std::fs::write(d.join("compose.yaml"), "v2").unwrap();
        run("aaa");
        // A kept bundle is never rewritten.
        assert_eq!(
            std::fs::read_to_string(d.join("releases/aaa/compose.yaml")).unwrap(),
            "v1"
        );
        // Ages set explicitly: pruning goes by modification time.
        let age = |name: &str, stamp: &str| {
            let st = std::process::Command::new("touch")
                .args(["-d", stamp])
                .arg(d.join("releases").join(name))
                .status()
                .unwrap();
            assert!(st.success());
        };
        age("aaa", "2020-01-01");
        run("bbb");
        age("bbb", "2021-01-01");
        run("ccc");
        let mut kept: Vec<String> = std::fs::read_dir(d.join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept, ["bbb", "ccc"]);
    }
}
