//! The statistics of paired comparisons: summary, bootstrap interval,
//! Wilcoxon signed-rank test, Holm correction, minimum detectable effect.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    if v.len() < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var.sqrt())
}

/// Percentile bootstrap 95% confidence interval of the mean of `d`
/// (10 000 resamples, seeded, so reports repeat).
pub fn bootstrap_ci(d: &[f64], seed: u64) -> (f64, f64) {
    if d.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = d.len();
    let mut means: Vec<f64> = (0..10_000)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (means[249], means[9749])
}

/// Two-sided Wilcoxon signed-rank test of `d` (paired differences) against
/// zero. Zero differences are dropped; tied magnitudes get average ranks.
/// Exact null distribution for up to 30 non-zero differences, normal
/// approximation with tie and continuity correction beyond. Returns 1 when
/// every difference is zero.
pub fn wilcoxon_signed_rank(d: &[f64]) -> f64 {
    let nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return 1.0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| nz[a].abs().total_cmp(&nz[b].abs()));
    // Doubled ranks, so that average ranks of ties stay integers.
    let mut rank2 = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[order[j + 1]].abs() == nz[order[i]].abs() {
            j += 1;
        }
        for &k in &order[i..=j] {
            rank2[k] = i + j + 2; // 2 × average of ranks i+1..=j+1
        }
        i = j + 1;
    }
    let w_plus2: usize = (0..n).filter(|&k| nz[k] > 0.0).map(|k| rank2[k]).sum();
    let total2: usize = rank2.iter().sum();
    if n <= 30 {
        // counts[s] = number of sign assignments whose doubled positive rank sum is s.
        let mut counts = vec![0f64; total2 + 1];
        counts[0] = 1.0;
        for &r in &rank2 {
            for s in (r..=total2).rev() {
                counts[s] += counts[s - r];
            }
        }
        let all: f64 = counts.iter().sum();
        let lower: f64 = counts[..=w_plus2].iter().sum::<f64>() / all;
        let upper: f64 = counts[w_plus2..].iter().sum::<f64>() / all;
        (2.0 * lower.min(upper)).min(1.0)
    } else {
        let w = w_plus2 as f64 / 2.0;
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let mut var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0;
        // Tie correction: subtract Σ(t³ - t)/48 over groups of tied ranks.
        let mut sorted = rank2.clone();
        sorted.sort_unstable();
        let mut i = 0;
        while i < n {
            let mut j = i;
            while j + 1 < n && sorted[j + 1] == sorted[i] {
                j += 1;
            }
            let t = (j - i + 1) as f64;
            var -= (t * t * t - t) / 48.0;
            i = j + 1;
        }
        let z = ((w - mean).abs() - 0.5).max(0.0) / var.sqrt();
        (2.0 * (1.0 - normal_cdf(z))).min(1.0)
    }
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26 on erf; error below 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Holm's step-down adjustment of a family of p-values (same order as given).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// The smallest mean paired difference a two-sided test at α = 0.05 would
/// detect with 80% power, for `n` pairs whose differences have standard
/// deviation `sd`: (z₀.₉₇₅ + z₀.₈) · sd / √n.
pub fn minimum_detectable_effect(sd: f64, n: usize) -> f64 {
    (1.959_964 + 0.841_621) * sd / (n as f64).sqrt()
}

/// The standard normal quantile (inverse CDF) of `p` in (0, 1), by
/// Acklam's rational approximation (relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return if p <= 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // No Halley refinement: it would need a CDF more accurate than
    // `normal_cdf` (1.5e-7) and made the result worse.
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
