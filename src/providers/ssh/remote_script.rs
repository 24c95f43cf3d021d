//! The small POSIX sh programs behind upload and read_file, and how their results are read.
//!
//! Everything runs through `/bin/sh -c` with arguments passed positionally, so the user's login
//! shell only has to understand single quotes, and paths never get interpreted by a shell.

use super::error::SshError;
use super::transport::{ExecOutput, UploadRequest};

/// Quotes `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `/bin/sh -c '<script>' <name> <args...>`, every part quoted.
pub fn sh_command(script: &str, name: &str, args: &[&str]) -> String {
    let mut cmd = format!("/bin/sh -c {} {}", shell_quote(script), shell_quote(name));
    for arg in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(arg));
    }
    cmd
}

/// Exit status of the upload script when the temp file's checksum is wrong (EX_DATAERR).
const UPLOAD_CHECKSUM_STATUS: i32 = 65;
const UPLOAD_CHECKSUM_MARKER: &str = "sovstack-upload: checksum mismatch: ";

// The temp file is created by mktemp with mode 0600 so a secret is never readable by others
// while it is being written; the final mode is applied before the rename. Content is checked
// before the rename so a bad transfer never replaces a good file.
const UPLOAD_SCRIPT: &str = r#"set -eu
target=$1 mode=$2 owner=$3 want=$4
dir=$(dirname -- "$target")
if [ ! -d "$dir" ]; then echo "sovstack-upload: directory $dir does not exist" >&2; exit 66; fi
if [ -d "$target" ]; then echo "sovstack-upload: $target is a directory" >&2; exit 66; fi
tmp=$(mktemp -- "$dir/.sovstack-upload.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT HUP INT TERM
cat > "$tmp"
chmod -- "$mode" "$tmp"
if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi
sync -- "$tmp"
got=$(sha256sum -- "$tmp")
got=${got%% *}
if [ "$got" != "$want" ]; then echo "sovstack-upload: checksum mismatch: $got" >&2; exit 65; fi
mv -f -- "$tmp" "$target"
trap - EXIT HUP INT TERM
sync -- "$dir" 2>/dev/null || sync
got=$(sha256sum -- "$target")
echo "${got%% *}"
"#;

const READ_ABSENT_STATUS: i32 = 3;
const READ_ABSENT_MARKER: &str = "sovstack-read: absent";
const READ_SCRIPT: &str = r#"if [ -e "$1" ] || [ -L "$1" ]; then exec cat -- "$1"; fi
echo "sovstack-read: absent" >&2
exit 3
"#;

/// Checks what an upload request says before anything is sent.
pub fn validate_upload(request: &UploadRequest) -> Result<(), SshError> {
    validate_remote_path(&request.path)?;
    if request.path.ends_with('/') {
        return Err(SshError::InvalidRemotePath {
            path: request.path.clone(),
            reason: "names a directory",
        });
    }
    if request.mode > 0o7777 {
        return Err(SshError::InvalidUpload {
            reason: format!("mode {:o} is not a permission mode", request.mode),
        });
    }
    if let Some(owner) = &request.owner {
        let valid_name = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        let ok = match owner.split_once(':') {
            Some((user, group)) => valid_name(user) && valid_name(group),
            None => valid_name(owner),
        };
        if !ok {
            return Err(SshError::InvalidUpload {
                reason: format!("owner `{owner}` is not `user` or `user:group`"),
            });
        }
    }
    Ok(())
}

pub fn validate_remote_path(path: &str) -> Result<(), SshError> {
    let invalid = |reason| SshError::InvalidRemotePath {
        path: path.to_string(),
        reason,
    };
    if !path.starts_with('/') {
        return Err(invalid("must be absolute"));
    }
    if path.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(invalid("contains `..`"));
    }
    Ok(())
}

pub fn upload_command(request: &UploadRequest) -> String {
    let mode = format!("{:04o}", request.mode);
    let sha = request.sha256_hex();
    sh_command(
        UPLOAD_SCRIPT,
        "sovstack-upload",
        &[
            &request.path,
            &mode,
            request.owner.as_deref().unwrap_or(""),
            &sha,
        ],
    )
}

/// Reads the upload script's result: the final file's sha256, or why it failed.
pub fn parse_upload_result(
    target: &str,
    request: &UploadRequest,
    command: &str,
    output: ExecOutput,
) -> Result<String, SshError> {
    let expected = request.sha256_hex();
    if output.status == UPLOAD_CHECKSUM_STATUS && output.signal.is_none() {
        let stderr = output.stderr_str();
        if let Some(actual) = stderr
            .lines()
            .find_map(|l| l.strip_prefix(UPLOAD_CHECKSUM_MARKER))
        {
            return Err(SshError::UploadVerification {
                target: target.to_string(),
                path: request.path.clone(),
                expected,
                actual: actual.trim().to_string(),
                replaced: false,
            });
        }
    }
    let output = output.ensure_success(target, command)?;
    let actual = output.stdout_str().trim().to_string();
    if actual != expected {
        return Err(SshError::UploadVerification {
            target: target.to_string(),
            path: request.path.clone(),
            expected,
            actual,
            replaced: true,
        });
    }
    Ok(actual)
}

pub fn read_command(path: &str) -> String {
    sh_command(READ_SCRIPT, "sovstack-read", &[path])
}

pub fn parse_read_result(
    target: &str,
    command: &str,
    output: ExecOutput,
) -> Result<Option<Vec<u8>>, SshError> {
    if output.status == READ_ABSENT_STATUS
        && output.signal.is_none()
        && output.stderr_str().contains(READ_ABSENT_MARKER)
    {
        return Ok(None);
    }
    Ok(Some(output.ensure_success(target, command)?.stdout))
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("/opt/sovstack/compose.yaml"),
            "/opt/sovstack/compose.yaml"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    /// Runs a generated command through a real local shell, the way sshd would.
    fn run_local(cmd: &str, stdin: &[u8]) -> ExecOutput {
        use std::io::Write;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        ExecOutput {
            status: out.status.code().unwrap_or(-1),
            signal: None,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    #[test]
    fn hostile_arguments_survive_quoting() {
        let nasty = "a'b\"c $HOME `id` \\ \n; rm -rf /tmp/never";
        let cmd = sh_command(r#"printf '%s' "$1""#, "t", &[nasty]);
        let out = run_local(&cmd, b"");
        assert_eq!(out.stdout_str(), nasty);
    }

    #[test]
    fn upload_script_writes_atomically_with_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("we ird'name.env");
        let req = UploadRequest::new(path.to_str().unwrap(), b"A=1\n".to_vec(), 0o640);
        validate_upload(&req).unwrap();
        let cmd = upload_command(&req);
        let out = run_local(&cmd, &req.contents);
        let sha = parse_upload_result("local", &req, &cmd, out).unwrap();
        assert_eq!(sha, req.sha256_hex());
        assert_eq!(std::fs::read(&path).unwrap(), b"A=1\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        // No temp files left behind.
        crate::state::atomic::assert_single_entry(dir.path());
    }

    #[test]
    fn upload_script_refuses_wrong_content_and_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old").unwrap();
        let req = UploadRequest::new(path.to_str().unwrap(), b"new".to_vec(), 0o644);
        let cmd = upload_command(&req);
        // Send different bytes than the request promises: a corrupted transfer.
        let out = run_local(&cmd, b"corrupt");
        match parse_upload_result("local", &req, &cmd, out) {
            Err(SshError::UploadVerification {
                replaced: false,
                actual,
                ..
            }) => assert_eq!(actual.len(), 64),
            r => panic!("expected verification error, got {r:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn upload_script_needs_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/f");
        let req = UploadRequest::new(path.to_str().unwrap(), b"x".to_vec(), 0o644);
        let cmd = upload_command(&req);
        let err = parse_upload_result("local", &req, &cmd, run_local(&cmd, b"x")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn read_script_distinguishes_absent_from_empty() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let p = empty.to_str().unwrap();
        let cmd = read_command(p);
        assert_eq!(
            parse_read_result("l", &cmd, run_local(&cmd, b"")).unwrap(),
            Some(vec![])
        );
        let missing = dir.path().join("missing");
        let cmd = read_command(missing.to_str().unwrap());
        assert_eq!(
            parse_read_result("l", &cmd, run_local(&cmd, b"")).unwrap(),
            None
        );
        // A directory is an error, not "absent".
        let cmd = read_command(dir.path().to_str().unwrap());
        assert!(parse_read_result("l", &cmd, run_local(&cmd, b"")).is_err());
    }

    #[test]
    fn validation() {
        assert!(validate_remote_path("relative/x").is_err());
        assert!(validate_remote_path("/a/../etc/shadow").is_err());
        assert!(validate_remote_path("/opt/x").is_ok());
        let mut req = UploadRequest::new("/opt/x", vec![], 0o10000);
        assert!(validate_upload(&req).is_err());
        req.mode = 0o600;
        req.owner = Some("root:docker".into());
        assert!(validate_upload(&req).is_ok());
        req.owner = Some("-rf".into());
        assert!(validate_upload(&req).is_err());
        req.owner = Some("a b".into());
        assert!(validate_upload(&req).is_err());
        assert!(validate_upload(&UploadRequest::new("/opt/", vec![], 0o600)).is_err());
    }
}
