//! In-process latency of the invoke path, each case beside the floor under it, measured in
//! the same run.
//!
//! Run: `cargo bench --bench invoke` (add `-- --quick` for a short run). Prints p50/p90/p99
//! per case and the ratio of each p50 to its floor, draws the distributions as a text
//! histogram, and writes the latency CDFs to `target/bench/invoke.svg`.
//!
//! Cases:
//! - floor `instantiate`: wasmtime instantiation of echo from its `InstancePre` (pooling
//!   allocator, copy-on-write image) into a fresh store, no guest code run, dropped.
//! - `start, never-used slot`: a cold start (no invoke) while 100 sandboxes stay alive, so
//!   each lands in a pool slot no sandbox used before: page faults and a new `/tmp` included.
//!   The first cold starts after `hearth serve` look like this.
//! - `sandbox cold start`: a new sandbox of echo (instantiate + guest INIT to its first
//!   `next`) and its first invocation, then dropped.
//! - `scheduler cold start`: the full in-process path with no idle sandbox: admission, pool
//!   miss (evicting the other function's idle sandbox to fit a 128 MB budget), cold start,
//!   invoke, log, metrics.
//! - floor `spawn+join`: one tokio task spawned and awaited (the scheduler runs each
//!   invocation in its own task).
//! - `sandbox warm invoke`: one invocation into an idle sandbox parked in `next`.
//! - `scheduler warm invoke`: the full in-process path with a warm sandbox.
//! - `heavy-init cold start`: a new sandbox of `heavy-init` (an INIT that builds a
//!   400,000-entry table) and its first invocation.
//! - `heavy-init snapshot cold start`: the same from its snapshot (`hearth_sandbox::snapshot`:
//!   `wizer-initialize` run once, the initialised heap the component's memory image).

#[path = "../tests/support/guests.rs"]
mod guests;
mod support;

use support::report::{Case, measure, report};
use support::{deploy, invocation, settings};

use hearth_sandbox::{EngineConfig, Environment, InvokeOutcome, WasmEngine, WasmFunction};
use hearth_scheduler::{Scheduler, SchedulerConfig};
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (cold_n, warm_n) = if quick { (500, 2_000) } else { (5_000, 50_000) };
    let cases = support::on_a_worker(async move {
        {
            let dir = tempfile::tempdir().expect("tmp");
            let wasm = guests::guest("echo");
            let engine = WasmEngine::new(EngineConfig {
                cache_dir: dir.path().join("cache"),
                max_instances: 256,
                host_memory: std::sync::Arc::new(hearth_sandbox::HostMemory::unlimited()),
            })
            .expect("engine");
            let echo = WasmFunction::prepare(&engine, "bench-echo", &wasm, settings(dir.path()))
                .expect("prepare");

            let mut config = SchedulerConfig::new(dir.path().join("state"));
            // Room for exactly one sandbox by MemorySize (no overcommit): a/b alternate cold.
            config.pool.memory_budget_mb = 128;
            config.pool.overcommit = 1;
            let cold = Scheduler::new(config).expect("scheduler");
            deploy(&cold, "a", "wasm32-wasip2", &wasm).await;
            deploy(&cold, "b", "wasm32-wasip2", &wasm).await;
            let warm =
                Scheduler::new(SchedulerConfig::new(dir.path().join("warm"))).expect("scheduler");
            deploy(&warm, "echo", "wasm32-wasip2", &wasm).await;

            eprintln!(
                "measuring ({} cold / {} warm iterations per case)",
                cold_n, warm_n
            );
            let mut cases = Vec::new();
            cases.push(
                measure("instantiate", None, cold_n, || async {
                    echo.instantiate_only().await.expect("instantiate");
                })
                .await,
            );
            // Sandboxes kept alive so their teardown stays out of the measurement.
            let kept = std::sync::Mutex::new(Vec::new());
            cases.push(
                measure(
                    "start, never-used slot",
                    Some("instantiate"),
                    100,
                    || async {
                        let s = echo.start().await.expect("start");
                        kept.lock().expect("not poisoned").push(s);
                    },
                )
                .await,
            );
            drop(kept);
            cases.push(
                measure(
                    "sandbox cold start",
                    Some("instantiate"),
                    cold_n,
                    || async {
                        let mut s = echo.start().await.expect("start");
                        let r = s
                            .invoke(invocation(), Instant::now() + Duration::from_secs(3))
                            .await;
                        assert!(matches!(r, InvokeOutcome::Response(_)));
                    },
                )
                .await,
            );
            cases.push(support::scheduler_cold_start(&cold, "instantiate", cold_n).await);
            cases.push(
                measure("spawn+join", None, warm_n, || async {
                    tokio::spawn(async {}).await.expect("join");
                })
                .await,
            );
            let mut sandbox = echo.start().await.expect("start");
            let sandbox = &mut sandbox;
            let mut samples = Vec::with_capacity(warm_n);
            eprint!("  {:<28} running…", "sandbox warm invoke");
            for i in 0..warm_n + warm_n / 10 {
                let t = Instant::now();
                let r = sandbox
                    .invoke(invocation(), Instant::now() + Duration::from_secs(3))
                    .await;
                let took = t.elapsed();
                assert!(matches!(r, InvokeOutcome::Response(_)));
                if i >= warm_n / 10 {
                    samples.push(took);
                }
            }
            eprintln!("\r  {:<28} done       ", "sandbox warm invoke");
            cases.push(Case {
                name: "sandbox warm invoke",
                floor: Some("spawn+join"),
                samples,
            });
            cases.push(support::scheduler_warm_invoke(&warm, "spawn+join", warm_n).await);

            let heavy = guests::guest("heavy-init");
            let snap = hearth_sandbox::snapshot::snapshot(&engine, &heavy, &settings(dir.path()))
                .await
                .expect("snapshot");
            eprintln!(
                "  heavy-init snapshot: {} bytes, taken in {:.1} ms",
                snap.component.len(),
                snap.took.as_secs_f64() * 1e3
            );
            let plain = WasmFunction::prepare(&engine, "bench-heavy", &heavy, settings(dir.path()))
                .expect("prepare");
            let restored = WasmFunction::prepare(
                &engine,
                "bench-heavy-snap",
                &snap.component,
                settings(dir.path()),
            )
            .expect("prepare snapshot");
            for (name, f) in [
                ("heavy-init cold start", &plain),
                ("heavy-init snapshot cold start", &restored),
            ] {
                cases.push(
                    measure(name, Some("instantiate"), (cold_n / 10).max(20), || async {
                        let mut s = f.start().await.expect("start");
                        let r = s
                            .invoke(invocation(), Instant::now() + Duration::from_secs(3))
                            .await;
                        assert!(matches!(r, InvokeOutcome::Response(_)));
                    })
                    .await,
                );
            }
            cases
        }
    });
    report("invoke", &cases);
}
