//! The statistics `hearth bench` reports: percentiles, mean ± σ, warnings about the shape of
//! a distribution (never a reason to drop a sample), and the ratio of two medians with a
//! bootstrap confidence interval.

use serde::{Deserialize, Serialize};

/// One phase's distribution, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub sd: f64,
}

/// The value at quantile `q` of sorted `s` (nearest rank; `s` not empty).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i]
}

pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// `None` for no samples.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let s = sorted(values);
    let n = s.len();
    let mean = s.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Some(Summary {
        n,
        p50: quantile(&s, 0.5),
        p90: quantile(&s, 0.9),
        p99: quantile(&s, 0.99),
        p999: quantile(&s, 0.999),
        max: s[n - 1],
        mean,
        sd: var.sqrt(),
    })
}

/// Share of samples beyond Tukey's far-out fence (Q3 + 3 × IQR): latencies have a long right
/// tail, so only the far-out ones are worth a word.
pub fn far_outliers(values: &[f64]) -> f64 {
    if values.len() < 20 {
        return 0.0;
    }
    let s = sorted(values);
    let (q1, q3) = (quantile(&s, 0.25), quantile(&s, 0.75));
    let fence = q3 + 3.0 * (q3 - q1);
    s.iter().filter(|v| **v > fence).count() as f64 / s.len() as f64
}

/// Whether the distribution has two clear modes: a histogram of the logarithms (latencies
/// spread over orders of magnitude), smoothed, with two peaks of at least a tenth of the
/// highest and a valley between them under half the lower peak. Needs 50 samples.
pub fn bimodal(values: &[f64]) -> bool {
    if values.len() < 50 {
        return false;
    }
    let logs: Vec<f64> = values.iter().map(|v| v.max(1e-3).ln()).collect();
    let (lo, hi) = logs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    if hi - lo < 1e-9 {
        return false;
    }
    const BINS: usize = 24;
    let mut counts = [0f64; BINS];
    for v in &logs {
        let i = (((v - lo) / (hi - lo)) * BINS as f64) as usize;
        counts[i.min(BINS - 1)] += 1.0;
    }
    let smooth: Vec<f64> = (0..BINS)
        .map(|i| {
            let left = if i > 0 { counts[i - 1] } else { 0.0 };
            let right = if i + 1 < BINS { counts[i + 1] } else { 0.0 };
            (left + 2.0 * counts[i] + right) / 4.0
        })
        .collect();
    let top = smooth.iter().copied().fold(0.0, f64::max);
    let peaks: Vec<usize> = (0..BINS)
        .filter(|&i| {
            let left = if i > 0 { smooth[i - 1] } else { 0.0 };
            let right = if i + 1 < BINS { smooth[i + 1] } else { 0.0 };
            smooth[i] >= top / 10.0 && smooth[i] > left && smooth[i] >= right
        })
        .collect();
    peaks.windows(2).any(|pair| {
        let (a, b) = (pair[0], pair[1]);
        let valley = smooth[a..=b].iter().copied().fold(f64::MAX, f64::min);
        valley < smooth[a].min(smooth[b]) / 2.0
    })
}

/// A small deterministic generator (xorshift64*): resampling needs no cryptographic
/// randomness, and a fixed seed makes a report reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The ratio of medians `median(b) / median(a)` and its 95 % confidence interval from
/// `resamples` bootstrap resamples of each side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

pub fn median_ratio(a: &[f64], b: &[f64], resamples: usize) -> Option<Ratio> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let median = |s: &[f64]| quantile(&sorted(s), 0.5);
    let ratio = median(b) / median(a);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ratios = Vec::with_capacity(resamples);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    for _ in 0..resamples {
        for x in ra.iter_mut() {
            *x = a[rng.below(a.len())];
        }
        for x in rb.iter_mut() {
            *x = b[rng.below(b.len())];
        }
        ratios.push(median(&rb) / median(&ra));
    }
    let ratios = sorted(&ratios);
    Some(Ratio {
        ratio,
        low: quantile(&ratios, 0.025),
        high: quantile(&ratios, 0.975),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(n: usize, at: f64) -> Vec<f64> {
        (0..n)
            .map(|i| at * (1.0 + (i % 17) as f64 / 100.0))
            .collect()
    }

    #[test]
    fn summaries_report_every_percentile_without_dropping_samples() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        let s = summarize(&values).expect("summary");
        assert_eq!(
            (s.n, s.p50, s.p90, s.p99, s.max),
            (1000, 501.0, 900.0, 990.0, 1000.0)
        );
        assert!((s.mean - 500.5).abs() < 1e-9);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn two_modes_are_told_from_one_long_tail() {
        let mut two = spread(200, 10.0);
        two.extend(spread(200, 1000.0));
        assert!(bimodal(&two));
        let tail: Vec<f64> = (0..400)
            .map(|i| 10.0 + (i as f64).powf(1.3) / 50.0)
            .collect();
        assert!(!bimodal(&tail));
        assert!(!bimodal(&spread(400, 10.0)));
    }

    #[test]
    fn far_outliers_are_counted() {
        let mut values = spread(98, 10.0);
        values.extend([500.0, 600.0]);
        assert!((far_outliers(&values) - 0.02).abs() < 1e-9);
        assert_eq!(far_outliers(&spread(100, 10.0)), 0.0);
    }

    #[test]
    fn a_run_compared_with_itself_has_an_interval_around_one() {
        let a: Vec<f64> = (0..300).map(|i| 100.0 + ((i * 37) % 50) as f64).collect();
        let r = median_ratio(&a, &a, 1000).expect("ratio");
        assert_eq!(r.ratio, 1.0);
        assert!(r.low <= 1.0 && r.high >= 1.0, "{r:?}");
        let slower: Vec<f64> = a.iter().map(|v| v * 2.0).collect();
        let r = median_ratio(&a, &slower, 1000).expect("ratio");
        assert!(r.low > 1.8 && r.high < 2.2, "{r:?}");
    }
}
