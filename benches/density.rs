//! Density: how much a warm sandbox really costs the host.
//!
//! Starts warm echo sandboxes (instantiated, INIT done, one invocation served, parked in
//! `next`) one after another and reads the process's RSS at checkpoints, so the figure is
//! **RSS per warm sandbox** = (RSS now − RSS before the first) ÷ sandboxes. With every
//! sandbox alive it then measures a warm invoke into a random one and a cold start beside
//! them, against the same two figures with no other sandbox alive, in the same run.
//!
//! Run: `cargo bench --bench density -- [--sandboxes N] [--quick]` (default 10,000; quick
//! 200). Prints a line per checkpoint and a text chart of RSS against sandboxes.

#[path = "../tests/support/guests.rs"]
mod guests;
mod support;

use support::{invocation, settings};

use hearth_sandbox::{EngineConfig, Environment, InvokeOutcome, WasmEngine, WasmFunction};
use std::time::{Duration, Instant};

/// Resident set size of this process, bytes (`/proc/self/statm`, second field, in pages).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Median of `n` warm invokes, each into the sandbox `pick` chooses.
async fn warm_p50(
    sandboxes: &mut [hearth_sandbox::WasmSandbox],
    n: usize,
    mut pick: impl FnMut() -> usize,
) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let sandbox = &mut sandboxes[pick()];
        let t = Instant::now();
        let r = sandbox.invoke(invocation(), deadline()).await;
        samples.push(t.elapsed());
        assert!(matches!(r, InvokeOutcome::Response(_)), "{r:?}");
    }
    median(samples)
}

/// Median of `n` cold starts (start + first invoke, then dropped).
async fn cold_p50(echo: &WasmFunction, n: usize) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut s = echo.start().await.expect("start");
        let r = s.invoke(invocation(), deadline()).await;
        samples.push(t.elapsed());
        assert!(matches!(r, InvokeOutcome::Response(_)), "{r:?}");
    }
    median(samples)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let target: usize = args
        .iter()
        .position(|a| a == "--sandboxes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 200 } else { 10_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        tokio::spawn(async move { run(target, quick).await })
            .await
            .expect("bench task")
    });
}

async fn run(target: usize, quick: bool) {
    let dir = tempfile::tempdir().expect("tmp");
    let wasm = guests::guest("echo");
    let engine = WasmEngine::new(EngineConfig {
        cache_dir: dir.path().join("cache"),
        max_instances: u32::try_from(target + 64).unwrap_or(u32::MAX),
        host_memory: std::sync::Arc::new(hearth_sandbox::HostMemory::unlimited()),
    })
    .expect("engine");
    let echo = WasmFunction::prepare(&engine, "density-echo", &wasm, settings(dir.path()))
        .expect("prepare");
    let (cold_n, warm_n) = if quick { (50, 500) } else { (500, 20_000) };

    // Baselines with nothing else alive (and the engine, code and first slot warmed).
    let mut alone = vec![echo.start().await.expect("start")];
    let warm_alone = warm_p50(&mut alone, warm_n, || 0).await;
    drop(alone);
    let cold_alone = cold_p50(&echo, cold_n).await;

    let base = rss_bytes();
    let checkpoints: Vec<usize> = [1, 10, 100, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000]
        .into_iter()
        .filter(|&c| c < target)
        .chain([target])
        .collect();
    let mut sandboxes = Vec::with_capacity(target);
    let mut points = Vec::new();
    println!("warm echo sandboxes, each after INIT and one invocation:");
    println!(
        "{:>10} {:>12} {:>16}",
        "sandboxes", "RSS MiB", "KiB per sandbox"
    );
    let started = Instant::now();
    for &checkpoint in &checkpoints {
        while sandboxes.len() < checkpoint {
            let mut s = match echo.start().await {
                Ok(s) => s,
                Err(e) => {
                    println!("stopped at {} sandboxes: {e:?}", sandboxes.len());
                    break;
                }
            };
            let r = s.invoke(invocation(), deadline()).await;
            assert!(matches!(r, InvokeOutcome::Response(_)), "{r:?}");
            sandboxes.push(s);
            if sandboxes.len() % 500 == 0 {
                eprint!("\r  {} / {target} started", sandboxes.len());
            }
        }
        let rss = rss_bytes();
        let per = rss.saturating_sub(base) as f64 / sandboxes.len().max(1) as f64;
        eprint!("\r");
        println!(
            "{:>10} {:>12.1} {:>16.1}",
            sandboxes.len(),
            rss as f64 / (1 << 20) as f64,
            per / 1024.0
        );
        points.push((sandboxes.len(), rss));
        if sandboxes.len() < checkpoint {
            break;
        }
    }
    let n = sandboxes.len();
    println!("started {n} in {:.1} s", started.elapsed().as_secs_f64());

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let warm_among = warm_p50(&mut sandboxes, warm_n, || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    })
    .await;
    let cold_among = cold_p50(&echo, cold_n).await;
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!();
    println!(
        "warm invoke p50: {:.1} µs alone, {:.1} µs into a random one of {n} ({:.2}×)",
        micros(warm_alone),
        micros(warm_among),
        warm_among.as_secs_f64() / warm_alone.as_secs_f64()
    );
    println!(
        "cold start p50:  {:.1} µs alone, {:.1} µs beside {n} ({:.2}×)",
        micros(cold_alone),
        micros(cold_among),
        cold_among.as_secs_f64() / cold_alone.as_secs_f64()
    );
    chart(&points, base);
}

/// RSS above the baseline against sandboxes, one row per checkpoint.
fn chart(points: &[(usize, u64)], base: u64) {
    let top = points
        .iter()
        .map(|&(_, rss)| rss.saturating_sub(base))
        .max()
        .unwrap_or(1)
        .max(1);
    println!();
    println!(
        "RSS above baseline (each █ = {:.1} MiB)",
        top as f64 / 50.0 / (1 << 20) as f64
    );
    for &(n, rss) in points {
        let above = rss.saturating_sub(base);
        let bar = (above as f64 / top as f64 * 50.0).round() as usize;
        println!(
            "{n:>8} │{:<50}│ {:.1} MiB",
            "█".repeat(bar),
            above as f64 / (1 << 20) as f64
        );
    }
}
