//! `hearth bench`: how fast a function starts and answers, where the time goes, and whether
//! a change made it faster — against a deployed function or a local package run in process.
//!
//! Clocks, exactly (so the figures mean the same thing on every target):
//! - `total`: the caller's wait, from just before the invoke call to its answer being read
//!   (in process: `Scheduler::invoke`; over HTTP: the request written to the response read).
//! - `Init Duration`: the environment created → its runtime's first `next` (the REPORT
//!   line's figure, set exactly when the invocation started a new environment).
//! - `Restore Duration`: the same span for an environment restored from a SnapStart
//!   snapshot (its INIT ran at publish), which REPORT names so.
//! - `Duration`: the invocation handed to the environment → the runtime's answer.
//! - `overhead`: `total` minus both: hearth's own share (admission, pool, logs, and over
//!   HTTP the request's transport), never negative.
//!
//! Scenarios: `cold` (every sample in a new environment: the function's idle sandboxes are
//! dropped before each, untimed, and a sample that reused one is an error), `warm`, `mixed`
//! (`--cold-ratio` of the samples cold, spread evenly), `throughput` (`--concurrency`
//! closed-loop callers). `--compare` runs a second target interleaved with the first.

pub mod report;
pub mod stats;
pub mod target;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use target::{Target, Timing};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Cold,
    Warm,
    Mixed,
    Throughput,
    /// Warm sandboxes started (as provisioned concurrency of a published version) until
    /// `--samples` of them or the memory budget, the process's RSS measured before and
    /// after; then warm invokes with all of them live. In process only.
    Density,
}

/// `hearth bench`'s options.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub scenario: Scenario,
    pub target: String,
    pub endpoint: Option<String>,
    pub samples: usize,
    pub concurrency: usize,
    pub cold_ratio: f64,
    pub compare: Option<String>,
    pub payload: Vec<u8>,
    /// MemorySize to run at, MB; several make a sweep (one run per size, in order).
    pub memory_mb: Vec<u32>,
    pub json: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub save: Option<String>,
    pub baseline: Option<String>,
    /// Where `--save` keeps runs and `--baseline` finds them.
    pub runs_dir: PathBuf,
    pub signing: Option<crate::client::SigningKey>,
}

/// One sample, its phases in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// 0: the target; 1: the `--compare` one.
    pub target: usize,
    pub cold: bool,
    pub total_us: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_us: Option<f64>,
    pub duration_us: f64,
    pub overhead_us: f64,
}

impl Sample {
    fn new(target: usize, t: Timing) -> Self {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let init = t.init.map(us);
        Self {
            target,
            cold: t.init.is_some(),
            total_us: us(t.total),
            init_us: init.filter(|_| !t.restored),
            restore_us: init.filter(|_| t.restored),
            duration_us: us(t.duration),
            overhead_us: (us(t.total) - init.unwrap_or(0.0) - us(t.duration)).max(0.0),
        }
    }

    /// The phase's value, if the sample has the phase.
    pub fn phase(&self, phase: &str) -> Option<f64> {
        match phase {
            "total" => Some(self.total_us),
            "Init Duration" => self.init_us,
            "Restore Duration" => self.restore_us,
            "Duration" => Some(self.duration_us),
            "overhead" => Some(self.overhead_us),
            _ => None,
        }
    }
}

/// The phases, in report order.
pub const PHASES: [&str; 5] = [
    "total",
    "Init Duration",
    "Restore Duration",
    "Duration",
    "overhead",
];

/// A floor measured in the same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Floor {
    pub name: String,
    pub samples_us: Vec<f64>,
    pub summary: stats::Summary,
}

/// Everything a run measured: what `--json` writes and `--save` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub scenario: Scenario,
    pub targets: Vec<String>,
    pub samples: Vec<Sample>,
    /// Per target label, per phase.
    pub summary: BTreeMap<String, BTreeMap<String, stats::Summary>>,
    pub floors: Vec<Floor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_per_s: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<stats::Ratio>,
    pub throttled: u64,
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density: Option<target::Density>,
}

impl Run {
    /// One phase's values for target `i`.
    pub fn values(&self, i: usize, phase: &str) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| s.target == i)
            .filter_map(|s| s.phase(phase))
            .collect()
    }
}

fn progress(n: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(n as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Whether sample `i` of `n` is a cold one when `ratio` of them are (spread evenly).
fn cold_at(i: usize, ratio: f64) -> bool {
    let r = ratio.clamp(0.0, 1.0);
    ((i + 1) as f64 * r).floor() > (i as f64 * r).floor()
}

/// Runs the benchmark `options` describes and writes what it asks for.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Run> {
    if options.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let mut targets = vec![
        Target::open(
            &options.target,
            options.endpoint.as_deref(),
            options.signing.clone(),
            options.memory_mb.first().copied(),
        )
        .await
        .with_context(|| format!("opening {}", options.target))?,
    ];
    if let Some(other) = &options.compare {
        targets.push(
            Target::open(
                other,
                options.endpoint.as_deref(),
                options.signing.clone(),
                options.memory_mb.first().copied(),
            )
            .await
            .with_context(|| format!("opening {other}"))?,
        );
    }
    let labels: Vec<String> = targets.iter().map(Target::label).collect();
    if labels.len() == 2 && labels[0] == labels[1] {
        // The same function twice still gets two columns.
        eprintln!("note: comparing {} with itself", labels[0]);
    }
    let mut throttled = 0u64;
    let mut samples = Vec::with_capacity(options.samples * targets.len());
    let mut throughput = None;
    let mut density = None;
    if options.scenario == Scenario::Density {
        if targets.len() > 1 {
            bail!("density measures one target (no --compare)");
        }
        let bar = progress(options.samples, "sandboxes");
        density = Some(targets[0].densify(options.samples, &bar).await?);
        bar.finish_and_clear();
    }
    let payload = &options.payload;

    // A first invoke of each target, not counted: it deploys nothing, but makes `warm` warm
    // and shows a broken function before any measuring.
    for t in &targets {
        t.invoke(payload, &mut throttled).await?;
    }
    match options.scenario {
        Scenario::Cold | Scenario::Warm | Scenario::Mixed | Scenario::Density => {
            let n = if options.scenario == Scenario::Density {
                options.samples.min(1000)
            } else {
                options.samples
            };
            let bar = progress(n * targets.len(), "sampling");
            for i in 0..n {
                let cold = match options.scenario {
                    Scenario::Cold => true,
                    Scenario::Warm | Scenario::Density => false,
                    _ => cold_at(i, options.cold_ratio),
                };
                for (k, t) in targets.iter().enumerate() {
                    if cold {
                        t.evict().await?;
                    }
                    let timing = t.invoke(payload, &mut throttled).await?;
                    if cold && timing.init.is_none() {
                        bail!(
                            "sample {i} of {} was to be cold but reused an environment",
                            labels[k]
                        );
                    }
                    samples.push(Sample::new(k, timing));
                    bar.inc(1);
                }
            }
            bar.finish_and_clear();
        }
        Scenario::Throughput => {
            let mut rates = Vec::new();
            for (k, t) in targets.iter().enumerate() {
                // As many environments as callers, started before the clock runs.
                let hidden = indicatif::ProgressBar::hidden();
                let warm = options.concurrency.max(1) * 2;
                let (_, _, more_throttled) =
                    closed_loop(t, payload, warm, options.concurrency, &hidden).await?;
                throttled += more_throttled;
                let bar = progress(options.samples, &labels[k]);
                let (got, rate, more_throttled) =
                    closed_loop(t, payload, options.samples, options.concurrency, &bar).await?;
                bar.finish_and_clear();
                throttled += more_throttled;
                rates.push(rate);
                samples.extend(got.into_iter().map(|timing| Sample::new(k, timing)));
            }
            throughput = Some(rates);
        }
    }

    let floor_n = options.samples.clamp(10, 1000);
    let mut floors = Vec::new();
    for t in &targets {
        for (name, got) in t.floors(floor_n, payload).await? {
            if floors.iter().any(|f: &Floor| f.name == name) {
                continue;
            }
            let us: Vec<f64> = got.iter().map(|d| d.as_secs_f64() * 1e6).collect();
            if let Some(summary) = stats::summarize(&us) {
                floors.push(Floor {
                    name: name.to_owned(),
                    samples_us: us,
                    summary,
                });
            }
        }
    }

    let mut run = Run {
        scenario: options.scenario,
        targets: labels.clone(),
        samples,
        summary: BTreeMap::new(),
        floors,
        throughput_per_s: throughput,
        comparison: None,
        throttled,
        warnings: Vec::new(),
        density,
    };
    for (i, label) in labels.iter().enumerate() {
        let mut phases = BTreeMap::new();
        for phase in PHASES {
            let values = run.values(i, phase);
            if let Some(s) = stats::summarize(&values) {
                phases.insert(phase.to_owned(), s);
            }
        }
        let total = run.values(i, "total");
        if stats::bimodal(&total) {
            run.warnings.push(format!(
                "{label}: total is bimodal (two clear modes): read p50 with care"
            ));
        }
        let far = stats::far_outliers(&total);
        if far > 0.02 {
            run.warnings.push(format!(
                "{label}: {:.1} % of samples are far outliers (beyond Q3 + 3 IQR); all are kept",
                far * 100.0
            ));
        }
        if options.scenario == Scenario::Warm {
            let cold = run
                .samples
                .iter()
                .filter(|s| s.target == i && s.cold)
                .count();
            if cold > 0 {
                run.warnings.push(format!(
                    "{label}: {cold} warm samples started a new environment (evicted under memory pressure?)"
                ));
            }
        }
        run.summary.insert(label.clone(), phases);
    }
    if labels.len() == 2 {
        run.comparison =
            stats::median_ratio(&run.values(0, "total"), &run.values(1, "total"), 2000);
    }
    Ok(run)
}

/// `n` invocations by `concurrency` callers, each starting its next as its last returns.
async fn closed_loop(
    target: &Target,
    payload: &[u8],
    n: usize,
    concurrency: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<(Vec<Timing>, f64, u64)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let callers = (0..concurrency.max(1)).map(|_| async {
        let mut got = Vec::new();
        let mut throttled = 0;
        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
            got.push(target.invoke(payload, &mut throttled).await?);
            bar.inc(1);
        }
        anyhow::Ok((got, throttled))
    });
    let results = futures_join_all(callers).await;
    let took = started.elapsed();
    let mut all = Vec::with_capacity(n);
    let mut throttled = 0;
    for r in results {
        let (got, t) = r?;
        all.extend(got);
        throttled += t;
    }
    let rate = all.len() as f64 / took.as_secs_f64();
    Ok((all, rate, throttled))
}

/// Polls every future to its end on this task (no `futures` crate needed for one join).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Runs the benchmark once per MemorySize of a `--memory` sweep and joins the runs into one:
/// each size is a target of its own, labelled `TARGET @ N MB`.
async fn sweep(options: &BenchOptions) -> anyhow::Result<Run> {
    if options.memory_mb.len() <= 1 {
        return run(options).await;
    }
    if options.compare.is_some() || options.scenario == Scenario::Density {
        bail!("a --memory sweep runs one target and no density: drop --compare or the list");
    }
    let mut joined: Option<Run> = None;
    for &memory in &options.memory_mb {
        eprintln!("MemorySize {memory} MB");
        let one = BenchOptions {
            memory_mb: vec![memory],
            ..options.clone()
        };
        let mut got = run(&one).await?;
        let label = format!("{} @ {memory} MB", got.targets[0]);
        if let Some(s) = got.summary.remove(&got.targets[0]) {
            got.summary.insert(label.clone(), s);
        }
        got.targets = vec![label];
        match &mut joined {
            None => joined = Some(got),
            Some(all) => {
                let k = all.targets.len();
                all.targets.extend(got.targets);
                all.samples.extend(got.samples.into_iter().map(|mut s| {
                    s.target += k;
                    s
                }));
                all.summary.extend(got.summary);
                for f in got.floors {
                    if !all.floors.iter().any(|g| g.name == f.name) {
                        all.floors.push(f);
                    }
                }
                if let (Some(a), Some(b)) = (&mut all.throughput_per_s, got.throughput_per_s) {
                    a.extend(b);
                }
                all.throttled += got.throttled;
                all.warnings.extend(got.warnings);
            }
        }
    }
    joined.context("no MemorySize given")
}

/// A saved run's path.
fn saved(dir: &std::path::Path, name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        bail!("a run's name is letters, digits, '-', '_' and '.': {name:?}");
    }
    Ok(dir.join(format!("{name}.json")))
}

/// Runs the benchmark, prints it, and writes the files `options` names.
pub async fn main(options: BenchOptions) -> anyhow::Result<()> {
    // Names are checked before anything is measured.
    let save = options
        .save
        .as_deref()
        .map(|name| saved(&options.runs_dir, name))
        .transpose()?;
    let baseline = match &options.baseline {
        Some(name) => {
            let path = saved(&options.runs_dir, name)?;
            let text = std::fs::read(&path)
                .with_context(|| format!("no saved run {name} ({})", path.display()))?;
            Some((name.clone(), serde_json::from_slice::<Run>(&text)?))
        }
        None => None,
    };
    let run = sweep(&options).await?;
    print!("{}", report::table(&run, baseline.as_ref()));
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_vec_pretty(&run)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &options.csv {
        std::fs::write(path, report::csv(&run))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &options.report {
        std::fs::write(path, report::html(&run))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let (Some(name), Some(path)) = (&options.save, save) {
        std::fs::create_dir_all(&options.runs_dir)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&run)?)?;
        std::fs::rename(&tmp, &path)?;
        println!("saved as {name} ({})", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_ratio_spreads_its_cold_samples_evenly() {
        let cold: Vec<bool> = (0..10).map(|i| cold_at(i, 0.3)).collect();
        assert_eq!(cold.iter().filter(|c| **c).count(), 3);
        assert!((0..100).all(|i| cold_at(i, 1.0)));
        assert!((0..100).all(|i| !cold_at(i, 0.0)));
    }

    #[test]
    fn saved_run_names_stay_in_their_directory() {
        let dir = std::path::Path::new("/runs");
        assert_eq!(
            saved(dir, "before-fix").expect("ok"),
            dir.join("before-fix.json")
        );
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(saved(dir, bad).is_err(), "{bad}");
        }
    }
}
