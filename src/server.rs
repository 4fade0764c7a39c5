//! The accept loop and graceful shutdown.

use crate::api;
use hearth_scheduler::Scheduler;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Settings of the front door itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long shutdown waits for open connections to finish their in-flight requests.
    pub shutdown_grace: Duration,
    /// Access keys whose SigV4 signatures are accepted; `None`: no authentication (only
    /// sensible on loopback, which `hearth serve` enforces).
    pub credentials: Option<crate::auth::Credentials>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace: Duration::from_secs(30),
            credentials: None,
        }
    }
}

/// Serves Lambda's APIs on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (bounded by the grace period), and shuts the scheduler down
/// (bounded as well), stopping every sandbox.
pub async fn serve(
    listener: TcpListener,
    scheduler: Scheduler,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = Arc::new(api::State::new(
        scheduler.clone(),
        config.credentials.clone(),
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of fds and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Small responses must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(api::handle(&state, req).await) }
                });
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with requests still open");
    }
    scheduler.shutdown().await;
    Ok(())
}
