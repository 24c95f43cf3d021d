//! The accept loop. It is hand-rolled (rather than `axum::serve`) for one reason: `drop_after_create` must close a
//! connection without sending any response, which hyper does when the service returns an error.

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use super::app::DropConnection;

#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let mut router = router.clone();
                        async move {
                            let ready: Result<(), Infallible> =
                                std::future::poll_fn(|cx| {
                                    <Router as Service<Request<Incoming>>>::poll_ready(&mut router, cx)
                                })
                                .await;
                            let Ok(()) = ready;
                            let Ok(resp) = router.call(req).await;
                            if resp.extensions().get::<DropConnection>().is_some() {
                                return Err(Dropped);
                            }
                            Ok(resp)
                        }
                    });
                    // A client that disconnects, or a dropped connection, ends here; neither is our error.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}
