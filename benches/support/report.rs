//! Latency cases measured beside their floors, and how they are reported: p50/p90/p99 and
//! the ratio of each p50 to its floor, a text histogram, and the CDFs as an SVG chart under
//! `target/bench/`.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

pub struct Case {
    pub name: &'static str,
    pub floor: Option<&'static str>,
    pub samples: Vec<Duration>,
}

impl Case {
    pub fn percentile(&self, p: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort_unstable();
        s[((s.len() - 1) as f64 * p).round() as usize]
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

/// Latency percentiles of every case as a standalone SVG: log-scale latency across, and the
/// percentile up a tail-stretching axis (p50, p90, p99, p99.9 equally spaced), so the tails
/// people care about are not squashed into the top edge.
fn write_svg(bench: &str, cases: &[Case]) -> std::io::Result<String> {
    let (w, h, left, right, top, bottom) = (1200.0, 500.0, 60.0, 420.0, 20.0, 40.0);
    let all: Vec<f64> = cases
        .iter()
        .flat_map(|c| c.samples.iter().map(|s| micros(*s)))
        .collect();
    let lo = all
        .iter()
        .copied()
        .fold(f64::MAX, f64::min)
        .max(0.1)
        .log10()
        .floor();
    let hi = all
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let plot_w = w - left - right;
    let x = |us: f64| left + (us.max(0.1).log10() - lo) / (hi - lo) * plot_w;
    // -log10(1 - q): p0 → 0, p90 → 1, p99 → 2, p99.9 → 3 (the top).
    let y = |q: f64| {
        let t = (-(1.0 - q).max(1e-3).log10()).min(3.0);
        (h - bottom) - t / 3.0 * (h - bottom - top)
    };
    let colors = [
        "#7f7f7f", "#d62728", "#ff7f0e", "#bcbd22", "#17becf", "#1f77b4", "#2ca02c", "#9467bd",
    ];
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
    );
    let mut decade = lo;
    while decade <= hi {
        let xv = x(10f64.powf(decade));
        svg += &format!(
            "<line x1='{xv}' y1='{top}' x2='{xv}' y2='{}' stroke='#e5e5e5'/><text x='{xv}' y='{}' text-anchor='middle'>{} µs</text>\n",
            h - bottom,
            h - bottom + 16.0,
            10f64.powf(decade)
        );
        decade += 1.0;
    }
    for (q, label) in [
        (0.0, "p0"),
        (0.5, "p50"),
        (0.9, "p90"),
        (0.99, "p99"),
        (0.999, "p99.9"),
    ] {
        let yv = y(q);
        svg += &format!(
            "<line x1='{left}' y1='{yv}' x2='{}' y2='{yv}' stroke='#e5e5e5'/><text x='{}' y='{}' text-anchor='end'>{label}</text>\n",
            left + plot_w,
            left - 6.0,
            yv + 4.0
        );
    }
    for (i, case) in cases.iter().enumerate() {
        let mut s: Vec<f64> = case.samples.iter().map(|d| micros(*d)).collect();
        s.sort_by(f64::total_cmp);
        let n = s.len() as f64;
        let points: Vec<String> = s
            .iter()
            .enumerate()
            .filter(|(j, _)| j % (s.len() / 2000).max(1) == 0 || *j + 1 == s.len())
            .map(|(j, us)| format!("{:.1},{:.1}", x(*us), y(j as f64 / n)))
            .collect();
        let color = colors[i % colors.len()];
        let dash = if case.floor.is_none() {
            " stroke-dasharray='5 3'"
        } else {
            ""
        };
        svg += &format!(
            "<polyline fill='none' stroke='{color}' stroke-width='2'{dash} points='{}'/>\n",
            points.join(" ")
        );
        let ly = top + 10.0 + 20.0 * i as f64;
        let lx = left + plot_w + 20.0;
        svg += &format!(
            "<line x1='{lx}' y1='{ly}' x2='{}' y2='{ly}' stroke='{color}' stroke-width='2'{dash}/><text x='{}' y='{}'>{} — p50 {:.1} µs, p99 {:.1} µs</text>\n",
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            case.name,
            micros(case.percentile(0.5)),
            micros(case.percentile(0.99))
        );
    }
    svg += &format!(
        "<text x='{}' y='{}' fill='#555'>dashed: floors</text>\n",
        left + plot_w + 20.0,
        top + 10.0 + 20.0 * cases.len() as f64 + 10.0
    );
    svg += "</svg>\n";
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{bench}.svg"));
    std::fs::File::create(&path)?.write_all(svg.as_bytes())?;
    Ok(path.display().to_string())
}
