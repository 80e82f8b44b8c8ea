//! Effect sizes: the error ratio, its seed-bootstrap interval and the
//! verdict against the margin, on synthetic results with known answers.

use mixact_lab::effect::{
    error_of, error_ratio, pool_arrangements, EffectVerdict, PairedCell, DEFAULT_MARGIN,
};
use mixact_lab::stats::normal_quantile;
use mixact_lab::Metric;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A cell of `n` seeds whose per-seed log error ratio is N(ln ratio, sd).
fn cell(ratio: f64, sd: f64, n: u64, seed: u64) -> PairedCell {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(ratio.ln(), sd).unwrap();
    let mut c = PairedCell::default();
    for s in 0..n {
        let base = 0.02 + 0.001 * s as f64;
        c.seeds.push(s);
        c.baseline.push(base);
        c.layout.push(base * noise.sample(&mut rng).exp());
    }
    c
}

#[test]
fn an_effect_inside_the_margin_is_equivalent() {
    let e = error_ratio(&[cell(1.01, 0.02, 40, 1)], 0.05, 7).unwrap();
    assert!(e.low > 0.95 && e.high < 1.05, "{e:?}");
    assert_eq!(e.verdict(DEFAULT_MARGIN), EffectVerdict::Equivalent);
}

#[test]
fn an_interval_that_straddles_the_margin_is_inconclusive() {
    assert_eq!(
        EffectVerdict::of(0.93, 1.02, DEFAULT_MARGIN),
        EffectVerdict::Inconclusive
    );
    let e = error_ratio(&[cell(0.97, 0.3, 10, 2)], 0.05, 7).unwrap();
    assert!(e.low < 0.95 && e.high > 1.0, "{e:?}");
    assert_eq!(e.verdict(DEFAULT_MARGIN), EffectVerdict::Inconclusive);
}

#[test]
fn a_clear_gain_is_better_and_a_clear_loss_worse() {
    let gain = error_ratio(&[cell(0.7, 0.1, 20, 3)], 0.05, 7).unwrap();
    assert!((gain.ratio - 0.7).abs() < 0.05, "{gain:?}");
    assert_eq!(gain.verdict(DEFAULT_MARGIN), EffectVerdict::Better);
    assert!(gain.p < 0.001);
    let loss = error_ratio(&[cell(1.4, 0.1, 20, 4)], 0.05, 7).unwrap();
    assert_eq!(loss.verdict(DEFAULT_MARGIN), EffectVerdict::Worse);
}

#[test]
fn a_small_but_certain_gain_inside_the_margin_is_equivalent_not_better() {
    assert_eq!(
        EffectVerdict::of(0.97, 0.99, DEFAULT_MARGIN),
        EffectVerdict::Equivalent
    );
}

#[test]
fn the_bootstrap_interval_covers_a_known_ratio_at_about_its_nominal_rate() {
    let trials = 300;
    let covered = (0..trials)
        .filter(|&t| {
            let e = error_ratio(&[cell(0.8, 0.25, 20, 100 + t)], 0.05, t).unwrap();
            e.low <= 0.8 && 0.8 <= e.high
        })
        .count();
    let rate = covered as f64 / trials as f64;
    // A percentile bootstrap of 20 pairs undercovers a little; 300 trials
    // give a binomial sd of 1.3 points.
    assert!((0.89..=0.99).contains(&rate), "coverage {rate}");
}

#[test]
fn seeds_are_resampled_jointly_across_the_cells_of_a_task() {
    // Two cells whose per-seed ratios move together: pooling them must not
    // narrow the interval as if they were independent seeds.
    let a = cell(0.8, 0.3, 20, 5);
    let mut b = a.clone();
    b.baseline.iter_mut().for_each(|v| *v *= 2.0);
    b.layout.iter_mut().for_each(|v| *v *= 2.0);
    let one = error_ratio(std::slice::from_ref(&a), 0.05, 9).unwrap();
    let two = error_ratio(&[a, b], 0.05, 9).unwrap();
    assert_eq!(two.seeds, 20);
    assert_eq!(two.cells, 2);
    assert!((one.low - two.low).abs() < 1e-12 && (one.high - two.high).abs() < 1e-12);
}

#[test]
fn arrangements_of_one_pair_pool_into_their_geometric_mean_per_seed() {
    let mk = |layout: Vec<f64>| PairedCell {
        seeds: vec![0, 1],
        layout,
        baseline: vec![0.1, 0.2],
    };
    let pooled = pool_arrangements(&[mk(vec![0.1, 0.4]), mk(vec![0.4, 0.1])]);
    assert_eq!(pooled.seeds, [0, 1]);
    assert!((pooled.layout[0] - 0.2).abs() < 1e-12 && (pooled.layout[1] - 0.2).abs() < 1e-12);
    assert_eq!(pooled.baseline, [0.1, 0.2]);
}

#[test]
fn a_perfect_seed_counts_as_a_ratio_of_one_not_nan() {
    let c = PairedCell {
        seeds: vec![0, 1, 2],
        layout: vec![0.0, 0.1, 0.1],
        baseline: vec![0.0, 0.1, 0.1],
    };
    let e = error_ratio(&[c], 0.05, 1).unwrap();
    assert_eq!(e.ratio, 1.0);
}

#[test]
fn errors_come_from_accuracy_or_mse() {
    assert!((error_of(Metric::Accuracy, 0.93) - 0.07).abs() < 1e-12);
    assert_eq!(error_of(Metric::Mse, 0.5), 0.5);
}

#[test]
fn the_normal_quantile_matches_tables() {
    for (p, z) in [
        (0.975, 1.959_963_984_540_054),
        (0.8, 0.841_621_233_572_914_2),
        (0.5, 0.0),
        (0.001, -3.090_232_306_167_813_6),
    ] {
        assert!(
            (normal_quantile(p) - z).abs() < 1e-6,
            "{p}: {}",
            normal_quantile(p)
        );
    }
}

#[test]
fn the_minimum_detectable_effect_shrinks_with_more_seeds() {
    let few = error_ratio(&[cell(1.0, 0.2, 10, 6)], 0.05, 1).unwrap();
    let many = error_ratio(&[cell(1.0, 0.2, 40, 6)], 0.05, 1).unwrap();
    assert!(many.mde_ratio > few.mde_ratio, "{few:?} {many:?}");
    let strict = error_ratio(&[cell(1.0, 0.2, 40, 6)], 0.05 / 900.0, 1).unwrap();
    assert!(strict.mde_ratio < many.mde_ratio);
}

#[test]
fn fewer_than_six_seeds_give_an_inconclusive_verdict_however_tight() {
    use mixact_lab::effect::{error_ratio, EffectVerdict, PairedCell};
    let cell = |n: u64| PairedCell {
        seeds: (0..n).collect(),
        layout: (0..n).map(|s| 0.5 + 0.001 * s as f64).collect(),
        baseline: (0..n).map(|s| 0.25 + 0.0005 * s as f64).collect(),
    };
    let five = error_ratio(&[cell(5)], 0.05, 1).unwrap();
    assert!(five.low > 1.5, "a tight doubling: {five:?}");
    assert_eq!(five.verdict(0.05), EffectVerdict::Inconclusive);
    let six = error_ratio(&[cell(6)], 0.05, 1).unwrap();
    assert_eq!(six.verdict(0.05), EffectVerdict::Worse);
}

#[test]
fn a_diverged_layout_run_counts_as_a_loss_at_the_cells_worst_error_not_as_a_missing_seed() {
    // Eight seeds: the layout halves the error on seven and diverges on one.
    let mut layout = vec![0.05; 8];
    layout[3] = f64::NAN;
    let cell = PairedCell {
        seeds: (0..8).collect(),
        layout,
        baseline: vec![0.1; 8],
    };
    let e = error_ratio(&[cell], 0.05, 1).unwrap();
    assert_eq!(e.seeds, 8, "the diverged seed stays in");
    assert_eq!(e.diverged, (1, 0));
    // Seven log ratios of ln 0.5 and one of ln(0.1 / 0.1) = 0 (the worst
    // finite error of the cell is the baseline's 0.1).
    let want = (7.0 * 0.5f64.ln() / 8.0).exp();
    assert!((e.ratio - want).abs() < 1e-12, "{} vs {want}", e.ratio);
}

#[test]
fn two_diverged_runs_of_one_seed_tie() {
    let cell = PairedCell {
        seeds: vec![0, 1],
        layout: vec![f64::NAN, 0.2],
        baseline: vec![f64::NAN, 0.2],
    };
    let e = error_ratio(&[cell], 0.05, 1).unwrap();
    assert_eq!((e.seeds, e.diverged), (2, (1, 1)));
    assert!((e.ratio - 1.0).abs() < 1e-12);
}
