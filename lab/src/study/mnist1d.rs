//! A port of the MNIST-1D generator (S. Greydanus & D. Kobak, "Scaling down
//! deep learning with MNIST-1D", ICML 2024; the `mnist1d` package
//! 0.0.2.post1, Apache-2.0, `mnist1d/data.py` and `mnist1d/transform.py`),
//! so a data set of any size is made here rather than shipped.
//!
//! The templates, the transformation order and every constant are the
//! package's defaults; the random numbers come from ChaCha8 instead of
//! numpy's Mersenne Twister, so the samples follow the same distribution
//! but are not the package's samples.

use mixact::prelude::*;

use super::fit::standard_normal;

/// The ten 12-point digit templates of `get_templates()`.
const TEMPLATES: [[f64; 12]; 10] = [
    [5.0, 6.0, 6.5, 6.75, 7.0, 7.0, 7.0, 7.0, 6.75, 6.5, 6.0, 5.0],
    [5.0, 3.0, 3.0, 3.4, 3.8, 4.2, 4.6, 5.0, 5.4, 5.8, 5.0, 5.0],
    [5.0, 6.0, 6.5, 6.5, 6.0, 5.25, 4.75, 4.0, 3.5, 3.5, 4.0, 5.0],
    [5.0, 6.0, 6.5, 6.5, 6.0, 5.0, 5.0, 6.0, 6.5, 6.5, 6.0, 5.0],
    [5.0, 4.4, 3.8, 3.2, 2.6, 2.6, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
    [5.0, 3.0, 3.0, 3.0, 3.0, 5.0, 6.0, 6.5, 6.5, 6.0, 4.5, 5.0],
    [5.0, 4.0, 3.5, 3.25, 3.0, 3.0, 3.0, 3.0, 3.25, 3.5, 4.0, 5.0],
    [5.0, 7.0, 7.0, 6.6, 6.2, 5.8, 5.4, 5.0, 4.6, 4.2, 5.0, 5.0],
    [5.0, 4.0, 3.5, 3.5, 4.0, 5.0, 5.0, 4.0, 3.5, 3.5, 4.0, 5.0],
    [5.0, 4.0, 3.5, 3.5, 4.0, 5.0, 5.0, 5.0, 5.0, 4.7, 4.3, 5.0],
];
const PADDING: (usize, usize) = (36, 60);
const SCALE_COEFF: f64 = 0.4;
const MAX_TRANSLATION: usize = 48;
const CORR_NOISE_SCALE: f64 = 0.25;
const IID_NOISE_SCALE: f64 = 2e-2;
const SHEAR_SCALE: f64 = 0.75;
/// Samples per sequence.
pub const LENGTH: usize = 40;

/// A template whitened as the package does: centred, divided by its
/// (population) sd, shifted to start at 0, divided by 6.
fn template(k: usize) -> Vec<f64> {
    let t = &TEMPLATES[k];
    let mean = t.iter().sum::<f64>() / 12.0;
    let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 12.0).sqrt();
    let w: Vec<f64> = t.iter().map(|v| (v - mean) / sd).collect();
    w.iter().map(|v| (v - w[0]) / 6.0).collect()
}

/// Linear interpolation from `x` on an even grid over [0, 1] to `n` points.
fn interpolate(x: &[f64], n: usize) -> Vec<f64> {
    let m = x.len();
    (0..n)
        .map(|i| {
            let pos = i as f64 / (n - 1) as f64 * (m - 1) as f64;
            let k = (pos.floor() as usize).min(m - 2);
            let f = pos - k as f64;
            x[k] * (1.0 - f) + x[k + 1] * f
        })
        .collect()
}

/// scipy's `gaussian_filter(x, 2)`: radius 8, mode "reflect" (d c b a | a b c d).
fn gaussian_filter(x: &[f64]) -> Vec<f64> {
    let (sigma, radius) = (2.0f64, 8i64);
    let w: Vec<f64> = (-radius..=radius)
        .map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let n = x.len() as i64;
    let at = |i: i64| -> f64 {
        let mut i = i;
        loop {
            if i < 0 {
                i = -i - 1;
            } else if i >= n {
                i = 2 * n - i - 1;
            } else {
                return x[i as usize];
            }
        }
    };
    (0..n)
        .map(|i| {
            (-radius..=radius)
                .zip(&w)
                .map(|(k, wk)| wk * at(i + k))
                .sum::<f64>()
                / total
        })
        .collect()
}

/// One sample of digit `k` (`transform` in the package).
fn transform(k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let long = 12 + PADDING.1;
    let mut x: Vec<f64> = template(k).iter().map(|v| v + 1e-8).collect();
    let p = PADDING.0 + (rng.random::<f64>() * (PADDING.1 - PADDING.0 + 1) as f64) as usize;
    x.extend(std::iter::repeat_n(0.0, p));
    let mut x = interpolate(&x, long);
    let scale = 1.0 + SCALE_COEFF * (rng.random::<f64>() - 0.5);
    x.iter_mut().for_each(|v| *v *= scale);
    let shift = rng.random_range(0..MAX_TRANSLATION);
    x.rotate_right(shift);
    let noise: Vec<f64> = (0..long)
        .map(|_| CORR_NOISE_SCALE * standard_normal(rng))
        .collect();
    let corr = gaussian_filter(&noise);
    for (v, c) in x.iter_mut().zip(&corr) {
        if *v == 0.0 {
            *v = *c;
        }
    }
    for v in x.iter_mut() {
        *v += IID_NOISE_SCALE * standard_normal(rng);
    }
    let coeff = SHEAR_SCALE * (rng.random::<f64>() - 0.5);
    for (i, v) in x.iter_mut().enumerate() {
        *v -= coeff * (-0.5 + i as f64 / (long - 1) as f64);
    }
    interpolate(&x, LENGTH)
}

/// `n` samples (n/10 per digit, shuffled), standardised over the whole set
/// as the package does, with their labels; the first 80% are the package's
/// training part, the rest its test part.
pub fn generate(n: usize, seed: u64) -> (DMatrix<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per = n / 10;
    let mut samples: Vec<(Vec<f64>, usize)> = Vec::with_capacity(per * 10);
    for k in 0..10 {
        for _ in 0..per {
            samples.push((transform(k, &mut rng), k));
        }
    }
    samples.shuffle(&mut rng);
    let all: Vec<f64> = samples.iter().flat_map(|s| s.0.iter().copied()).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let sd = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
    let x = DMatrix::from_fn(samples.len(), LENGTH, |r, j| {
        ((samples[r].0[j] - mean) / sd) as f32
    });
    (x, samples.iter().map(|s| s.1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_start_at_zero_as_the_package_whitens_them() {
        for k in 0..10 {
            assert_eq!(template(k)[0], 0.0);
        }
    }

    #[test]
    fn the_gaussian_filter_keeps_a_constant_and_sums_to_one() {
        let f = gaussian_filter(&[2.0; 72]);
        assert!(f.iter().all(|v| (v - 2.0).abs() < 1e-12));
        let mut impulse = vec![0.0; 72];
        impulse[36] = 1.0;
        assert!((gaussian_filter(&impulse).iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_generated_set_is_standardised_and_balanced() {
        let (x, y) = generate(200, 1);
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
        assert_eq!(
            (0..10).map(|k| y.iter().filter(|&&l| l == k).count()).max(),
            Some(20)
        );
    }
}
