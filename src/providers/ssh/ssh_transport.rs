//! The async face of a connection: each blocking libssh2 call runs on tokio's blocking pool.

use crate::telemetry::spans;
use std::sync::Arc;

use super::config::{SshEndpoint, SshOptions, SshTarget};
use super::connection::SshConnection;
use super::error::SshError;
use super::host_key::HostKeyVerdict;
use super::lines::OutputLine;
use super::transport::{
    BoxFuture, ExecOutput, ExecRequest, LineSink, Transport, UploadReceipt, UploadRequest,
};

/// A connection to one host, cheap to clone; clones share the connection.
#[derive(Clone, Debug)]
pub struct SshTransport {
    conn: Arc<SshConnection>,
}

impl SshTransport {
    /// Opens a new connection. Prefer `SshPool::get`, which reuses one connection per host.
    pub async fn connect(endpoint: SshEndpoint, options: SshOptions) -> Result<Self, SshError> {
        let conn = blocking(move || SshConnection::connect(&endpoint, &options)).await?;
        Ok(Self {
            conn: Arc::new(conn),
        })
    }

    pub fn target(&self) -> &SshTarget {
        self.conn.target()
    }

    /// The host key this connection verified; `learned()` is what to pin in state.
    pub fn host_key(&self) -> HostKeyVerdict {
        self.conn.host_key()
    }

    pub fn is_broken(&self) -> bool {
        self.conn.is_broken()
    }

    /// Whether two handles share one underlying connection.
    pub fn same_connection(&self, other: &SshTransport) -> bool {
        Arc::ptr_eq(&self.conn, &other.conn)
    }
}

impl Transport for SshTransport {
    fn describe(&self) -> String {
        self.conn.target().to_string()
    }

    fn exec(&self, request: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, SshError>> {
        let conn = self.conn.clone();
        let span = spans::ssh_command(&self.describe(), &request.command);
        Box::pin(traced(span, blocking(move || conn.exec(&request))))
    }

    /// The blocking thread reads the channel and sends each line over a channel; this side
    /// hands them to `on_line` as they come, until the command ends and the sender is dropped.
    fn exec_streaming<'a>(
        &'a self,
        request: ExecRequest,
        on_line: LineSink<'a>,
    ) -> BoxFuture<'a, Result<ExecOutput, SshError>> {
        let conn = self.conn.clone();
        let span = spans::ssh_command(&self.describe(), &request.command);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<OutputLine>();
        let run = blocking(move || {
            conn.exec_streaming(&request, &mut |line| {
                // The receiver only goes away when the caller stopped waiting; the command's
                // result still comes back through the join handle.
                let _ = tx.send(line);
            })
        });
        Box::pin(traced(span, async move {
            let run = tokio::spawn(run);
            while let Some(line) = rx.recv().await {
                on_line(line);
            }
            run.await.map_err(|e| SshError::Worker {
                message: e.to_string(),
            })?
        }))
    }

    fn upload(&self, request: UploadRequest) -> BoxFuture<'_, Result<UploadReceipt, SshError>> {
        let conn = self.conn.clone();
        let span = spans::ssh_upload(&self.describe(), &request.path);
        Box::pin(traced(span, blocking(move || conn.upload(&request))))
    }

    fn read_file(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, SshError>> {
        let conn = self.conn.clone();
        let path = path.to_string();
        Box::pin(blocking(move || conn.read_file(&path)))
    }
}

/// Runs `work` inside `span`, marking the span failed when the work fails.
async fn traced<T>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, SshError>>,
) -> Result<T, SshError> {
    use tracing::Instrument;
    let result = work.instrument(span.clone()).await;
    if result.is_err() {
        span.record("otel.status_code", "ERROR");
    }
    result
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SshError> + Send + 'static,
) -> Result<T, SshError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SshError::Worker {
            message: e.to_string(),
        })?
}
