//! Latency cases measured beside their floors, and how they are reported: p50/p90/p99 and
//! the ratio of each p50 to its floor, a text histogram, and the CDFs as an SVG chart under
//! `target/bench/`. Percentiles and the chart come from `hearth::bench`, the code behind
//! `hearth bench`, so both tools read samples the same way.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

pub struct Case {
    pub name: &'static str,
    pub floor: Option<&'static str>,
    pub samples: Vec<Duration>,
}

impl Case {
    /// The sample at quantile `p`, by the rule `hearth bench` reports with.
    pub fn percentile(&self, p: f64) -> Duration {
        let us: Vec<f64> = self.samples.iter().map(|s| micros(*s)).collect();
        let at = hearth::bench::stats::quantile(&hearth::bench::stats::sorted(&us), p);
        Duration::from_secs_f64(at / 1e6)
    }
}

pub async fn measure<F, Fut>(
    name: &'static str,
    floor: Option<&'static str>,
    iterations: usize,
    mut f: F,
) -> Case
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    eprint!("  {name:<28} warming up…");
    for _ in 0..(iterations / 10).max(10) {
        f().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    let step = (iterations / 10).max(1);
    for i in 0..iterations {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
        if i % step == 0 {
            eprint!("\r  {name:<28} {:>3}%        ", i * 100 / iterations);
        }
    }
    eprintln!("\r  {name:<28} done       ");
    Case {
        name,
        floor,
        samples,
    }
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn report(bench: &str, cases: &[Case]) {
    println!(
        "\n{:<24} {:>10} {:>10} {:>10}   p50 vs floor",
        "case", "p50 µs", "p90 µs", "p99 µs"
    );
    for case in cases {
        let p50 = case.percentile(0.5);
        let ratio = case
            .floor
            .and_then(|f| cases.iter().find(|c| c.name == f))
            .map(|f| format!("{:.1}× {}", micros(p50) / micros(f.percentile(0.5)), f.name))
            .unwrap_or_else(|| "(floor)".into());
        println!(
            "{:<24} {:>10.1} {:>10.1} {:>10.1}   {ratio}",
            case.name,
            micros(p50),
            micros(case.percentile(0.9)),
            micros(case.percentile(0.99)),
        );
    }
    println!("\nlatency distributions (log-scale buckets, µs):");
    for case in cases {
        histogram(case);
    }
    match write_svg(bench, cases) {
        Ok(path) => println!("\nCDF chart: {path}"),
        Err(e) => eprintln!("could not write the chart: {e}"),
    }
}

/// Buckets at 1, 1.5, 2, 3, 5, 7 × powers of ten.
fn bucket_edges() -> Vec<f64> {
    let mut edges = Vec::new();
    let mut decade = 1.0;
    while decade < 1e6 {
        for m in [1.0, 1.5, 2.0, 3.0, 5.0, 7.0] {
            edges.push(decade * m);
        }
        decade *= 10.0;
    }
    edges
}

fn histogram(case: &Case) {
    let edges = bucket_edges();
    let mut counts = vec![0usize; edges.len()];
    for s in &case.samples {
        let us = micros(*s);
        let i = edges.iter().rposition(|&e| us >= e).unwrap_or(0);
        counts[i] += 1;
    }
    let first = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    println!("  {}", case.name);
    for i in first..=last {
        let bar = "█".repeat((counts[i] * 50).div_ceil(max));
        println!("    ≥{:>8.1} {:<50} {}", edges[i], bar, counts[i]);
    }
}

/// The CDFs of every case as a standalone SVG, drawn by the same code as `hearth bench
/// --report` (floors dashed, tail-stretching percentile axis).
fn write_svg(bench: &str, cases: &[Case]) -> std::io::Result<String> {
    let values: Vec<Vec<f64>> = cases
        .iter()
        .map(|c| c.samples.iter().map(|s| micros(*s)).collect())
        .collect();
    let series: Vec<hearth::bench::report::Series<'_>> = cases
        .iter()
        .zip(&values)
        .map(|(c, v)| hearth::bench::report::Series {
            name: c.name,
            values: v,
            floor: c.floor.is_none(),
        })
        .collect();
    let svg = hearth::bench::report::cdf_svg(&series);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{bench}.svg"));
    std::fs::File::create(&path)?.write_all(svg.as_bytes())?;
    Ok(path.display().to_string())
}
