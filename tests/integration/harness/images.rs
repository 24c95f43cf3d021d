//! The images the test stacks use, built here (no registry is reachable) and tagged with the
//! real names the stacks use, so what sovstack renders is unchanged.
//!
//! Three root filesystems become three layers of one `docker save`-format archive, built once
//! per test process and loaded into every test host's engine with one `docker load`:
//! - the vLLM stand-in (`crates/test-standins`, `vllm`) with the libraries `ldd` lists, plus
//!   Debian's `python3` and the standard-library modules `urllib.request` needs, so the
//!   reference stack's own health check (`python3 -c "import urllib.request; ..."`) runs as
//!   written;
//! - the collector stand-in (`otelcol-contrib`) with its libraries;
//! - Debian's static busybox (sh, httpd, grep, tar, sha256sum...), curl, bash, coreutils'
//!   `install` and GNU wget with their libraries, answering on the ports and paths the
//!   SigNoz-shaped services' health checks ask for; the ClickHouse tag runs a command it is
//!   given, as its real entrypoint does; SigNoz's collector tag runs the collector stand-in as
//!   an OTLP ingest.
//!
//! What each image does and does not do is in the harness README.

use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const BUSYBOX: &str = "/bin/busybox";
const CURL: &str = "/usr/bin/curl";
/// What the real ClickHouse image (Ubuntu's) runs init-clickhouse's `bash -ec` script with,
/// copied from this machine with their libraries: bash, which finds these first on PATH (busybox
/// `sh` would run its own applets instead), coreutils' `install`, and GNU wget (busybox 1.35's
/// crashes on `-T`, the timeout the script passes). The rest of the script's tools (`mktemp`,
/// `sha256sum`, `tar`, `find`...) are busybox's.
const GNU_TOOLS: [&str; 3] = ["/bin/bash", "/usr/bin/install", "/usr/bin/wget"];
const PYTHON: &str = "/usr/bin/python3";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which root filesystem an image is made of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rootfs {
    Vllm,
    Collector,
    Busybox,
}

const ROOTFS: [Rootfs; 3] = [Rootfs::Vllm, Rootfs::Collector, Rootfs::Busybox];

/// One image: its tag, root filesystem and how it starts.
struct Image {
    tag: &'static str,
    rootfs: Rootfs,
    entrypoint: &'static [&'static str],
    cmd: &'static [&'static str],
    user: &'static str,
}

/// Every tag the test stacks use. The entrypoints are the real images' (vLLM's `vllm serve`,
/// the collector's binary with its default `--config`), so the rendered `command:` lines mean
/// what they mean in production.
const IMAGES: [Image; 7] = [
    Image {
        tag: "vllm/vllm-openai:v0.33.0",
        rootfs: Rootfs::Vllm,
        entrypoint: &["vllm", "serve"],
        cmd: &[],
        user: "",
    },
    Image {
        tag: "otel/opentelemetry-collector-contrib:0.159.0",
        rootfs: Rootfs::Collector,
        entrypoint: &["/otelcol-contrib"],
        cmd: &["--config", "/etc/otelcol-contrib/config.yaml"],
        user: "10001",
    },
    Image {
        tag: "signoz/zookeeper:3.7.1",
        rootfs: Rootfs::Busybox,
        entrypoint: &["/usr/local/bin/serve", "8080"],
        cmd: &[],
        user: "",
    },
    Image {
        tag: "clickhouse/clickhouse-server:25.5.6",
        rootfs: Rootfs::Busybox,
        entrypoint: &["/entrypoint.sh"],
        cmd: &[],
        user: "",
    },
    Image {
        tag: "signoz/signoz:v0.138.0",
        rootfs: Rootfs::Busybox,
        entrypoint: &["/usr/local/bin/serve", "8080"],
        cmd: &[],
        user: "",
    },
    Image {
        tag: "signoz/signoz-otel-collector:v0.144.6",
        rootfs: Rootfs::Busybox,
        entrypoint: &["/signoz-otel-collector"],
        cmd: &[],
        user: "",
    },
    // The drift test's own application service.
    Image {
        tag: "ghcr.io/example/api:1.4.2",
        rootfs: Rootfs::Busybox,
        entrypoint: &["/usr/local/bin/serve", "8000"],
        cmd: &[],
        user: "",
    },
];

/// `serve PORT`: busybox httpd answering GETs for the files under /www until stopped. PID 1
/// gets no default signal action, so the shell traps TERM for a prompt `docker stop`.
const SERVE: &str = r#"#!/bin/sh
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
httpd -f -p "$1" -h /www &
pid=$!
wait "$pid"
"#;

/// The SigNoz collector's two uses in the `signoz` module: `migrate ...` (the schema migrator)
/// succeeds without a ClickHouse; anything else is the OTLP ingest: the collector stand-in
/// receiving OTLP/gRPC on 4317 and writing every trace batch it receives to
/// [`SIGNOZ_RECEIVED`] (with its health_check on 13133). The module's own `--config` (its
/// ClickHouse exporters, span metrics, OpAMP) is not read.
const SIGNOZ_COLLECTOR: &str = r#"#!/bin/sh
case "${1-}" in
  migrate) echo "signoz-otel-collector stand-in: migrate ${2-} ${3-} done (no ClickHouse touched)"; exit 0 ;;
esac
mkdir -p /var/lib/signoz-otel-collector
cat > /tmp/ingest.yaml <<'YAML'
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
exporters:
  file/received:
    path: /var/lib/signoz-otel-collector/received.jsonl
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/received]
YAML
exec /usr/local/bin/otelcol-contrib --config /tmp/ingest.yaml
"#;

/// Where the SigNoz collector stand-in writes what it received, inside its container.
pub const SIGNOZ_RECEIVED: &str = "/var/lib/signoz-otel-collector/received.jsonl";

/// ClickHouse's `/entrypoint.sh` as far as the stack uses it: without arguments, or with
/// options only, it starts the server; anything else (init-clickhouse's `bash -ec SCRIPT`) is
/// run as given.
const CLICKHOUSE_ENTRYPOINT: &str = r#"#!/bin/sh
case "${1-}" in
  ''|--*) exec /usr/local/bin/serve 8123 ;;
esac
exec "$@"
"#;

/// Files busybox httpd answers with: the health endpoints of ZooKeeper's admin server,
/// ClickHouse, SigNoz and the drift test's API.
const WWW: [(&str, &str); 4] = [
    ("commands/ruok", "{\"command\":\"ruok\",\"error\":null}\n"),
    ("ping", "Ok.\n"),
    ("api/v1/health", "{\"status\":\"ok\"}\n"),
    ("health", "ok\n"),
];

/// Host names resolve from /etc/hosts first (Docker writes it), then DNS.
const NSSWITCH: &str = "hosts: files dns\n";
/// Named users need these (`user: root` in the stack), as in every real image.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
const GROUP: &str = "root:x:0:\n";

/// The archive holding every image, built on first use; `Err` says what is missing.
pub fn archive() -> Result<&'static Path, String> {
    static ARCHIVE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ARCHIVE
        .get_or_init(build_archive)
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

/// The stand-in binaries: cargo builds them into the same directory as the sovstack binary
/// whenever the workspace's tests are built (they are a default member with tests of its own).
pub fn standin(name: &str) -> Result<PathBuf, String> {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sovstack"))
        .parent()
        .ok_or("no directory for the sovstack binary")?;
    let path = bin_dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the stand-in binary {} is missing: run the tests from the workspace root (`cargo test`), or `cargo build -p sovstack-test-standins` first",
            path.display()
        ))
    }
}

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn mkdirs(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_file(root: &Path, path: &str, text: &str, mode: u32) -> Result<(), String> {
    let dest = root.join(path.trim_start_matches('/'));
    if let Some(dir) = dest.parent() {
        mkdirs(dir)?;
    }
    fs::write(&dest, text).map_err(|e| format!("{}: {e}", dest.display()))?;
    fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}

/// Copies `src` to the same absolute path under `root` (its content, not a link).
fn copy_as(root: &Path, src: &Path, dest: &str) -> Result<(), String> {
    let to = root.join(dest.trim_start_matches('/'));
    if let Some(dir) = to.parent() {
        mkdirs(dir)?;
    }
    fs::copy(src, &to).map_err(|e| format!("copy {} to {}: {e}", src.display(), to.display()))?;
    Ok(())
}

/// The shared libraries `ldd` lists for `binary` (with the dynamic loader).
fn libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = run(Command::new("ldd").arg(binary))?;
    let text = String::from_utf8_lossy(&out);
    Ok(text
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next(),
                None => l.split_whitespace().next(),
            }?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// `binary` (as `dest`) and every library it needs.
fn add_program(root: &Path, binary: &Path, dest: &str) -> Result<(), String> {
    copy_as(root, binary, dest)?;
    for lib in libraries(binary)? {
        copy_as(root, &lib, &lib.to_string_lossy())?;
    }
    Ok(())
}

/// A stand-in, stripped of debug info (a tenth of the size, so loads stay fast).
fn add_standin(root: &Path, name: &str, dest: &str) -> Result<(), String> {
    let binary = standin(name)?;
    add_program(root, &binary, dest)?;
    let to = root.join(dest.trim_start_matches('/'));
    run(Command::new("strip").arg(&to))?;
    fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

/// Python and the modules the health check imports, as the host's interpreter loads them.
fn add_python(root: &Path) -> Result<(), String> {
    let script = "import sys, os, urllib.request\n\
        try:\n    urllib.request.urlopen('http://127.0.0.1:9/health', timeout=1)\n\
        except Exception:\n    pass\n\
        print(os.path.realpath(sys.executable))\n\
        for m in list(sys.modules.values()):\n    f = getattr(m, '__file__', None)\n    if f: print(f)\n";
    let out = run(Command::new(PYTHON).args(["-c", script]))?;
    let text = String::from_utf8_lossy(&out).to_string();
    let mut lines = text.lines();
    let interpreter = lines.next().ok_or("python3 printed nothing")?;
    add_program(root, Path::new(interpreter), interpreter)?;
    if interpreter != PYTHON {
        std::os::unix::fs::symlink(interpreter, root.join(PYTHON.trim_start_matches('/')))
            .map_err(|e| e.to_string())?;
    }
    for module in lines {
        if module.ends_with(".so") {
            add_program(root, Path::new(module), module)?;
        } else {
            copy_as(root, Path::new(module), module)?;
        }
    }
    Ok(())
}

fn add_busybox(root: &Path) -> Result<(), String> {
    copy_as(root, Path::new(BUSYBOX), "/bin/busybox")?;
    let applets = run(Command::new(BUSYBOX).arg("--list"))?;
    for applet in String::from_utf8_lossy(&applets).lines() {
        let link = root.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            std::os::unix::fs::symlink("busybox", link).map_err(|e| e.to_string())?;
        }
    }
    add_program(root, Path::new(CURL), CURL)?;
    write_file(root, "/usr/local/bin/serve", SERVE, 0o755)?;
    write_file(root, "/signoz-otel-collector", SIGNOZ_COLLECTOR, 0o755)?;
    add_standin(root, "otelcol-contrib", "/usr/local/bin/otelcol-contrib")?;
    write_file(root, "/entrypoint.sh", CLICKHOUSE_ENTRYPOINT, 0o755)?;
    for tool in GNU_TOOLS {
        add_program(root, Path::new(tool), tool)?;
    }
    for (path, body) in WWW {
        write_file(root, &format!("/www/{path}"), body, 0o644)?;
    }
    Ok(())
}

fn build_rootfs(kind: Rootfs, root: &Path) -> Result<(), String> {
    for dir in ["root", "etc"] {
        mkdirs(&root.join(dir))?;
    }
    // The real collector image is built FROM scratch: no /tmp (sovstack's validation knows).
    if kind != Rootfs::Collector {
        mkdirs(&root.join("tmp"))?;
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))
            .map_err(|e| e.to_string())?;
    }
    write_file(root, "/etc/nsswitch.conf", NSSWITCH, 0o644)?;
    write_file(root, "/etc/passwd", PASSWD, 0o644)?;
    write_file(root, "/etc/group", GROUP, 0o644)?;
    match kind {
        Rootfs::Vllm => {
            add_standin(root, "vllm", "/usr/local/bin/vllm")?;
            add_python(root)
        }
        Rootfs::Collector => {
            mkdirs(&root.join("etc/otelcol-contrib"))?;
            add_standin(root, "otelcol-contrib", "/otelcol-contrib")
        }
        Rootfs::Busybox => add_busybox(root),
    }
}

fn sha256_hex(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The image's config in the `docker save` format: what `docker load` needs and no more.
fn image_config(image: &Image, diff_id: &str) -> serde_json::Value {
    serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": [PATH_ENV],
            "Entrypoint": image.entrypoint,
            "Cmd": if image.cmd.is_empty() { serde_json::Value::Null } else { serde_json::json!(image.cmd) },
            "User": image.user,
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
    })
}

const WORK_PREFIX: &str = "test-images-";

/// Removes the work directories of test processes that are gone.
fn remove_stale_work(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(WORK_PREFIX) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn build_archive() -> Result<PathBuf, String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_work(tmp);
    let work = tmp.join(format!("{WORK_PREFIX}{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let archive_dir = work.join("archive");
    mkdirs(&archive_dir)?;
    let mut diff_ids = Vec::new();
    for kind in ROOTFS {
        let root = work.join(format!("{kind:?}"));
        mkdirs(&root)?;
        build_rootfs(kind, &root)?;
        let layer = format!("{kind:?}.tar");
        run(Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&root)
            .arg("-cf")
            .arg(archive_dir.join(&layer))
            .arg("."))?;
        diff_ids.push((kind, layer.clone(), sha256_hex(&archive_dir.join(&layer))?));
        let _ = fs::remove_dir_all(&root);
    }
    let mut manifest = Vec::new();
    for (i, image) in IMAGES.iter().enumerate() {
        let (_, layer, diff_id) = diff_ids
            .iter()
            .find(|(k, _, _)| *k == image.rootfs)
            .ok_or("no layer for an image")?;
        let config = format!("config-{i}.json");
        fs::write(
            archive_dir.join(&config),
            image_config(image, diff_id).to_string(),
        )
        .map_err(|e| e.to_string())?;
        manifest.push(
            serde_json::json!({"Config": config, "RepoTags": [image.tag], "Layers": [layer]}),
        );
    }
    fs::write(
        archive_dir.join("manifest.json"),
        serde_json::Value::Array(manifest).to_string(),
    )
    .map_err(|e| e.to_string())?;
    let archive = work.join("images.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&archive_dir)
        .arg("-cf")
        .arg(&archive)
        .arg("."))?;
    Ok(archive)
}
