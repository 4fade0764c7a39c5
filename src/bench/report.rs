//! How a run is shown: a terminal table, CSV of every sample, and a self-contained HTML
//! report (histogram, CDF on a tail-stretching axis with the floors dashed, phases stacked).

use super::{PHASES, Run, stats};
use std::fmt::Write as _;

fn row(out: &mut String, name: &str, s: &stats::Summary) {
    let _ = writeln!(
        out,
        "  {name:<24} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} ± {:<9.1} {:>7}",
        s.p50, s.p90, s.p99, s.p999, s.max, s.mean, s.sd, s.n
    );
}

/// The terminal table: every phase of every target, the floors, each total's p50 as a ratio
/// of each floor's, the comparison and the baseline.
pub fn table(run: &Run, baseline: Option<&(String, Run)>) -> String {
    let mut out = String::new();
    let scenario = format!("{:?}", run.scenario).to_lowercase();
    let _ = writeln!(
        out,
        "\nhearth bench {scenario}: {}",
        run.targets.join(" vs ")
    );
    let _ = writeln!(
        out,
        "  {:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}   {:<9} {:>7}",
        "µs", "p50", "p90", "p99", "p99.9", "max", "mean", "σ", "n"
    );
    for (i, label) in run.targets.iter().enumerate() {
        let _ = writeln!(out, "{label}");
        if let Some(phases) = run.summary.get(label) {
            for phase in PHASES {
                if let Some(s) = phases.get(phase) {
                    row(&mut out, phase, s);
                }
            }
        }
        if let Some(rates) = &run.throughput_per_s
            && let Some(rate) = rates.get(i)
        {
            let _ = writeln!(out, "  throughput: {rate:.0} invocations/s");
        }
    }
    if !run.floors.is_empty() {
        let _ = writeln!(out, "floors (same run)");
        for f in &run.floors {
            row(&mut out, &f.name, &f.summary);
        }
        for label in &run.targets {
            let Some(total) = run.summary.get(label).and_then(|p| p.get("total")) else {
                continue;
            };
            let ratios: Vec<String> = run
                .floors
                .iter()
                .map(|f| format!("{:.1}× {}", total.p50 / f.summary.p50, f.name))
                .collect();
            let _ = writeln!(out, "  {label}: total p50 = {}", ratios.join(", "));
        }
    }
    if let Some(d) = &run.density {
        let _ = writeln!(
            out,
            "density: {} warm sandboxes (asked {}, the MemorySize budget admitted {}) in {:.1} s; RSS {:.1} → {:.1} MiB, {:.1} KiB per sandbox",
            d.sandboxes,
            d.requested,
            d.admitted,
            d.seconds,
            d.rss_before_bytes as f64 / 1048576.0,
            d.rss_after_bytes as f64 / 1048576.0,
            d.rss_per_sandbox_bytes as f64 / 1024.0
        );
    }
    if let Some(r) = &run.comparison {
        let _ = writeln!(
            out,
            "compare: median total of {} / {} = {:.3} (95 % CI {:.3} – {:.3}, bootstrap)",
            run.targets[1], run.targets[0], r.ratio, r.low, r.high
        );
    }
    if let Some((name, before)) = baseline {
        for (i, label) in run.targets.iter().enumerate() {
            let j = before.targets.iter().position(|t| t == label).unwrap_or(i);
            if let Some(r) =
                stats::median_ratio(&before.values(j, "total"), &run.values(i, "total"), 2000)
            {
                let _ = writeln!(
                    out,
                    "baseline {name}: {label} total p50 now {:.3}× of then (95 % CI {:.3} – {:.3})",
                    r.ratio, r.low, r.high
                );
            }
        }
    }
    if run.throttled > 0 {
        let _ = writeln!(
            out,
            "{} invocations were throttled and retried (not samples)",
            run.throttled
        );
    }
    for w in &run.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// Every sample, one line each.
pub fn csv(run: &Run) -> String {
    let mut out = String::from("target,cold,total_us,init_us,restore_us,duration_us,overhead_us\n");
    for s in &run.samples {
        let target = run.targets[s.target].replace('"', "\"\"");
        let _ = writeln!(
            out,
            "\"{target}\",{},{:.3},{},{},{:.3},{:.3}",
            s.cold,
            s.total_us,
            s.init_us.map(|v| format!("{v:.3}")).unwrap_or_default(),
            s.restore_us.map(|v| format!("{v:.3}")).unwrap_or_default(),
            s.duration_us,
            s.overhead_us
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#7f7f7f", "#8c564b",
];

/// A series on a chart: its name, its values (µs), and whether it is a floor (dashed).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
    pub floor: bool,
}

fn log_range(series: &[Series<'_>]) -> (f64, f64) {
    let all = series.iter().flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let lo = lo.max(0.1).log10().floor();
    let hi = hi.max(0.1).log10().ceil().max(lo + 1.0);
    (lo, hi)
}

/// Latency CDFs: log-scale latency across, and the percentile up a tail-stretching axis
/// (p50, p90, p99 and p99.9 equally spaced), floors dashed.
pub fn cdf_svg(series: &[Series<'_>]) -> String {
    let (w, h, left, right, top, bottom) = (1100.0, 420.0, 60.0, 440.0, 20.0, 40.0);
    let (lo, hi) = log_range(series);
    let plot_w = w - left - right;
    let x = |us: f64| left + (us.max(0.1).log10() - lo) / (hi - lo) * plot_w;
    let y = |q: f64| {
        let t = (-(1.0 - q).max(1e-3).log10()).min(3.0);
        (h - bottom) - t / 3.0 * (h - bottom - top)
    };
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'><rect width='100%' height='100%' fill='white'/>"
    );
    let mut decade = lo;
    while decade <= hi {
        let xv = x(10f64.powf(decade));
        let _ = write!(
            svg,
            "<line x1='{xv:.1}' y1='{top}' x2='{xv:.1}' y2='{}' stroke='#e5e5e5'/><text x='{xv:.1}' y='{}' text-anchor='middle'>{} µs</text>",
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
        let _ = write!(
            svg,
            "<line x1='{left}' y1='{yv:.1}' x2='{}' y2='{yv:.1}' stroke='#e5e5e5'/><text x='{}' y='{:.1}' text-anchor='end'>{label}</text>",
            left + plot_w,
            left - 6.0,
            yv + 4.0
        );
    }
    for (i, s) in series.iter().enumerate() {
        let sorted = stats::sorted(s.values);
        if sorted.is_empty() {
            continue;
        }
        let n = sorted.len() as f64;
        let step = (sorted.len() / 2000).max(1);
        let points: Vec<String> = sorted
            .iter()
            .enumerate()
            .filter(|(j, _)| j % step == 0 || *j + 1 == sorted.len())
            .map(|(j, us)| format!("{:.1},{:.1}", x(*us), y(j as f64 / n)))
            .collect();
        let color = COLORS[i % COLORS.len()];
        let dash = if s.floor {
            " stroke-dasharray='5 3'"
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<polyline fill='none' stroke='{color}' stroke-width='2'{dash} points='{}'/>",
            points.join(" ")
        );
        let (lx, ly) = (left + plot_w + 20.0, top + 10.0 + 20.0 * i as f64);
        let _ = write!(
            svg,
            "<line x1='{lx}' y1='{ly}' x2='{}' y2='{ly}' stroke='{color}' stroke-width='2'{dash}/><text x='{}' y='{}'>{} — p50 {:.1} µs, p99 {:.1} µs</text>",
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(s.name),
            stats::quantile(&sorted, 0.5),
            stats::quantile(&sorted, 0.99)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A histogram per series over log-spaced bins (one row of bars each).
pub fn histogram_svg(series: &[Series<'_>]) -> String {
    const BINS: usize = 40;
    let (w, row_h, left) = (1000.0, 90.0, 60.0);
    let (lo, hi) = log_range(series);
    let h = row_h * series.len() as f64 + 30.0;
    let plot_w = w - left - 20.0;
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'><rect width='100%' height='100%' fill='white'/>"
    );
    for (i, s) in series.iter().enumerate() {
        let mut counts = [0usize; BINS];
        for v in s.values {
            let t = (v.max(0.1).log10() - lo) / (hi - lo);
            counts[((t * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let base = row_h * (i as f64 + 1.0);
        let color = COLORS[i % COLORS.len()];
        for (b, c) in counts.iter().enumerate() {
            let bh = *c as f64 / max * (row_h - 25.0);
            let _ = write!(
                svg,
                "<rect x='{:.1}' y='{:.1}' width='{:.1}' height='{bh:.1}' fill='{color}'/>",
                left + b as f64 / BINS as f64 * plot_w,
                base - bh,
                plot_w / BINS as f64 - 1.0
            );
        }
        let _ = write!(
            svg,
            "<text x='{left}' y='{:.1}'>{} ({} samples)</text>",
            base - row_h + 18.0,
            escape(s.name),
            s.values.len()
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let xv = left + (decade - lo) / (hi - lo) * plot_w;
        let _ = write!(
            svg,
            "<text x='{xv:.1}' y='{:.1}' text-anchor='middle'>{} µs</text>",
            h - 8.0,
            10f64.powf(decade)
        );
        decade += 1.0;
    }
    svg.push_str("</svg>");
    svg
}

/// The median of each phase of each target as a stacked bar (`Init Duration`, `Duration`,
/// overhead), on one linear scale.
fn phases_svg(run: &Run) -> String {
    let (w, bar_h, left) = (1000.0, 28.0, 220.0);
    let h = (bar_h + 14.0) * run.targets.len() as f64 + 40.0;
    let parts = ["Init Duration", "Restore Duration", "Duration", "overhead"];
    let medians: Vec<Vec<f64>> = run
        .targets
        .iter()
        .map(|label| {
            parts
                .iter()
                .map(|p| {
                    run.summary
                        .get(label)
                        .and_then(|s| s.get(*p))
                        .map_or(0.0, |s| s.p50)
                })
                .collect()
        })
        .collect();
    let widest = medians
        .iter()
        .map(|m| m.iter().sum::<f64>())
        .fold(0.0, f64::max)
        .max(1e-9);
    let scale = (w - left - 40.0) / widest;
    let colors = ["#ff7f0e", "#9467bd", "#1f77b4", "#bcbd22"];
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'><rect width='100%' height='100%' fill='white'/>"
    );
    for (i, (label, m)) in run.targets.iter().zip(&medians).enumerate() {
        let y = 10.0 + (bar_h + 14.0) * i as f64;
        let _ = write!(
            svg,
            "<text x='{}' y='{:.1}' text-anchor='end'>{}</text>",
            left - 8.0,
            y + bar_h / 2.0 + 4.0,
            escape(label)
        );
        let mut x = left;
        for (k, v) in m.iter().enumerate() {
            let width = v * scale;
            let _ = write!(
                svg,
                "<rect x='{x:.1}' y='{y:.1}' width='{width:.1}' height='{bar_h}' fill='{}'><title>{} p50 {v:.1} µs</title></rect>",
                colors[k], parts[k]
            );
            if width > 50.0 {
                let _ = write!(
                    svg,
                    "<text x='{:.1}' y='{:.1}' text-anchor='middle' fill='white'>{v:.1} µs</text>",
                    x + width / 2.0,
                    y + bar_h / 2.0 + 4.0
                );
            }
            x += width;
        }
    }
    let ly = h - 14.0;
    for (k, part) in parts.iter().enumerate() {
        let lx = left + 180.0 * k as f64;
        let _ = write!(
            svg,
            "<rect x='{lx}' y='{}' width='12' height='12' fill='{}'/><text x='{}' y='{ly}'>{part} (p50)</text>",
            ly - 10.0,
            colors[k],
            lx + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A self-contained HTML page (no scripts, no external files): the table, the CDF with the
/// floors dashed, the histograms and the phases.
pub fn html(run: &Run) -> String {
    let totals: Vec<Vec<f64>> = (0..run.targets.len())
        .map(|i| run.values(i, "total"))
        .collect();
    let mut series: Vec<Series<'_>> = run
        .targets
        .iter()
        .zip(&totals)
        .map(|(name, values)| Series {
            name,
            values,
            floor: false,
        })
        .collect();
    series.extend(run.floors.iter().map(|f| Series {
        name: &f.name,
        values: &f.samples_us,
        floor: true,
    }));
    let scenario = format!("{:?}", run.scenario).to_lowercase();
    format!(
        "<!doctype html><html><head><meta charset='utf-8'><title>hearth bench {scenario}</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:1050px}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head><body>\
<h1>hearth bench {scenario}</h1><p>{}</p><pre>{}</pre>\
<h2>Latency percentiles (total; floors dashed)</h2>{}\
<h2>Distributions</h2>{}\
<h2>Where the time goes (medians)</h2>{}\
</body></html>\n",
        escape(&run.targets.join(" vs ")),
        escape(&table(run, None)),
        cdf_svg(&series),
        histogram_svg(&series),
        phases_svg(run)
    )
}
