//! The confirmation's decision rules on synthetic results whose answer is
//! known: each of "held", "refuted" and "undecided" is reached, and H1 as a
//! whole follows its two parts.

use mixact_lab::confirm::{decide, h1_outcome, Decision, Outcome};
use mixact_lab::role::Role;
use mixact_lab::sweep::SweepRecord;
use mixact_lab::Metric;

/// One cell: a baseline (sin) and the three best-two arrangements, whose
/// test error is `ratio` times the baseline's, times a per-seed factor of
/// spread `spread` (in log units).
fn cell(task: &str, depth: usize, width: usize, ratio: f64, spread: f64) -> Vec<SweepRecord> {
    let rec = |role: Role, config: &str, seed: u64, error: f64| SweepRecord {
        task: task.into(),
        metric: Metric::Mse,
        fraction: 1.0,
        cell_width: width,
        depth,
        role,
        config: config.into(),
        seed,
        lr: 0.01,
        width,
        params: 100,
        valid_metric: error,
        test_metric: error,
        test_loss: error,
        epochs_used: 10,
        lr_at_edge: false,
        selection_score: if role == Role::Homogeneous {
            -0.1
        } else {
            f64::NAN
        },
    };
    let mut out = Vec::new();
    for seed in 0..30u64 {
        let base = 0.1 * (1.0 + 0.2 * ((seed as f64) * 1.7).sin());
        // A fixed, zero-mean pattern of per-seed deviations.
        let z = ((seed as f64) * 2.39).sin();
        let layout = base * ratio * (spread * z).exp();
        out.push(rec(Role::Homogeneous, "sin", seed, base));
        for role in [
            Role::MaskBestTwo,
            Role::BranchesBestTwo,
            Role::RandomBestTwo,
        ] {
            out.push(rec(role, "sin+relu", seed, layout));
        }
    }
    out
}

/// H1a's, H1b's and H2's cells with the given (ratio, spread) each.
fn design(h1a: (f64, f64), h1b: (f64, f64), h2: (f64, f64)) -> Vec<Decision> {
    let mut r = Vec::new();
    for w in [8, 16] {
        r.extend(cell("sin6x+abs", 1, w, h1a.0, h1a.1));
        r.extend(cell("checker4x4", 1, w, h1b.0, h1b.1));
    }
    for w in [8, 16, 32] {
        r.extend(cell("sin6x+abs", 4, w, h2.0, h2.1));
    }
    // A depth-4 width-64 cell that H2 must ignore: a large loss.
    r.extend(cell("sin6x+abs", 4, 64, 3.0, 0.01));
    decide(&r)
}

fn outcome(d: &[Decision], name: &str) -> Outcome {
    d.iter().find(|x| x.name == name).unwrap().outcome
}

#[test]
fn a_tight_ratio_of_one_holds_h1_and_a_clear_gain_holds_h2() {
    let d = design((1.0, 0.02), (1.02, 0.02), (0.7, 0.02));
    assert_eq!(outcome(&d, "H1a"), Outcome::Held);
    assert_eq!(outcome(&d, "H1b"), Outcome::Held);
    assert_eq!(outcome(&d, "H2"), Outcome::Held, "{d:?}");
    assert_eq!(h1_outcome(&d), Outcome::Held);
}

#[test]
fn a_ratio_clearly_above_1_10_refutes_h1_and_no_gain_refutes_h2() {
    let d = design((1.0, 0.02), (1.5, 0.02), (1.0, 0.05));
    assert_eq!(outcome(&d, "H1a"), Outcome::Held);
    assert_eq!(outcome(&d, "H1b"), Outcome::Refuted);
    assert_eq!(h1_outcome(&d), Outcome::Refuted);
    assert_eq!(outcome(&d, "H2"), Outcome::Refuted, "{d:?}");
}

#[test]
fn wide_intervals_leave_both_undecided() {
    // H1a: centred on 1 but far too noisy to show equivalence; H2: a gain
    // whose interval excludes 1 but does not end below 0.90.
    let d = design((1.0, 0.6), (1.0, 0.02), (0.9, 0.15));
    assert_eq!(outcome(&d, "H1a"), Outcome::Undecided, "{d:?}");
    assert_eq!(outcome(&d, "H1b"), Outcome::Held);
    assert_eq!(h1_outcome(&d), Outcome::Undecided);
    let h2 = d.iter().find(|x| x.name == "H2").unwrap();
    let e = h2.effect.unwrap();
    assert!(e.high < 1.0 && e.high > 0.9, "{e:?}");
    assert_eq!(h2.outcome, Outcome::Undecided);
}

#[test]
fn h2_ignores_cells_outside_its_widths() {
    let d = design((1.0, 0.02), (1.0, 0.02), (0.7, 0.02));
    let e = d.iter().find(|x| x.name == "H2").unwrap().effect.unwrap();
    assert_eq!(e.cells, 3);
    assert!(e.ratio < 0.75, "{e:?}");
}

#[test]
fn holm_runs_over_the_three_tests() {
    let d = design((1.0, 0.02), (1.0, 0.02), (0.7, 0.02));
    for x in &d {
        assert!(x.p_holm >= x.p, "{x:?}");
    }
}

#[test]
fn a_test_over_fewer_than_six_seeds_is_undecided() {
    let few: Vec<SweepRecord> = [8, 16]
        .into_iter()
        .flat_map(|w| cell("checker4x4", 1, w, 1.0, 0.0))
        .filter(|r| r.seed < 5)
        .collect();
    let d = decide(&few);
    let h1b = d.iter().find(|x| x.name == "H1b").unwrap();
    assert_eq!(h1b.effect.unwrap().seeds, 5);
    assert_eq!(h1b.outcome, Outcome::Undecided);
}
