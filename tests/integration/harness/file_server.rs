//! A file server on a test host: busybox `httpd` inside the host's network namespace, serving a
//! directory on the host's own address, as a mirror a server without internet access downloads
//! from. Containers on the host's compose networks reach it through their bridge's gateway,
//! the test reaches it over the veth pair; nothing leaves the machine. Every request is logged
//! (`-vv`: client address, URL, status), so a test can tell that a file was really fetched, and
//! by whom. Dropping it stops the server.

use super::netns::NetNs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// No service of the test stacks publishes this port.
const PORT: u16 = 18080;
const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FileServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl FileServer {
    /// Serves `dir` on `ip:18080` inside `ns`; the request log goes to `log`.
    pub fn start(ns: &NetNs, ip: Ipv4Addr, dir: &Path, log: &Path) -> Result<FileServer, String> {
        let addr = SocketAddr::from((ip, PORT));
        let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = ns
            .command("/bin/busybox")
            .args(["httpd", "-f", "-vv", "-p", &addr.to_string(), "-h"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("busybox httpd: {e}"))?;
        let mut server = FileServer {
            child,
            addr,
            log: log.to_path_buf(),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("busybox httpd exited: {status}: {}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("busybox httpd not listening on {}", self.addr));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://IP:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// httpd's log: `CLIENT: url:/PATH` and `CLIENT: response:STATUS` per request.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The clients that asked for `/name`.
    pub fn clients_of(&self, name: &str) -> Vec<String> {
        let wanted = format!("url:/{name}");
        self.log()
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(_, what)| what.trim() == wanted)
            .map(|(client, _)| client.to_string())
            .collect()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
