//! A throw-away PostgreSQL cluster for tests: Debian's binaries, a temporary data directory, 127.0.0.1 on a free
//! port, stopped on drop.
//!
//! initdb refuses to run as root, so under root the cluster runs as the `postgres` system user (`runuser`), with
//! the temporary directory chowned to it. Without the binaries the test fails when `CI` is set (CI installs
//! them) and is skipped loudly otherwise.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running cluster; stopped (fast shutdown) and deleted on drop.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres_user: bool,
    tls: bool,
    pub port: u16,
}

/// The server's certificate and key (PEM), for a cluster that accepts TLS connections only.
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, b)| b)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .expect("run id");
    assert!(out.status.success(), "no system user {user}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric id")
}

impl PgCluster {
    /// Starts a cluster, or returns `None` (after a loud message) when PostgreSQL is not installed outside CI.
    pub fn start() -> Option<PgCluster> {
        Self::start_with(None)
    }

    /// A cluster that takes TCP connections over TLS only (`hostssl` in pg_hba.conf), with `tls`.
    pub fn start_tls(tls: &ServerTls) -> Option<PgCluster> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&ServerTls>) -> Option<PgCluster> {
        let Some(bin) = find_bin_dir() else {
            let msg = "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}; CI must run the PostgreSQL backend tests");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED: {msg}. The PostgreSQL state backend was NOT tested. !!!!!!!!\n"
            );
            return None;
        };
        let as_postgres_user = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let dir = tempfile::Builder::new()
            .prefix("sovstack-pg-")
            .tempdir()
            .expect("temp dir");
        if as_postgres_user {
            std::os::unix::fs::chown(
                dir.path(),
                Some(id_of("postgres", "-u")),
                Some(id_of("postgres", "-g")),
            )
            .expect("chown the cluster dir to postgres");
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            as_postgres_user,
            tls: tls.is_some(),
            port: 0,
        };
        let data = cluster.data_dir();
        let status = cluster
            .command("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ])
            .args(["--locale=C", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        if let Some(tls) = tls {
            cluster.install_tls(tls);
        }
        // A port found free can be taken before the server binds it; try a few.
        for _ in 0..5 {
            cluster.port = free_port();
            if cluster.try_start() {
                return Some(cluster);
            }
        }
        panic!(
            "PostgreSQL did not start; log:\n{}",
            std::fs::read_to_string(cluster.log()).unwrap_or_default()
        );
    }

    /// The certificate and key where the server looks by default, and TCP for TLS only.
    fn install_tls(&self, tls: &ServerTls) {
        let data = self.data_dir();
        self.write_server_file(&data.join("server.crt"), &tls.cert_pem);
        self.write_server_file(&data.join("server.key"), &tls.key_pem);
        self.write_server_file(
            &data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        );
    }

    /// A file only the server's user reads (PostgreSQL refuses a key others can read).
    fn write_server_file(&self, path: &std::path::Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).expect("write a server file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if self.as_postgres_user {
            std::os::unix::fs::chown(
                path,
                Some(id_of("postgres", "-u")),
                Some(id_of("postgres", "-g")),
            )
            .expect("chown a server file to postgres");
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn try_start(&self) -> bool {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off{}",
            self.port,
            self.dir.path().display(),
            if self.tls { " -c ssl=on" } else { "" }
        );
        let out = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data_dir().to_str().unwrap(),
                "-l",
                self.log().to_str().unwrap(),
            ])
            .args(["-o", &opts, "-w", "-t", "60", "start"])
            .output()
            .expect("run pg_ctl start");
        if !out.status.success() {
            return false;
        }
        wait_for_port(self.port, Duration::from_secs(30))
    }

    /// Connection string for the superuser.
    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// Runs SQL as the superuser on a fresh connection (for tests that tamper with rows).
    pub async fn execute(&self, sql: &str) {
        let (client, conn) = tokio_postgres::connect(&self.conn_str(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.expect("execute SQL");
        drop(client);
        let _ = task.await;
    }
}

fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data_dir().to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
