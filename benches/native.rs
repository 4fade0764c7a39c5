//! Process sandboxes: cold start and warm invoke of `native-rust` (a `bootstrap` built with
//! AWS's `lambda_runtime` crate, release build), each beside the floor under it, measured in
//! the same run.
//!
//! Run: `cargo bench --bench native` (add `-- --quick` for a short run). Prints p50/p90/p99
//! per case and each p50's ratio to its floor, draws the distributions as a text histogram,
//! and writes the latency CDFs to `target/bench/native.svg`. The isolation layers this host
//! gave the sandboxes are printed first: each one costs start-up time.
//!
//! Cases:
//! - floor `fork+exec`: `/bin/true` spawned and waited for (tokio's process API).
//! - `sandbox cold start`: a new environment of `native-rust` (listener, cgroup, fork, exec,
//!   the client's own start-up to its first `next`) and its first invocation. Dropped
//!   afterwards; its SIGTERM teardown runs in the background, as in the server.
//! - `cold start, no cgroup/mounts`: the same with only the layers every host has (process
//!   group, clean environment, rlimits): what the cgroup and the mount namespace cost.
//! - `scheduler cold start`: the full in-process path with no idle environment (two
//!   functions alternate within room for one).
//! - floor `loopback next+response`: a `GET` and a `POST` on one keep-alive loopback
//!   connection to an HTTP server that answers at once: the Runtime API's own traffic with
//!   nothing behind it.
//! - `sandbox warm invoke`: one invocation into an idle (frozen) environment: thaw, `/next`
//!   answered, the client's handler, `/response`, the next `/next`, freeze.
//! - `scheduler warm invoke`: the full in-process path with a warm environment.

#[path = "../tests/support/guests.rs"]
#[allow(dead_code)]
mod guests;
#[path = "../tests/support/native.rs"]
mod native_examples;
mod support;

use bytes::Bytes;
use hearth_sandbox::{Environment, HostMemory, InvokeOutcome, Isolation, ProcessFunction};
use hearth_scheduler::{Scheduler, SchedulerConfig};
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::report::{measure, report};
use support::{deploy, invocation, settings};

/// A keep-alive HTTP/1.1 server on loopback that answers every request at once, and a
/// client connection to it.
async fn loopback_pair() -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let service =
            hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let _ = req.into_body().collect().await;
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                    Bytes::from_static(br#"{"hello":"world"}"#),
                )))
            });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// A new environment of `function` and its first invocation, `n` times, beside fork+exec.
async fn cold_starts(
    name: &'static str,
    function: &ProcessFunction,
    n: usize,
) -> support::report::Case {
    measure(name, Some("fork+exec"), n, || async {
        let mut s = function.start().await.expect("start");
        let r = s
            .invoke(invocation(), Instant::now() + Duration::from_secs(3))
            .await;
        assert!(matches!(r, InvokeOutcome::Response(_)), "{r:?}");
    })
    .await
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (cold_n, warm_n) = if quick { (30, 1_000) } else { (500, 20_000) };
    let cases = support::on_a_worker(async move {
        {
            let dir = tempfile::tempdir().expect("tmp");
            let example =
                std::env::var("NATIVE_BENCH_EXAMPLE").unwrap_or_else(|_| "native-rust".into());
            // The release build is what is measured; the quick run (CI's smoke test of the bench)
            // takes the debug build the tests already made.
            let zip = if quick {
                native_examples::native_zip(&example)
            } else {
                native_examples::native_release_zip(&example)
            };
            let task_root = dir.path().join("task");
            hearth_scheduler::code::extract_tree(&zip, &task_root).expect("unpack");
            let isolation = Arc::new(Isolation::detect());
            for layer in isolation.layers() {
                eprintln!(
                    "  isolation {:<18} {}",
                    layer.name,
                    if layer.enabled { "on" } else { "off" }
                );
            }
            let mut function_settings = settings(dir.path());
            function_settings.handler = "bootstrap".into();
            let bare = ProcessFunction::prepare(
                Arc::new(Isolation::minimal()),
                Arc::new(HostMemory::unlimited()),
                task_root.clone(),
                hearth_sandbox::Entrypoint::Bootstrap,
                function_settings.clone(),
            )
            .expect("prepare");
            let native = ProcessFunction::prepare(
                isolation,
                Arc::new(HostMemory::unlimited()),
                task_root,
                hearth_sandbox::Entrypoint::Bootstrap,
                function_settings,
            )
            .expect("prepare");

            let mut config = SchedulerConfig::new(dir.path().join("state"));
            config.pool.memory_budget_mb = 128;
            config.pool.overcommit = 1;
            let cold = Scheduler::new(config).expect("scheduler");
            deploy(&cold, "a", "provided.al2023", &zip).await;
            deploy(&cold, "b", "provided.al2023", &zip).await;
            let warm =
                Scheduler::new(SchedulerConfig::new(dir.path().join("warm"))).expect("scheduler");
            deploy(&warm, "echo", "provided.al2023", &zip).await;

            eprintln!("measuring ({cold_n} cold / {warm_n} warm iterations per case)");
            let mut cases = Vec::new();
            cases.push(
                measure("fork+exec", None, cold_n, || async {
                    let status = tokio::process::Command::new("/bin/true")
                        .status()
                        .await
                        .expect("spawn");
                    assert!(status.success());
                })
                .await,
            );
            cases.push(cold_starts("sandbox cold start", &native, cold_n).await);
            cases.push(cold_starts("cold start, no cgroup/mounts", &bare, cold_n).await);
            cases.push(support::scheduler_cold_start(&cold, "fork+exec", cold_n).await);
            // Both loops hold their connection or environment in an uncontended lock (tens of
            // ns): `measure` takes a closure that may run its futures one after another only.
            let pair = tokio::sync::Mutex::new(loopback_pair().await);
            let pair = &pair;
            cases.push(
                measure("loopback next+response", None, warm_n, || async {
                    let next = http::Request::get("/2018-06-01/runtime/invocation/next")
                        .body(Full::default())
                        .expect("request");
                    let mut pair = pair.lock().await;
                    let body = pair.send_request(next).await.expect("next");
                    let _ = body.into_body().collect().await;
                    let respond = http::Request::post("/2018-06-01/runtime/invocation/x/response")
                        .body(Full::new(Bytes::from_static(br#"{"hello":"world"}"#)))
                        .expect("request");
                    let body = pair.send_request(respond).await.expect("response");
                    let _ = body.into_body().collect().await;
                })
                .await,
            );
            let sandbox = tokio::sync::Mutex::new(native.start().await.expect("start"));
            let sandbox = &sandbox;
            cases.push(
                measure(
                    "sandbox warm invoke",
                    Some("loopback next+response"),
                    warm_n,
                    || async {
                        let r = sandbox
                            .lock()
                            .await
                            .invoke(invocation(), Instant::now() + Duration::from_secs(3))
                            .await;
                        assert!(matches!(r, InvokeOutcome::Response(_)));
                    },
                )
                .await,
            );
            cases.push(
                support::scheduler_warm_invoke(&warm, "loopback next+response", warm_n).await,
            );
            cases
        }
    });
    report("native", &cases);
}
