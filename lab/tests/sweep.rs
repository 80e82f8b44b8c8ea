//! The sweep: parameters matched within a cell, the "best two" chosen on
//! validation data only, and the per-cell verdict rules on synthetic
//! results whose answer is known.

use mixact::Act;
use mixact_lab::sweep::{
    rank_by_validation, run_sweep, sweep_cells, Role, SweepOptions, SweepRecord, HOMOGENEOUS,
};
use mixact_lab::sweep_report::{analyse_sweep, cell_verdicts, spearman, CellVerdict};
use mixact_lab::{Metric, Outcome, SuiteOptions, Task};

fn tiny_options() -> SweepOptions {
    SweepOptions {
        widths: vec![8, 24],
        depths: vec![1, 2],
        fractions: vec![0.5, 1.0],
        suite: SuiteOptions {
            seeds: vec![0, 1],
            tuning_seeds: vec![],
            lr_grid: vec![0.01],
            optimiser: mixact_lab::Optimiser::Adam,
            epochs: 2,
            patience: None,
            lr_extensions: 0,
            batch_size: 32,
            base_width: 8,
            workers: 1,
        },
    }
}

#[test]
fn every_configuration_of_a_cell_has_the_cells_parameter_count_to_within_one_neuron() {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40).with_epochs(2)];
    let candidates = [Act::Relu, Act::Tanh, Act::Sin];
    let opts = tiny_options();
    let cells = sweep_cells(tasks.len(), &opts);
    assert_eq!(cells.len(), 2 * 2 * 2);
    let records = run_sweep(&tasks, &candidates, &opts, &cells, |_, _| {}).unwrap();
    // 3 homogeneous + 5 mixed layouts, 2 seeds, per cell.
    assert_eq!(records.len(), cells.len() * 8 * 2);
    for cell in &cells {
        let in_cell: Vec<&SweepRecord> = records
            .iter()
            .filter(|r| {
                r.cell_width == cell.width && r.depth == cell.depth && r.fraction == cell.fraction
            })
            .collect();
        let budget = in_cell
            .iter()
            .find(|r| r.config == "relu")
            .map(|r| r.params)
            .unwrap();
        for r in &in_cell {
            // One neuron of a layer this narrow is at most about 7% of the parameters.
            let gap = r.params.abs_diff(budget) as f64 / budget as f64;
            assert!(
                gap <= 0.07,
                "{} in {:?}: {} vs {budget}",
                r.config,
                cell,
                r.params
            );
        }
    }
}

fn record(config: &str, role: Role, seed: u64, valid: f64, test: f64) -> SweepRecord {
    SweepRecord {
        task: "t".into(),
        metric: Metric::Accuracy,
        fraction: 1.0,
        cell_width: 8,
        depth: 1,
        role,
        config: config.into(),
        seed,
        lr: 0.01,
        width: 8,
        params: 100,
        valid_metric: valid,
        test_metric: test,
        test_loss: f64::NAN,
        epochs_used: 0,
        lr_at_edge: false,
        selection_score: f64::NAN,
    }
}

#[test]
fn the_best_two_are_chosen_by_validation_scores_even_when_the_test_scores_disagree() {
    let mut records = Vec::new();
    for seed in 0..5 {
        // sin is best on validation and worst on test; relu the reverse.
        records.push(record("relu", HOMOGENEOUS, seed, 0.6, 0.99));
        records.push(record("tanh", HOMOGENEOUS, seed, 0.8, 0.7));
        records.push(record("sin", HOMOGENEOUS, seed, 0.9, 0.1));
    }
    let ranked = rank_by_validation(&[Act::Relu, Act::Tanh, Act::Sin], &records);
    assert_eq!(&ranked[..2], &[Act::Sin, Act::Tanh]);
    // A diverged validation run ranks a candidate last.
    records.push(record("sin", HOMOGENEOUS, 9, f64::NAN, 0.5));
    let ranked = rank_by_validation(&[Act::Relu, Act::Tanh, Act::Sin], &records);
    assert_eq!(ranked, vec![Act::Tanh, Act::Relu, Act::Sin]);
}

/// A cell whose "mask best2" beats (or trails) the best single activation by
/// `shift` on every one of 20 seeds, the other mixed roles tied.
fn synthetic_cell(shift: f64) -> Vec<SweepRecord> {
    let mut records = Vec::new();
    for seed in 0..20 {
        let noise = ((seed * 7919) % 13) as f64 / 1000.0;
        records.push(record("relu", HOMOGENEOUS, seed, 0.9, 0.8 + noise));
        records.push(record("tanh", HOMOGENEOUS, seed, 0.5, 0.5));
        records.push(record(
            "mask relu+tanh",
            Role::MaskBestTwo,
            seed,
            0.9,
            0.8 + noise + shift,
        ));
        for role in [
            Role::BranchesBestTwo,
            Role::RandomBestTwo,
            Role::SlopeBest,
            Role::MaskAll,
        ] {
            // Ties: half the seeds slightly up, half slightly down.
            let wiggle = if seed % 2 == 0 { 0.001 } else { -0.001 };
            records.push(record(role.name(), role, seed, 0.9, 0.8 + noise + wiggle));
        }
    }
    records
}

#[test]
fn a_consistent_gain_on_twenty_seeds_is_a_win_and_the_cell_says_mixing_helps() {
    let comparisons = analyse_sweep(&synthetic_cell(0.05));
    let mask = comparisons
        .iter()
        .find(|c| c.role == Role::MaskBestTwo)
        .unwrap();
    assert_eq!(mask.baseline, "relu");
    assert_eq!(mask.pairs, 20);
    assert!((mask.mean_diff - 0.05).abs() < 1e-12);
    assert_eq!(mask.outcome, Outcome::Win);
    assert!(comparisons
        .iter()
        .filter(|c| c.role != Role::MaskBestTwo)
        .all(|c| c.outcome == Outcome::Tie));
    let verdicts = cell_verdicts(&comparisons);
    assert_eq!(
        verdicts.values().copied().collect::<Vec<_>>(),
        vec![CellVerdict::MixingHelps]
    );
}

#[test]
fn a_consistent_loss_is_a_loss_and_the_cell_says_mixing_hurts() {
    let comparisons = analyse_sweep(&synthetic_cell(-0.05));
    let mask = comparisons
        .iter()
        .find(|c| c.role == Role::MaskBestTwo)
        .unwrap();
    assert_eq!(mask.outcome, Outcome::Loss);
    let verdicts = cell_verdicts(&comparisons);
    assert_eq!(
        verdicts.values().copied().collect::<Vec<_>>(),
        vec![CellVerdict::MixingHurts]
    );
}

#[test]
fn no_difference_is_a_tie_everywhere() {
    let comparisons = analyse_sweep(&synthetic_cell(0.0));
    assert!(comparisons.iter().all(|c| c.outcome == Outcome::Tie));
    let verdicts = cell_verdicts(&comparisons);
    assert_eq!(
        verdicts.values().copied().collect::<Vec<_>>(),
        vec![CellVerdict::NoDifference]
    );
}

#[test]
fn a_win_beside_a_loss_is_no_difference_and_more_losses_than_wins_is_hurts() {
    use Outcome::*;
    assert_eq!(CellVerdict::of(&[Win, Loss]), CellVerdict::NoDifference);
    assert_eq!(CellVerdict::of(&[Win, Tie, Tie]), CellVerdict::MixingHelps);
    assert_eq!(
        CellVerdict::of(&[Loss, Loss, Win]),
        CellVerdict::MixingHurts
    );
    assert_eq!(CellVerdict::of(&[]), CellVerdict::NoDifference);
}

#[test]
fn spearman_sees_monotone_trends() {
    assert!((spearman(&[8.0, 16.0, 32.0], &[-0.3, -0.1, 0.2]) - 1.0).abs() < 1e-12);
    assert!((spearman(&[8.0, 16.0, 32.0], &[0.3, 0.1, -0.2]) + 1.0).abs() < 1e-12);
    assert_eq!(spearman(&[1.0, 2.0], &[5.0, 5.0]), 0.0);
}

#[test]
fn a_sweep_without_two_candidates_is_an_error() {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40)];
    let opts = tiny_options();
    let cells = sweep_cells(1, &opts);
    assert!(run_sweep(&tasks, &[Act::Relu], &opts, &cells, |_, _| {}).is_err());
}

#[test]
fn a_rerun_loads_stored_cells_instead_of_training_them_again() {
    use mixact_lab::sweep::run_sweep_into;
    use mixact_lab::sweep_report::{parse_sweep_csv, sweep_csv};
    let dir = std::env::temp_dir().join(format!("mixact-sweep-cells-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40).with_epochs(2)];
    let candidates = [Act::Relu, Act::Tanh];
    let mut opts = tiny_options();
    opts.widths = vec![8];
    opts.fractions = vec![1.0];
    let cells = sweep_cells(1, &opts);
    let first = run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap();
    // Mark the stored copy of the first cell, so a reload is visible.
    let stored = dir.join("cells").join(cells[0].file_name(tasks[0].name()));
    let mut marked = parse_sweep_csv(&std::fs::read_to_string(&stored).unwrap()).unwrap();
    for r in &mut marked {
        r.test_metric = 0.125;
    }
    std::fs::write(&stored, sweep_csv(&marked).unwrap()).unwrap();
    let again = run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap();
    assert_eq!(again.len(), first.len());
    let in_first_cell = |r: &&SweepRecord| r.depth == cells[0].depth;
    assert!(again
        .iter()
        .filter(in_first_cell)
        .all(|r| r.test_metric == 0.125));
    // The other cell was stored unmarked and comes back as it was trained.
    let other = |v: &[SweepRecord]| -> Vec<u64> {
        v.iter()
            .filter(|r| r.depth != cells[0].depth)
            .map(|r| r.test_metric.to_bits())
            .collect()
    };
    assert_eq!(other(&again), other(&first));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stored_cell_of_another_cell_or_other_seeds_is_an_error_not_reused() {
    use mixact::Error;
    use mixact_lab::sweep::run_sweep_into;
    let dir = std::env::temp_dir().join(format!("mixact-sweep-mismatch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40).with_epochs(2)];
    let candidates = [Act::Relu, Act::Tanh];
    let mut opts = tiny_options();
    opts.widths = vec![8];
    opts.fractions = vec![1.0];
    let cells = sweep_cells(1, &opts);
    run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap();
    // Other seeds than the stored cells were trained on.
    let mut other_seeds = opts.clone();
    other_seeds.suite.seeds = vec![0, 1, 2];
    let e = run_sweep_into(
        &tasks,
        &candidates,
        &other_seeds,
        &cells,
        Some(&dir),
        |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(format!("{e}").contains("seeds"), "{e}");
    // The second cell's file holding the first cell's rows.
    let file = |c: usize| dir.join("cells").join(cells[c].file_name(tasks[0].name()));
    std::fs::copy(file(0), file(1)).unwrap();
    let e = run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(format!("{e}").contains("depth"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stored_cell_missing_one_run_is_an_error_not_reused() {
    use mixact_lab::sweep::run_sweep_into;
    use mixact_lab::sweep_report::{parse_sweep_csv, sweep_csv};
    let dir = std::env::temp_dir().join(format!("mixact-sweep-partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40).with_epochs(2)];
    let candidates = [Act::Relu, Act::Tanh];
    let mut opts = tiny_options();
    opts.widths = vec![8];
    opts.fractions = vec![1.0];
    let cells = sweep_cells(1, &opts);
    run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap();
    let stored = dir.join("cells").join(cells[0].file_name(tasks[0].name()));
    let mut rows = parse_sweep_csv(&std::fs::read_to_string(&stored).unwrap()).unwrap();
    let gone = rows.pop().unwrap();
    std::fs::write(&stored, sweep_csv(&rows).unwrap()).unwrap();
    let e = run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{} ran seeds", gone.config)) && e.contains("same seeds"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn where_mixing_helps_counts_wins_and_losses_per_data_fraction_and_depth() {
    use mixact_lab::sweep_report::{where_mixing_helps, CellComparison};
    let comparison = |fraction: u32, depth: usize, outcome: Outcome| CellComparison {
        cell: ("t".into(), fraction, depth, 8),
        metric: Metric::Accuracy,
        role: Role::MaskBestTwo,
        config: "mask relu+tanh".into(),
        baseline: "relu".into(),
        pairs: 20,
        mean_diff: 0.0,
        p: 0.5,
        p_holm: 0.5,
        outcome,
    };
    let text = where_mixing_helps(&[
        comparison(250, 1, Outcome::Win),
        comparison(1000, 1, Outcome::Loss),
        comparison(1000, 2, Outcome::Tie),
    ]);
    assert!(
        text.contains(
            "By training-data fraction: 25%: 1 win, 0 losses of 1; 100%: 0 wins, 1 loss of 2."
        ),
        "{text}"
    );
    assert!(
        text.contains("By depth: depth 1: 1 win, 1 loss of 2; depth 2: 0 wins, 0 losses of 1."),
        "{text}"
    );
    assert!(text.contains("- mask best2: 1 win, 1 loss."), "{text}");
}

#[test]
fn a_stored_cell_without_selection_scores_is_refused_by_a_sweep_that_selects_on_them() {
    use mixact::Error;
    use mixact_lab::sweep::run_sweep_into;
    let dir = std::env::temp_dir().join(format!("mixact-sweep-protocol-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40).with_epochs(2)];
    let candidates = [Act::Relu, Act::Tanh];
    let mut opts = tiny_options();
    opts.widths = vec![8];
    opts.depths = vec![1];
    opts.fractions = vec![1.0];
    let cells = sweep_cells(1, &opts);
    // Stored by a fixed-rate run: no selection seeds, no selection scores.
    run_sweep_into(&tasks, &candidates, &opts, &cells, Some(&dir), |_, _| {}).unwrap();
    let mut selecting = opts.clone();
    selecting.suite.tuning_seeds = vec![100];
    selecting.suite.lr_grid = vec![0.003, 0.01];
    let e = run_sweep_into(
        &tasks,
        &candidates,
        &selecting,
        &cells,
        Some(&dir),
        |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(format!("{e}").contains("selection seeds"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweep_shards_partition_the_cells_and_balance_their_cost() {
    use mixact_lab::units::{assign, WorkUnit};
    let mut opts = tiny_options();
    opts.widths = vec![8, 16, 32, 64, 128, 256];
    opts.depths = vec![1, 2, 4];
    opts.fractions = vec![0.25, 1.0];
    let cells = sweep_cells(5, &opts);
    let plan: Vec<WorkUnit> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| WorkUnit {
            id: c.file_name(&format!("t{}", c.task)),
            task: c.task,
            config: i,
            cost: c.cost(100),
        })
        .collect();
    let shard_of = assign(&plan, 8);
    assert_eq!(
        shard_of.len(),
        cells.len(),
        "every cell in exactly one shard"
    );
    let mut load = [0.0f64; 8];
    for (u, &s) in plan.iter().zip(&shard_of) {
        load[s] += u.cost;
    }
    let biggest = plan.iter().map(|u| u.cost).fold(0.0, f64::max);
    let (lo, hi) = load
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), &l| (a.min(l), b.max(l)));
    assert!(hi - lo <= biggest, "loads {load:?}");
    let c = &cells[0];
    let wider = mixact_lab::sweep::Cell {
        width: c.width * 2,
        ..c.clone()
    };
    assert!(wider.cost(100) > c.cost(100));
}

#[test]
fn the_report_says_the_baselines_came_from_selection_seeds_only_when_every_single_run_has_a_selection_score(
) {
    use mixact_lab::sweep_effects::BaselineSource;
    let mut records: Vec<SweepRecord> = (0..3)
        .map(|seed| SweepRecord {
            selection_score: 0.9,
            ..record("relu", HOMOGENEOUS, seed, 0.8, 0.8)
        })
        .collect();
    assert_eq!(BaselineSource::of(&records), BaselineSource::SelectionSeeds);
    records.push(record("tanh", HOMOGENEOUS, 0, 0.7, 0.7));
    assert_eq!(BaselineSource::of(&records), BaselineSource::ScoredSeeds);
}
