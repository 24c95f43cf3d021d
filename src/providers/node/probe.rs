//! One command per node that reports everything refresh needs, as one JSON document: the OS,
//! Docker and Compose versions, the containers of every managed project, the sha256, mode and
//! owner of every managed file, and the GPUs when `nvidia-smi` exists.
//!
//! The script builds the JSON itself (POSIX sh, no python or jq on the node); `docker compose
//! ps --format json` prints one object per line (Compose >= 2.21; bootstrap requires 2.29), and
//! the script joins the lines into one array.

use super::error::NodeError;
use crate::providers::ssh::{ExecRequest, Transport, shell_quote};
use serde::Deserialize;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

const PROBE_SCRIPT: &str = r#"set -u
esc() { printf '%s' "$1" | tr -d '\000-\011\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'NR>1{printf "\\n"} {printf "%s", $0}'; }
str() { printf '"%s"' "$(esc "$1")"; }
osf() { ( . /etc/os-release 2>/dev/null && eval "printf '%s' \"\${$1-}\"" ); }
nprojects=$1; shift
printf '{"format":1,"os":{"id":%s,"version_id":%s,"pretty_name":%s}' "$(str "$(osf ID)")" "$(str "$(osf VERSION_ID)")" "$(str "$(osf PRETTY_NAME)")"
docker_ok=0
if command -v docker >/dev/null 2>&1; then
  if dv=$(docker version --format '{{.Server.Version}}' 2>/tmp/.sovstack-probe.$$); then
    printf ',"docker":{"installed":true,"server_version":%s}' "$(str "$dv")"; docker_ok=1
  else
    printf ',"docker":{"installed":true,"server_version":null,"error":%s}' "$(str "$(tail -n 3 /tmp/.sovstack-probe.$$)")"
  fi
  rm -f /tmp/.sovstack-probe.$$
else
  printf ',"docker":{"installed":false,"server_version":null}'
fi
if [ "$docker_ok" = 1 ] && cv=$(docker compose version --short 2>/dev/null); then
  printf ',"compose_version":%s' "$(str "$cv")"
else
  printf ',"compose_version":null'
fi
printf ',"projects":{'
i=0; sep=''
while [ "$i" -lt "$nprojects" ]; do
  p=$1; shift; i=$((i+1))
  printf '%s%s:' "$sep" "$(str "$p")"; sep=','
  if [ "$docker_ok" != 1 ]; then printf '{"error":"docker unavailable"}'; continue; fi
  if out=$(docker compose -p "$p" ps -a --format json 2>/dev/null); then
    printf '{"containers":['
    printf '%s\n' "$out" | awk 'NF{if(n++)printf ","; printf "%s", $0}'
    printf ']}'
  else
    printf '{"error":"docker compose ps failed"}'
  fi
done
printf '},"files":['
sep=''
for f in "$@"; do
  if [ -f "$f" ]; then
    s=$(sha256sum -- "$f" 2>/dev/null) || s=''
    m=$(stat -c '%a' -- "$f" 2>/dev/null) || m=''
    o=$(stat -c '%u:%g' -- "$f" 2>/dev/null) || o=''
    printf '%s{"path":%s,"sha256":%s,"mode":%s,"owner":%s}' "$sep" "$(str "$f")" "$(str "${s%% *}")" "$(str "$m")" "$(str "$o")"
  else
    printf '%s{"path":%s,"sha256":null}' "$sep" "$(str "$f")"
  fi
  sep=','
done
printf ']'
if command -v nvidia-smi >/dev/null 2>&1 && g=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null); then
  printf ',"gpus":['
  sep=''
  printf '%s\n' "$g" | while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s{"name":%s,"memory":%s}' "$sep" "$(str "${line%,*}")" "$(str "${line##*, }")"; sep=','
  done
  printf ']'
else
  printf ',"gpus":null'
fi
printf '}\n'
"#;

/// What one probe found on a node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProbeReport {
    pub os: OsInfo,
    pub docker: DockerInfo,
    pub compose_version: Option<String>,
    /// By project name.
    pub projects: std::collections::BTreeMap<String, ProjectProbe>,
    /// In the order the paths were given.
    pub files: Vec<FileProbe>,
    /// `None` when `nvidia-smi` is absent or failed.
    pub gpus: Option<Vec<Gpu>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OsInfo {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DockerInfo {
    pub installed: bool,
    /// `None` when the daemon did not answer.
    pub server_version: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProjectProbe {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub error: Option<String>,
}

/// One container as `docker compose ps --format json` lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Container {
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "State", default)]
    pub state: String,
    #[serde(rename = "Health", default)]
    pub health: String,
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
    #[serde(rename = "Name", default)]
    pub name: String,
}

impl Container {
    /// Running, and healthy when it has a health check.
    pub fn is_up(&self) -> bool {
        self.state == "running" && (self.health.is_empty() || self.health == "healthy")
    }

    /// Ran to its end with status 0 (what a one-shot job should have done).
    pub fn completed(&self) -> bool {
        self.state == "exited" && self.exit_code == 0
    }

    /// `running`, `running (unhealthy)`, `exited (1)`...
    pub fn describe(&self) -> String {
        match (self.state.as_str(), self.health.as_str()) {
            ("exited", _) => format!("exited ({})", self.exit_code),
            (s, "") => s.to_string(),
            (s, h) => format!("{s} ({h})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FileProbe {
    pub path: String,
    /// `None` when the file does not exist.
    pub sha256: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Gpu {
    pub name: String,
    pub memory: String,
}

/// The probe's command line for these projects and files.
pub fn probe_command(projects: &[String], files: &[String]) -> String {
    let mut cmd = format!(
        "/bin/sh -c {} sovstack-probe {}",
        shell_quote(PROBE_SCRIPT),
        projects.len()
    );
    for a in projects.iter().chain(files) {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    cmd
}

/// Parses the probe's stdout.
pub fn parse_probe(target: &str, stdout: &[u8]) -> Result<ProbeReport, NodeError> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| NodeError::Probe {
            target: target.to_string(),
            reason: "no JSON line in its output".into(),
        })?;
    serde_json::from_str(line).map_err(|e| NodeError::Probe {
        target: target.to_string(),
        reason: e.to_string(),
    })
}

/// Runs the probe on the node behind `t`.
pub async fn probe(
    t: &dyn Transport,
    projects: &[String],
    files: &[String],
) -> Result<ProbeReport, NodeError> {
    let out = t
        .exec_checked(ExecRequest::new(probe_command(projects, files)).timeout(PROBE_TIMEOUT))
        .await?;
    parse_probe(&t.describe(), &out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::node::test_support::run_ok;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// The system tools the probe script calls, and no others.
    const SCRIPT_TOOLS: [&str; 7] = ["awk", "rm", "sed", "sha256sum", "stat", "tail", "tr"];

    /// A directory holding links to [`SCRIPT_TOOLS`] only. With it and the test's stubs as the
    /// whole PATH, whether `docker` or `nvidia-smi` exists is the test's choice, not the
    /// machine's: `/usr/bin` itself may well hold a real docker.
    fn script_tools() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in SCRIPT_TOOLS {
            let found = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| std::path::Path::new(d).join(name))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("the probe needs `{name}` in /usr/bin or /bin"));
            std::os::unix::fs::symlink(found, dir.path().join(name)).unwrap();
        }
        dir
    }

    fn run_locally(
        stub_dir: &std::path::Path,
        projects: &[String],
        files: &[String],
    ) -> ProbeReport {
        let tools = script_tools();
        let out = run_ok(
            Command::new("/bin/sh")
                .arg("-c")
                .arg(probe_command(projects, files))
                .env(
                    "PATH",
                    format!("{}:{}", stub_dir.display(), tools.path().display()),
                ),
        );
        parse_probe("local", &out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    fn tool(dir: &std::path::Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `docker compose ps -a --format json` as Compose 2.40.3 printed it for a project with
    /// an unhealthy service, a job that ran to completion and a stopped service (captured by
    /// the integration test `compose_capture`).
    const PS_A: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/docker/compose-ps-a.json"
    );

    #[test]
    fn real_ps_files_and_gpus() {
        let dir = tempfile::tempdir().unwrap();
        tool(
            dir.path(),
            "docker",
            &format!(
                r#"case "$*" in
  "version --format {{{{.Server.Version}}}}") echo 20.10.24+dfsg1 ;;
  "compose version --short") echo 2.40.3 ;;
  "compose -p capture ps -a --format json") while IFS= read -r l; do printf '%s\n' "$l"; done < '{PS_A}' ;;
  "compose -p empty ps -a --format json") ;;
  *) exit 1 ;;
esac"#
            ),
        );
        tool(
            dir.path(),
            "nvidia-smi",
            r#"echo 'NVIDIA RTX 4000 SFF Ada "Generation", 20475 MiB'"#,
        );
        let f = dir.path().join("with space.env");
        std::fs::write(&f, "A=1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let files = vec![
            f.display().to_string(),
            dir.path().join("gone").display().to_string(),
        ];
        let projects: Vec<String> = ["capture", "empty", "broken"].map(String::from).to_vec();
        let r = run_locally(dir.path(), &projects, &files);
        assert_eq!(r.docker.server_version.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(r.compose_version.as_deref(), Some("2.40.3"));
        assert!(!r.os.id.is_empty());
        let seen: Vec<(&str, &str, String, bool, bool)> = r.projects["capture"]
            .containers
            .iter()
            .map(|c| {
                let (service, name) = (c.service.as_str(), c.name.as_str());
                (service, name, c.describe(), c.is_up(), c.completed())
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "api",
                    "capture-api-1",
                    "running (unhealthy)".into(),
                    false,
                    false
                ),
                (
                    "migrate",
                    "capture-migrate-1",
                    "exited (0)".into(),
                    false,
                    true
                ),
                ("web", "capture-web-1", "exited (0)".into(), false, true),
            ]
        );
        assert!(r.projects["empty"].containers.is_empty());
        assert!(r.projects["broken"].error.is_some());
        assert_eq!(
            r.files[0].sha256.as_deref().unwrap(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"A=1\n"))
        );
        assert_eq!(r.files[0].mode.as_deref(), Some("600"));
        assert_eq!(r.files[1].sha256, None);
        let gpus = r.gpus.unwrap();
        assert_eq!(gpus[0].name, "NVIDIA RTX 4000 SFF Ada \"Generation\"");
        assert_eq!(gpus[0].memory, "20475 MiB");
    }

    #[test]
    fn docker_missing_or_down() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_locally(dir.path(), &["p".into()], &[]);
        assert!(!r.docker.installed);
        assert!(r.projects["p"].error.is_some());
        assert_eq!(r.gpus, None);
        tool(
            dir.path(),
            "docker",
            "echo 'Cannot connect to the Docker daemon' >&2; exit 1",
        );
        let r = run_locally(dir.path(), &["p".into()], &[]);
        assert!(r.docker.installed);
        assert_eq!(r.docker.server_version, None);
        assert!(r.docker.error.unwrap().contains("Cannot connect"));
        assert_eq!(r.compose_version, None);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            parse_probe("h", b"hello"),
            Err(NodeError::Probe { .. })
        ));
        assert!(matches!(
            parse_probe("h", b"{\"format\":1}"),
            Err(NodeError::Probe { .. })
        ));
    }
}
