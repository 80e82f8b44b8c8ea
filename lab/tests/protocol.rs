//! The training protocol every mode shares: the learning-rate grid grows
//! while its best rate sits at an edge, runs stop early on validation and
//! say how long they trained, baselines are chosen on selection seeds and
//! never on the scored ones, and the suite's report leads with effect sizes.

use mixact::data::Target1d;
use mixact::Act;
use mixact_lab::baseline::{choose, Candidate, ChosenOn};
use mixact_lab::sweep::{cell_baseline, SweepRecord, HOMOGENEOUS};
use mixact_lab::{
    analyse, run_suite, write_report, Config, Family, Hidden, Metric, Results, RunRecord, Shard,
    SuiteOptions, Task,
};

fn opts(grid: Vec<f64>, extensions: usize, patience: Option<usize>) -> SuiteOptions {
    SuiteOptions {
        seeds: vec![0, 1],
        tuning_seeds: vec![10],
        lr_grid: grid,
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 4,
        patience,
        lr_extensions: extensions,
        batch_size: 16,
        base_width: 8,
        workers: 1,
    }
}

/// A regression task: its validation score (-MSE) is continuous, so rates
/// do not tie.
fn relu_on_sine(o: &SuiteOptions) -> Results {
    let tasks = vec![Task::regression("sin", Target1d::Sin { w: 2.0 }, 120)];
    let configs = vec![Config::new(Hidden::Dense(Act::Relu), 1)];
    run_suite(&tasks, &configs, o, Shard::ALL, &|_, _| {}).unwrap()
}

#[test]
fn the_grid_grows_past_its_top_edge_while_the_best_rate_is_there() {
    // Rates this small barely move in 4 epochs: the largest is always best.
    let grid = vec![1e-6, 2e-6];
    let fixed = relu_on_sine(&opts(grid.clone(), 0, None));
    let grown = relu_on_sine(&opts(grid, 2, None));
    assert_eq!(fixed.runs[0].lr, 2e-6);
    assert!(
        fixed.runs[0].lr_at_edge,
        "no extension allowed: still at the edge"
    );
    assert!(
        (grown.runs[0].lr - 8e-6).abs() < 1e-18,
        "{}",
        grown.runs[0].lr
    );
    assert!(
        grown.runs[0].lr_at_edge,
        "both extensions used, still the top"
    );
}

#[test]
fn an_interior_best_rate_is_not_at_the_edge() {
    // 1e3 diverges, 1e-7 does not learn: 0.03 lies between them.
    let r = relu_on_sine(&opts(vec![1e-7, 0.03, 1e3], 0, None));
    assert_eq!(r.runs[0].lr, 0.03);
    assert!(!r.runs[0].lr_at_edge);
    assert!(r.runs[0].selection_score.is_finite());
}

#[test]
fn runs_record_the_epochs_they_trained() {
    let mut o = opts(vec![0.01], 0, None);
    o.epochs = 6;
    let full = relu_on_sine(&o);
    assert!(full.runs.iter().all(|r| r.epochs_used == 6));
    // Patience 0 stops after the first epoch that does not improve.
    o.patience = Some(0);
    o.epochs = 200;
    let stopped = relu_on_sine(&o);
    assert!(
        stopped
            .runs
            .iter()
            .all(|r| (1..200).contains(&r.epochs_used)),
        "{:?}",
        stopped
            .runs
            .iter()
            .map(|r| r.epochs_used)
            .collect::<Vec<_>>()
    );
}

#[test]
fn runs_record_a_finite_test_loss() {
    let r = relu_on_sine(&opts(vec![0.01], 0, None));
    assert!(r
        .runs
        .iter()
        .all(|r| r.test_loss.is_finite() && r.test_loss > 0.0));
}

fn run(
    config: &str,
    family: Family,
    seed: u64,
    valid: f64,
    test: f64,
    selection: f64,
) -> RunRecord {
    RunRecord {
        task: "t".into(),
        metric: Metric::Accuracy,
        config: config.into(),
        family,
        seed,
        lr: 0.01,
        width: 8,
        params: 100,
        test_metric: test,
        valid_metric: valid,
        final_loss: 0.1,
        steps: 10,
        us_per_step: 1.0,
        test_loss: 1.0 - test,
        epochs_used: 10,
        lr_at_edge: false,
        selection_score: selection,
    }
}

/// relu is best on the scored seeds' validation, tanh on the selection seeds.
fn disagreeing_results() -> Results {
    let mut r = Results::default();
    for seed in 0..8 {
        r.runs
            .push(run("relu", Family::Homogeneous, seed, 0.95, 0.80, 0.70));
        r.runs
            .push(run("tanh", Family::Homogeneous, seed, 0.75, 0.82, 0.90));
        r.runs.push(run(
            "mask relu+tanh",
            Family::Mixed,
            seed,
            0.8,
            0.81 + 0.001 * seed as f64,
            f64::NAN,
        ));
    }
    r
}

#[test]
fn the_suite_baseline_is_chosen_on_selection_seeds_not_scored_seeds() {
    let a = analyse(&disagreeing_results());
    assert_eq!(a.baselines["t"], "tanh");
    assert_eq!(a.baselines_chosen_on, ChosenOn::SelectionSeeds);
}

#[test]
fn without_selection_scores_the_fallback_is_said() {
    let mut r = disagreeing_results();
    for x in &mut r.runs {
        x.selection_score = f64::NAN;
    }
    let a = analyse(&r);
    assert_eq!(a.baselines["t"], "relu");
    assert_eq!(a.baselines_chosen_on, ChosenOn::ScoredSeeds);
}

#[test]
fn the_sweep_baseline_is_chosen_on_selection_seeds_not_scored_seeds() {
    let rec = |config: &str, seed, valid, selection| SweepRecord {
        task: "t".into(),
        metric: Metric::Accuracy,
        fraction: 1.0,
        cell_width: 8,
        depth: 1,
        role: HOMOGENEOUS,
        config: config.into(),
        seed,
        lr: 0.01,
        width: 8,
        params: 100,
        valid_metric: valid,
        test_metric: 0.8,
        test_loss: 0.5,
        epochs_used: 3,
        lr_at_edge: false,
        selection_score: selection,
    };
    let records: Vec<SweepRecord> = (0..5)
        .flat_map(|s| [rec("relu", s, 0.95, 0.7), rec("tanh", s, 0.75, 0.9)])
        .collect();
    assert_eq!(cell_baseline(&records).as_deref(), Some("tanh"));
}

#[test]
fn a_candidate_with_a_diverged_selection_run_is_never_the_baseline() {
    let c = |name, selection| Candidate {
        name,
        selection_score: selection,
        scored_valid: vec![0.9],
    };
    let (i, on) = choose(&[c("a", f64::NEG_INFINITY), c("b", 0.1)]).unwrap();
    assert_eq!((i, on), (1, ChosenOn::SelectionSeeds));
}

#[test]
fn the_suite_report_leads_with_effect_sizes_and_a_forest_plot() {
    let dir = std::env::temp_dir().join(format!("mixact-lab-effects-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let a = write_report(&dir, &disagreeing_results(), "protocol text").unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let answer = md.find("## The answer, in effect sizes").unwrap();
    assert!(answer < md.find("protocol text").unwrap());
    assert!(md.contains("![forest.png](forest.png)"));
    assert!(dir.join("forest.png").is_file());
    let csv = std::fs::read_to_string(dir.join("comparisons.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("t,mask relu+tanh,mixed,1,tanh,8,")),
        "{csv}"
    );
    // tanh errs 0.18, the mix 0.19 - 0.001 s: about 3% more error, seed by seed.
    let mix = a
        .effects
        .iter()
        .find(|e| e.task == "t" && e.config == "mask relu+tanh")
        .unwrap();
    assert!(
        mix.effect.ratio > 1.0 && mix.effect.ratio < 1.06,
        "{:?}",
        mix.effect
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unbounded_grid_extension_is_refused_before_training() {
    let mut o = opts(vec![0.01, 0.03], usize::MAX, None);
    o.tuning_seeds = vec![10];
    let tasks = vec![Task::regression("sin", Target1d::Sin { w: 2.0 }, 40)];
    let configs = vec![Config::new(Hidden::Dense(Act::Relu), 1)];
    let e = run_suite(&tasks, &configs, &o, Shard::ALL, &|_, _| {}).unwrap_err();
    assert!(e.to_string().contains("extensions"), "{e}");
}

#[test]
fn the_protocols_optimiser_is_the_one_that_trains() {
    let mut o = opts(vec![0.01], 0, None);
    let adam = relu_on_sine(&o);
    o.optimiser = mixact_lab::Optimiser::SgdMomentum { momentum: 0.9 };
    let sgd = relu_on_sine(&o);
    assert_ne!(adam.runs[0].test_metric, sgd.runs[0].test_metric);
    // A momentum out of range is an error of the run, not a panic.
    o.optimiser = mixact_lab::Optimiser::SgdMomentum { momentum: 1.5 };
    let tasks = vec![Task::regression("sin", Target1d::Sin { w: 2.0 }, 120)];
    let configs = vec![Config::new(Hidden::Dense(Act::Relu), 1)];
    assert!(run_suite(&tasks, &configs, &o, Shard::ALL, &|_, _| {}).is_err());
}
