//! The accept loop, per-connection limits and graceful shutdown.
//!
//! Each connection is one task serving HTTP/1.1 with keep-alive. What a client can hold is
//! bounded: the number of open connections ([`ServerConfig::max_connections`]; beyond it the
//! loop stops accepting and the kernel's backlog waits), the time to send a request's headers
//! (hyper's header-read timeout, which drops a slowloris client), the time to send its body
//! (the front door's body-read timeout), and the time a connection may sit idle between
//! requests. Shutdown is broadcast to every connection, which finishes the request it is
//! serving and closes; the loop knows all have closed when the last clone of a sender they
//! each hold is dropped.

use crate::api;
use hearth_scheduler::Scheduler;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

/// Settings of the front door itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long shutdown waits for open connections to finish their in-flight requests.
    pub shutdown_grace: Duration,
    /// Access keys whose SigV4 signatures are accepted; `None`: no authentication (only
    /// sensible on loopback, which `hearth serve` enforces).
    pub credentials: Option<crate::auth::Credentials>,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body.
    pub body_read_timeout: Duration,
    /// Time a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// Request-body bytes held in memory across all connections at once.
    pub body_budget_bytes: usize,
    /// Host names served besides the listen address and `localhost`.
    pub allowed_hosts: Vec<String>,
    /// Web origins whose pages may call hearth (none by default).
    pub allowed_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace: Duration::from_secs(30),
            credentials: None,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            body_budget_bytes: 1 << 30,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}

/// What one connection's task shares with its request handlers: whether a request is in
/// progress and when the last one ended, for the idle timeout.
#[derive(Debug)]
struct Activity {
    busy: AtomicUsize,
    /// Milliseconds after `epoch` when the last request ended (or the connection opened).
    last_ms: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long until the connection has been idle for `timeout`; `None` when it has.
    fn idle_remaining(&self, timeout: Duration) -> Option<Duration> {
        if self.busy.load(Ordering::Relaxed) > 0 {
            return Some(timeout);
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        let idle = self.epoch.elapsed().saturating_sub(last);
        timeout.checked_sub(idle).filter(|d| !d.is_zero())
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
    let listen_ip = listener
        .local_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    let queues = scheduler.queues().clone();
    let streams = hearth_streams::Streams::open(
        &scheduler.config().state_dir.join("streams"),
        hearth_streams::StreamsConfig {
            region: scheduler.config().region.clone(),
            account: scheduler.config().account_id.clone(),
            ..Default::default()
        },
    )
    .map_err(|e| std::io::Error::other(format!("cannot open the streams: {e}")))?;
    let tables = hearth_streams::dynamodb::table::Tables::open(
        &scheduler.config().state_dir.join("tables"),
        hearth_streams::dynamodb::table::TablesConfig {
            region: scheduler.config().region.clone(),
            account: scheduler.config().account_id.clone(),
            ..Default::default()
        },
    )
    .map_err(|e| std::io::Error::other(format!("cannot open the tables: {e}")))?;
    let table_expiry = tokio::spawn({
        let tables = tables.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            loop {
                every.tick().await;
                tables.expire();
            }
        }
    });
    let expiry = tokio::spawn({
        let queues = queues.clone();
        let streams = streams.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            loop {
                every.tick().await;
                queues.expire();
                streams.expire();
            }
        }
    });
    let event_sources = hearth_event_sources::EventSources::open(
        scheduler.config().state_dir.join("mappings"),
        scheduler.clone(),
        queues.clone(),
        streams.clone(),
        tables.clone(),
    )
    .await
    .map_err(|e| std::io::Error::other(format!("cannot open the event source mappings: {e}")))?;
    let mut state = api::State::new(
        scheduler.clone(),
        queues,
        event_sources.clone(),
        streams,
        tables,
        config.credentials.clone(),
    );
    state.guard =
        api::guard::RequestGuard::new(listen_ip, &config.allowed_hosts, &config.allowed_origins);
    state.body_budget = api::body::BodyBudget::new(config.body_budget_bytes);
    state.body_read_timeout = config.body_read_timeout;
    let state = Arc::new(state);
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `recv` returns `None` once all are gone.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity {
            busy: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let service = {
            let (state, activity) = (state.clone(), activity.clone());
            hyper::service::service_fn(move |req| {
                let (state, activity) = (state.clone(), activity.clone());
                async move {
                    activity.busy.fetch_add(1, Ordering::Relaxed);
                    let response = api::handle(&state, req).await;
                    activity.touch();
                    activity.busy.fetch_sub(1, Ordering::Relaxed);
                    Ok::<_, std::convert::Infallible>(response)
                }
            })
        };
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let (mut stop_rx, open_tx) = (stop_rx.clone(), open_tx.clone());
        let idle_timeout = config.idle_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let _open = open_tx;
            tokio::pin!(conn);
            let mut closing = false;
            loop {
                let wait = activity.idle_remaining(idle_timeout);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop_rx.changed(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    () = tokio::time::sleep(wait.unwrap_or_default()), if !closing => {
                        if activity.idle_remaining(idle_timeout).is_none() {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop_tx.send(true);
    drop(open_tx);
    if tokio::time::timeout(config.shutdown_grace, open_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with requests still open");
    }
    expiry.abort();
    table_expiry.abort();
    event_sources.shutdown().await;
    scheduler.shutdown().await;
    Ok(())
}

/// Raises this process's descriptor limit to its hard limit and sizes the kernel's
/// descriptor table for it once, at start.
///
/// Linux grows a process's descriptor table by doubling, and in a multi-threaded process
/// each growth waits for an RCU grace period (6–19 ms measured here at the 256th, 512th,
/// 1,024th and 2,048th descriptor), which would stall whichever cold start crossed the
/// boundary. Duplicating a descriptor onto a number near the limit grows the table to its
/// final size now, while the process has one thread; closing it again keeps the table.
/// Returns the soft limit in force afterwards.
pub fn prepare_descriptor_table() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        limit.current = Some(max);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the descriptor limit");
        }
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(1 << 20);
    // The kernel caps table growth at fs.nr_open; 65,536 entries (512 KB of table) is as
    // far as presizing is worth it.
    let target = soft.clamp(1, 65_536) - 1;
    if let Ok(target) = i32::try_from(target)
        && let Ok(root) = std::fs::File::open("/")
        && let Ok(high) = rustix::io::fcntl_dupfd_cloexec(&root, target)
    {
        drop(high);
    }
    soft
}
