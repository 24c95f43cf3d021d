//! The bootstrap script run for real under `sh`, with fakes for everything that would touch the
//! machine (package managers, downloaders, Docker, the NVIDIA tools, mount and friends) first on
//! PATH: it must decide from what it finds alone, and the fakes record what it asked for.

use super::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn request(ctk: bool, mounts: Vec<VolumeMount>) -> BootstrapRequest {
    BootstrapRequest {
        docker: Pin {
            install: "29.7.2".into(),
            minimum: "25.0.2".into(),
        },
        compose: Pin {
            install: COMPOSE_PLUGIN.into(),
            minimum: COMPOSE_PLUGIN_MIN.into(),
        },
        nvidia_container_toolkit: ctk.then(|| Pin {
            install: "1.20.1".into(),
            minimum: "1.17.8".into(),
        }),
        mounts,
    }
}

#[test]
fn the_script_pins_nothing_and_never_pipes_an_installer() {
    for literal in ["27.3.1", "1.17.3", "29.7.2", "1.20.1", "2.29.7"] {
        assert!(
            !BOOTSTRAP_SCRIPT.contains(literal),
            "{literal} in the script"
        );
    }
    assert!(!BOOTSTRAP_SCRIPT.contains("| sh"));
    assert!(!BOOTSTRAP_SCRIPT.contains("|sh"));
    assert!(!BOOTSTRAP_SCRIPT.contains("get.docker.com"));
}

#[test]
fn the_command_carries_every_version_and_mount_quoted() {
    let mount = VolumeMount {
        device: "/dev/disk/by-id/scsi-0HC_Volume_42".into(),
        path: "/mnt/clickhouse".into(),
        fstype: "ext4".into(),
    };
    assert_eq!(
        bootstrap_command(&request(true, vec![mount])),
        "sh -s -- --docker=29.7.2 --docker-min=25.0.2 --compose=2.29.7 --compose-min=2.29.0 \
         --nvidia-ctk=1.20.1 --nvidia-ctk-min=1.17.8 \
         --mount=/dev/disk/by-id/scsi-0HC_Volume_42,/mnt/clickhouse,ext4"
    );
    let mut odd = request(false, Vec::new());
    odd.docker.install = "1 2'3".into();
    assert!(bootstrap_command(&odd).contains(r"'--docker=1 2'\''3'"));
}

#[test]
fn sha256_is_of_the_script() {
    assert_eq!(bootstrap_sha256().len(), 64);
    assert_eq!(
        bootstrap_sha256(),
        hex::encode(Sha256::digest(BOOTSTRAP_SCRIPT.as_bytes()))
    );
}

#[test]
fn interpret_ok_refused_failed() {
    let ok = interpret(
        "h",
        0,
        b"noise\nsovstack-bootstrap: ok docker=29.7.2 compose=2.29.7 installed=0 nvidia=1 mounts=1\n",
        b"",
    )
    .unwrap();
    assert_eq!(
        ok,
        BootstrapReport {
            docker_version: "29.7.2".into(),
            compose_version: "2.29.7".into(),
            installed: false,
            nvidia: true,
            mounts: 1,
        }
    );
    let refused = interpret(
        "h",
        3,
        b"",
        b"sovstack-bootstrap: refused: Docker Compose 2.20.0 is older than 2.29.0\n",
    )
    .unwrap_err();
    assert!(
        matches!(&refused, NodeError::BootstrapRefused { reason, .. } if reason.contains("2.20.0")),
        "{refused:?}"
    );
    let failed = interpret("h", 100, b"", b"E: Unable to locate package\n").unwrap_err();
    assert!(failed.to_string().contains("Unable to locate"), "{failed}");
    assert!(interpret("h", 0, b"", b"").is_err());
}

/// A node of fakes: a PATH directory, the fstab and apt source lists, and the log of calls.
struct FakeNode {
    dir: tempfile::TempDir,
}

struct Found {
    docker: &'static str,
    compose: &'static str,
    nvidia_runtime: bool,
    ctk: &'static str,
}

const CURRENT: Found = Found {
    docker: "29.7.2",
    compose: "2.29.7",
    nvidia_runtime: false,
    ctk: "",
};

impl FakeNode {
    fn new(found: Found) -> Self {
        let node = FakeNode {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(node.path("bin")).unwrap();
        std::fs::create_dir(node.path("sources")).unwrap();
        let trap = node.path("trap.log");
        for forbidden in [
            "apt-get",
            "curl",
            "gpg",
            "dpkg",
            "systemctl",
            "sudo",
            "wget",
        ] {
            node.tool(
                forbidden,
                &format!("echo {forbidden} \"$@\" >> '{}'; exit 99", trap.display()),
            );
        }
        let calls = node.path("calls.log");
        for recorded in ["mount", "resize2fs", "xfs_growfs", "chattr"] {
            node.tool(
                recorded,
                &format!("echo {recorded} \"$@\" >> '{}'", calls.display()),
            );
        }
        let runtimes = if found.nvidia_runtime {
            r#"{"nvidia":{},"runc":{}}"#
        } else {
            r#"{"runc":{}}"#
        };
        node.tool(
            "docker",
            &format!(
                r#"case "$1 $2" in
  "version --format") echo '{}' ;;
  "compose version") echo '{}' ;;
  "info --format") echo '{runtimes}' ;;
  *) exit 1 ;;
esac"#,
                found.docker, found.compose
            ),
        );
        node.tool(
            "nvidia-ctk",
            &format!("echo 'NVIDIA Container Toolkit CLI version {}'", found.ctk),
        );
        node.tool("nvidia-smi", "exit 0");
        node.mounted_from("");
        node.filesystem("ext4");
        node
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tool(&self, name: &str, body: &str) {
        let p = self.path("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// What `findmnt` says is mounted at any path ("" for nothing).
    fn mounted_from(&self, device: &str) {
        self.tool("findmnt", &format!("printf '%s' '{device}'"));
    }

    fn filesystem(&self, fstype: &str) {
        self.tool("blkid", &format!("echo {fstype}"));
    }

    /// A file standing for a volume's device node.
    fn device(&self) -> String {
        let p = self.path("scsi-0HC_Volume_42");
        std::fs::write(&p, b"").unwrap();
        p.display().to_string()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Runs the script as sovstack would, pointed at this node's fstab and source lists.
    fn run(&self, r: &BootstrapRequest) -> (i32, String, String) {
        let command = bootstrap_command(r);
        let mut args: Vec<String> = command
            .strip_prefix("sh -s -- ")
            .unwrap_or("")
            .split(' ')
            .map(str::to_string)
            .collect();
        args.retain(|a| !a.is_empty());
        args.push(format!("--fstab={}", self.path("fstab").display()));
        args.push(format!("--apt-sources={}", self.path("sources").display()));
        let mut child = Command::new("sh")
            .arg("-s")
            .arg("--")
            .args(&args)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(BOOTSTRAP_SCRIPT.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn mount_at(device: &str, path: &Path) -> VolumeMount {
    VolumeMount {
        device: device.to_string(),
        path: path.display().to_string(),
        fstype: "ext4".into(),
    }
}

#[test]
fn present_and_acceptable_installs_nothing() {
    let node = FakeNode::new(CURRENT);
    let (status, stdout, stderr) = node.run(&request(false, Vec::new()));
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        node.read("trap.log"),
        "",
        "a package manager or downloader ran"
    );
    let r = interpret("h", status, stdout.as_bytes(), stderr.as_bytes()).unwrap();
    assert!(!r.installed && !r.nvidia);
    assert_eq!(r.compose_version, "2.29.7");
    // A newer major, `v` prefix as some builds print it.
    let node = FakeNode::new(Found {
        compose: "v5.0.1",
        docker: "30.0.0",
        ..CURRENT
    });
    let (status, _, stderr) = node.run(&request(false, Vec::new()));
    assert_eq!(
        (status, node.read("trap.log").as_str()),
        (0, ""),
        "{stderr}"
    );
}

#[test]
fn unacceptable_installations_it_did_not_make_are_refused_untouched() {
    for (found, says) in [
        (
            Found {
                compose: "2.28.1",
                ..CURRENT
            },
            "2.28.1 is older than 2.29.0",
        ),
        (
            Found {
                docker: "24.0.7",
                ..CURRENT
            },
            "24.0.7 is older than 25.0.2",
        ),
    ] {
        let node = FakeNode::new(found);
        let (status, stdout, stderr) = node.run(&request(false, Vec::new()));
        assert_eq!(status, 3, "{stdout}{stderr}");
        assert_eq!(node.read("trap.log"), "");
        let e = interpret("h", status, stdout.as_bytes(), stderr.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
}

#[test]
fn an_old_docker_it_made_is_upgraded_to_the_pin() {
    let node = FakeNode::new(Found {
        docker: "24.0.7",
        ..CURRENT
    });
    std::fs::write(node.path("sources").join("docker.list"), "deb ...\n").unwrap();
    let (status, _, _) = node.run(&request(false, Vec::new()));
    // The fake apt-get fails the install; what matters is that the script went for the pin.
    assert_ne!(status, 0);
    assert!(
        node.read("trap.log").starts_with("apt-get update"),
        "{}",
        node.read("trap.log")
    );
}

#[test]
fn nvidia_toolkit_present_and_patched_is_enough() {
    let node = FakeNode::new(Found {
        nvidia_runtime: true,
        ctk: "1.17.8",
        ..CURRENT
    });
    let (status, stdout, stderr) = node.run(&request(true, Vec::new()));
    assert_eq!(
        (status, node.read("trap.log").as_str()),
        (0, ""),
        "{stderr}"
    );
    assert!(interpret("h", 0, stdout.as_bytes(), b"").unwrap().nvidia);
}

#[test]
fn a_toolkit_open_to_container_escape_is_refused_unless_ours() {
    let node = FakeNode::new(Found {
        nvidia_runtime: true,
        ctk: "1.17.3",
        ..CURRENT
    });
    let (status, _, stderr) = node.run(&request(true, Vec::new()));
    assert_eq!(
        (status, node.read("trap.log").as_str()),
        (3, ""),
        "{stderr}"
    );
    assert!(stderr.contains("CVE-2025-23266"), "{stderr}");
    // Installed by an earlier sovstack (1.17.3 was its pin): upgraded to the pin instead.
    std::fs::write(
        node.path("sources").join("nvidia-container-toolkit.list"),
        "deb ...\n",
    )
    .unwrap();
    let (status, _, _) = node.run(&request(true, Vec::new()));
    assert_ne!(status, 3);
    assert!(node.read("trap.log").starts_with("apt-get update"));
}

#[test]
fn gpus_without_a_driver_are_refused() {
    let node = FakeNode::new(CURRENT);
    std::fs::remove_file(node.path("bin").join("nvidia-smi")).unwrap();
    let (status, _, stderr) = node.run(&request(true, Vec::new()));
    assert_eq!(
        (status, node.read("trap.log").as_str()),
        (3, ""),
        "{stderr}"
    );
    assert!(stderr.contains("nvidia-smi"), "{stderr}");
}

#[test]
fn a_volume_is_mounted_by_device_with_a_nofail_entry_and_grown() {
    let node = FakeNode::new(CURRENT);
    let device = node.device();
    let path = node.path("mnt-clickhouse");
    std::fs::write(node.path("fstab"), "UUID=root / ext4 defaults 0 1\n").unwrap();
    let r = request(false, vec![mount_at(&device, &path)]);
    let (status, stdout, stderr) = node.run(&r);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(interpret("h", 0, stdout.as_bytes(), b"").unwrap().mounts, 1);
    let line = format!(
        "{device} {} ext4 defaults,nofail,discard 0 2",
        path.display()
    );
    assert_eq!(
        node.read("fstab"),
        format!("UUID=root / ext4 defaults 0 1\n{line}\n")
    );
    let calls = node.read("calls.log");
    assert!(
        calls.contains(&format!("chattr +i {}", path.display())),
        "{calls}"
    );
    assert!(
        calls.contains(&format!("mount {}", path.display())),
        "{calls}"
    );
    assert!(calls.contains(&format!("resize2fs {device}")), "{calls}");
    assert!(path.is_dir());

    // Again, now mounted: the entry is not doubled and nothing is mounted twice.
    std::fs::write(node.path("calls.log"), "").unwrap();
    node.mounted_from(&device);
    let (status, _, stderr) = node.run(&r);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(node.read("fstab").matches(&line).count(), 1);
    assert!(
        !node.read("calls.log").contains("mount "),
        "{}",
        node.read("calls.log")
    );
    assert!(node.read("calls.log").contains("resize2fs"));
}

#[test]
fn a_volume_is_never_formatted_or_mounted_over_something_else() {
    let node = FakeNode::new(CURRENT);
    let device = node.device();
    let path = node.path("mnt-clickhouse");
    node.filesystem("");
    let (status, _, stderr) = node.run(&request(false, vec![mount_at(&device, &path)]));
    assert_eq!(status, 3, "{stderr}");
    assert!(
        stderr.contains("sovstack never formats a volume"),
        "{stderr}"
    );

    node.filesystem("ext4");
    node.mounted_from("/dev/sdz");
    let (status, _, stderr) = node.run(&request(false, vec![mount_at(&device, &path)]));
    assert_eq!(status, 3, "{stderr}");
    assert!(stderr.contains("already a mount of /dev/sdz"), "{stderr}");
    assert_eq!(node.read("calls.log"), "");
}
