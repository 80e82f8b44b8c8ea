//! The comparison suite: statistics against known values, paired and
//! reproducible runs, shards that merge into the full run, and the
//! branch / block-mask identity the suite relies on.

use mixact::{data, Act, Adam, Dense, FitConfig, Layer, Loss, Network, Trainer};
use mixact_lab::stats::{holm, minimum_detectable_effect, wilcoxon_signed_rank};
use mixact_lab::{
    analyse, read_results, run_suite, write_results, Config, Hidden, Metric, Results, Shard,
    SuiteOptions, Task, TaskKind,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn wilcoxon_exact_p_values_match_the_tables() {
    // All 6 differences positive: p = 2 / 2^6.
    assert!((wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) - 2.0 / 64.0).abs() < 1e-12);
    // Symmetric differences: no evidence at all.
    assert!((wilcoxon_signed_rank(&[-1.0, 1.0, -2.0, 2.0]) - 1.0).abs() < 1e-12);
    // W+ = 1 of n = 5 (ranks 1..5): P(W <= 1) = 2/32, two-sided 4/32.
    assert!((wilcoxon_signed_rank(&[-0.1, 0.2, 0.3, 0.4, 0.5]) - 0.125).abs() < 1e-12);
    // Zeros are dropped; all zero means p = 1.
    assert_eq!(wilcoxon_signed_rank(&[0.0, 0.0]), 1.0);
}

#[test]
fn wilcoxon_matches_scipy_exact_and_normal_approximation() {
    // scipy.stats.wilcoxon(d, method="exact").pvalue = 0.65234375
    let small: Vec<f64> = (1..10)
        .map(|i| if i % 3 == 0 { -(i as f64) } else { i as f64 } * 0.5)
        .collect();
    assert!((wilcoxon_signed_rank(&small) - 0.652_343_75).abs() < 1e-9);
    // scipy.stats.wilcoxon(d, method="approx", correction=True).pvalue = 0.06654465496858146
    let large: Vec<f64> = (1..41)
        .map(|i| if i % 3 == 0 { -(i as f64) } else { i as f64 })
        .collect();
    assert!((wilcoxon_signed_rank(&large) - 0.066_544_654_968_581_46).abs() < 1e-6);
}

#[test]
fn holm_adjusts_step_down_and_stays_monotone() {
    let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
    assert_eq!(adj, vec![0.03, 0.06, 0.06, 0.02]);
}

#[test]
fn minimum_detectable_effect_shrinks_with_the_square_root_of_the_pairs() {
    let a = minimum_detectable_effect(1.0, 4);
    let b = minimum_detectable_effect(1.0, 16);
    assert!((a / b - 2.0).abs() < 1e-12);
}

#[test]
fn one_layer_branches_train_bit_identically_to_the_matching_block_mask() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let ds = data::two_spirals::<f32, _>(100, 1.0, 0.05, &mut rng).unwrap();
    let train = |first: Dense<Act>| {
        let mut r = ChaCha8Rng::seed_from_u64(4);
        let mut net: Network<Act> = Network::new(vec![
            first.into(),
            Dense::new(12, 1, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        let cfg = FitConfig {
            epochs: 5,
            batch_size: 16,
            seed: 5,
            shuffle: true,
        };
        Trainer::new(Loss::BceWithLogits, Adam::new(0.01).unwrap(), cfg)
            .unwrap()
            .fit(&mut net, &ds)
            .unwrap();
        let mut w = vec![];
        net.visit_params(&mut |p| w.extend(p.value.iter().map(|v| v.to_bits())));
        w
    };
    let branches = Dense::branches(
        2,
        &[(5, Act::Relu), (7, Act::Tanh)],
        &mut ChaCha8Rng::seed_from_u64(6),
    )
    .unwrap();
    let block: Vec<Act> = [vec![Act::Relu; 5], vec![Act::Tanh; 7]].concat();
    let masked = Dense::per_neuron(2, &block, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    assert_eq!(train(branches), train(masked));
}

/// The suite's results without wall-clock timings, which legitimately vary.
fn tiny_suite(shard: Shard) -> Results {
    let mut r = tiny_suite_timed(shard);
    r.runs.iter_mut().for_each(|x| x.us_per_step = 0.0);
    r
}

fn tiny_suite_timed(shard: Shard) -> Results {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 60), Task::parity(4).unwrap()];
    let configs = vec![
        Config::new(Hidden::Dense(Act::Relu), 1),
        Config::new(Hidden::Dense(Act::Tanh), 1),
        Config::new(Hidden::Interleaved(vec![Act::Relu, Act::Tanh]), 1),
        Config::new(Hidden::Random(vec![Act::Relu, Act::Tanh]), 1),
        Config::new(Hidden::Mixture(vec![Act::Relu, Act::Sin]), 1),
    ];
    let opts = SuiteOptions {
        seeds: vec![0, 1, 2],
        tuning_seeds: vec![10],
        lr_grid: vec![0.01, 0.03],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 3,
        patience: None,
        lr_extensions: 0,
        batch_size: 16,
        base_width: 8,
        workers: 2,
    };
    run_suite(&tasks, &configs, &opts, shard, &|_, _| {}).unwrap()
}

#[test]
fn the_suite_is_reproducible_and_shards_merge_into_the_full_run() {
    let full = tiny_suite(Shard::ALL);
    assert_eq!(full.runs.len(), 2 * 5 * 3);
    assert_eq!(full, tiny_suite(Shard::ALL), "same seeds, same results");
    let mut merged = tiny_suite(Shard { index: 0, count: 3 });
    merged.merge(tiny_suite(Shard { index: 1, count: 3 }));
    merged.merge(tiny_suite(Shard { index: 2, count: 3 }));
    assert_eq!(merged, full);
}

#[test]
fn configurations_are_matched_to_the_same_parameter_budget() {
    let r = tiny_suite(Shard::ALL);
    for x in &r.runs {
        let relu = r
            .runs
            .iter()
            .find(|y| y.config == "relu" && y.task == x.task)
            .unwrap()
            .params as f64;
        assert!(
            (x.params as f64 - relu).abs() / relu < 0.15,
            "{} has {} params vs {relu}",
            x.config,
            x.params
        );
    }
}

#[test]
fn results_survive_a_csv_round_trip() {
    let r = tiny_suite(Shard::ALL);
    let dir = std::env::temp_dir().join(format!("mixact-compare-{}", std::process::id()));
    write_results(&dir, &r).unwrap();
    let back = read_results(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(back.runs.len(), r.runs.len());
    for (a, b) in back.runs.iter().zip(&r.runs) {
        assert_eq!(
            (&a.task, &a.config, a.seed, a.params),
            (&b.task, &b.config, b.seed, b.params)
        );
        assert!(
            a.test_metric == b.test_metric || (a.test_metric.is_nan() && b.test_metric.is_nan())
        );
    }
    assert_eq!(back.curves.len(), r.curves.len());
}

#[test]
fn too_few_seeds_give_no_claim() {
    let a = analyse(&tiny_suite(Shard::ALL));
    assert!(!a.verdicts.is_empty(), "the tiny suite makes comparisons");
    assert!(a
        .verdicts
        .iter()
        .all(|v| v.verdict == mixact_lab::effect::EffectVerdict::Inconclusive));
    assert_eq!(a.baselines.len(), 2);
}

#[test]
fn shard_strings_are_validated() {
    assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
    assert!(Shard::parse("4/4").is_err());
    assert!(Shard::parse("x").is_err());
    assert!(Shard::parse("0/0").is_err());
}

#[test]
fn degenerate_configurations_and_tasks_are_errors_not_panics() {
    let empty_branches = Config::new(Hidden::<Act>::Branches(vec![]), 1);
    assert!(empty_branches.build(2, 1, 8, 0).is_err());
    assert!(Config::new(Hidden::<Act>::Interleaved(vec![]), 1)
        .build(2, 1, 8, 0)
        .is_err());
    assert!(Config::new(Hidden::<Act>::DeepBranches(vec![]), 1)
        .build(2, 1, 8, 0)
        .is_err());
    assert!(Config::new(Hidden::Dense(Act::Relu), 0)
        .build(2, 1, 8, 0)
        .is_err());
    let ds = data::parity::<f32>(3).unwrap();
    assert!(Task::from_dataset("p", Loss::BceWithLogits, ds.clone(), 0.5, 0.6).is_err());
    assert!(Task::from_train_test("p", Loss::BceWithLogits, ds.clone(), ds, 1.5).is_err());
}

#[test]
fn mse_rows_show_the_interval_in_mse_order_and_a_positive_mde() {
    use mixact_lab::{render_markdown, Family, RunRecord};
    let run = |config: &str, family, seed: u64, mse: f64| RunRecord {
        task: "reg".into(),
        metric: Metric::Mse,
        config: config.into(),
        family,
        seed,
        lr: 0.01,
        width: 8,
        params: 100,
        test_metric: mse,
        valid_metric: mse,
        final_loss: mse,
        steps: 10,
        us_per_step: 1.0,
        test_loss: mse,
        epochs_used: 10,
        lr_at_edge: false,
        selection_score: f64::NAN,
    };
    let mut r = Results::default();
    for s in 0..8u64 {
        r.runs
            .push(run("relu", Family::Homogeneous, s, 1.0 + 0.01 * s as f64));
        r.runs.push(run(
            "mask relu+sin",
            Family::Mixed,
            s,
            1.5 + 0.02 * s as f64,
        ));
    }
    let a = analyse(&r);
    let md = render_markdown(&r, &a, "", &[]);
    let row = md
        .lines()
        .rfind(|l| l.starts_with("| mask relu+sin |"))
        .unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // cells: "", config, params, width, lr, mean, delta, ci, p, outcome, mde, ...
    assert!(cells[6].starts_with('+'), "the mixed MSE is higher: {row}");
    let ci: Vec<f64> = cells[7]
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        ci[0] <= ci[1] && ci[0] > 0.0,
        "interval in MSE order: {row}"
    );
    assert!(
        cells[10].parse::<f64>().unwrap() > 0.0,
        "MDE is a magnitude: {row}"
    );
    assert_eq!(cells[9], "loss");
}

#[test]
fn configurations_with_layer_norm_and_dropout_run_in_the_suite() {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 60)];
    let configs = vec![
        Config::new(Hidden::Dense(Act::Relu), 2),
        Config::new(Hidden::Interleaved(vec![Act::Relu, Act::Sin]), 2)
            .with_layer_norm()
            .with_dropout(0.1)
            .unwrap(),
    ];
    let opts = SuiteOptions {
        seeds: vec![0, 1],
        tuning_seeds: vec![10],
        lr_grid: vec![0.01],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 3,
        patience: None,
        lr_extensions: 0,
        batch_size: 16,
        base_width: 8,
        workers: 2,
    };
    let r = run_suite(&tasks, &configs, &opts, Shard::ALL, &|_, _| {}).unwrap();
    let mixed: Vec<_> = r
        .runs
        .iter()
        .filter(|x| x.config == "mask relu+sin +layernorm +dropout0.1")
        .collect();
    assert_eq!(mixed.len(), 2);
    assert!(mixed.iter().all(|x| x.test_metric.is_finite()));
}

#[test]
fn a_csv_task_splits_stratified_and_standardises_on_each_training_part() {
    let dir = std::env::temp_dir().join(format!("mixact-csv-task-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mine.csv");
    let mut text = String::from("f1,f2,label\n");
    for i in 0..60 {
        text += &format!("{},{},{}\n", i as f64 * 10.0, (i % 7) as f64, i % 3);
    }
    std::fs::write(&path, &text).unwrap();
    let task = Task::from_csv(&path, "label", TaskKind::Classification, None).unwrap();
    assert_eq!(task.name(), "mine");
    let split = task.split(4).unwrap();
    assert_eq!(
        (split.train.len(), split.valid.len(), split.test.len()),
        (36, 12, 12)
    );
    for j in 0..2 {
        let mean = split.train.x().column(j).mean();
        assert!(mean.abs() < 1e-5, "training features are centred: {mean}");
    }
    // Too few rows of a class for a stratified split.
    std::fs::write(&path, "f,label\n1,0\n2,0\n3,0\n4,0\n5,0\n6,1\n").unwrap();
    let err = Task::from_csv(&path, "label", TaskKind::Classification, None).unwrap_err();
    assert!(err.to_string().contains("class 1 has 1 rows"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_task_with_a_single_class_is_refused_naming_the_column() {
    let dir = std::env::temp_dir().join(format!("mixact-csv-one-class-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("one.csv");
    let mut text = String::from("f,label\n");
    for i in 0..12 {
        text += &format!("{i},0\n");
    }
    std::fs::write(&path, &text).unwrap();
    let err = Task::from_csv(&path, "label", TaskKind::Classification, None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("\"label\" has a single class") && msg.contains("at least 2"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn unit_suite(shard: Shard, dir: &std::path::Path) -> Results {
    unit_suite_with_seeds(shard, dir, vec![0, 1]).unwrap()
}

fn unit_suite_with_seeds(
    shard: Shard,
    dir: &std::path::Path,
    seeds: Vec<u64>,
) -> mixact::Result<Results> {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40)];
    let configs = vec![
        Config::new(Hidden::Dense(Act::Relu), 1),
        Config::new(Hidden::Dense(Act::Tanh), 1),
        Config::new(Hidden::Interleaved(vec![Act::Relu, Act::Tanh]), 1),
    ];
    let opts = SuiteOptions {
        seeds,
        tuning_seeds: vec![],
        lr_grid: vec![0.01],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 2,
        patience: None,
        lr_extensions: 0,
        batch_size: 16,
        base_width: 8,
        workers: 1,
    };
    mixact_lab::run_suite_into(&tasks, &configs, &opts, shard, Some(dir), &|_, _| {})
}

#[test]
fn a_stored_unit_of_other_seeds_is_an_error_not_reused() {
    let dir = std::env::temp_dir().join(format!("mixact-unit-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    unit_suite(Shard::ALL, &dir);
    let err = unit_suite_with_seeds(Shard::ALL, &dir, vec![0, 1, 2]).unwrap_err();
    assert!(
        err.to_string().contains("seeds [0, 1]") && err.to_string().contains("units"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn rows(r: &Results) -> Vec<String> {
    r.runs
        .iter()
        .map(|x| format!("{}|{}|{}|{}", x.task, x.config, x.seed, x.test_metric))
        .collect()
}

#[test]
fn a_rerun_shard_skips_stored_units_and_a_merge_reports_missing_ones() {
    use mixact_lab::units::merge_dirs;
    let root = std::env::temp_dir().join(format!("mixact-units-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (a, b) = (root.join("a"), root.join("b"));
    unit_suite(Shard { index: 0, count: 2 }, &a);
    let first_b = unit_suite(Shard { index: 1, count: 2 }, &b);
    let full = merge_dirs(&[a.clone(), b.clone()]).unwrap();
    assert!(full.missing.is_empty() && full.duplicates.is_empty());
    assert_eq!(full.units, 3);
    // A killed task: one of its units never stored.
    let units: Vec<_> = std::fs::read_dir(b.join("units")).unwrap().collect();
    let lost = units[0].as_ref().unwrap().path();
    std::fs::remove_dir_all(&lost).unwrap();
    let partial = merge_dirs(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(partial.missing.len(), 1, "{:?}", partial.missing);
    // Rerunning only that shard completes the set with the same rows.
    let again = unit_suite(Shard { index: 1, count: 2 }, &b);
    assert_eq!(rows(&again), rows(&first_b));
    let done = merge_dirs(&[a.clone(), b.clone()]).unwrap();
    assert!(done.missing.is_empty());
    assert_eq!(rows(&done.results), rows(&full.results));
    // The same units in two folders are reported as duplicates, kept once.
    let c = root.join("c");
    unit_suite(Shard { index: 0, count: 2 }, &c);
    let twice = merge_dirs(&[a.clone(), c.clone(), b.clone()]).unwrap();
    assert!(!twice.duplicates.is_empty());
    assert_eq!(rows(&twice.results), rows(&full.results));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_shard_comes_from_slurm_or_kubernetes_or_is_a_clear_error() {
    use mixact_lab::units::shard_from_env;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let slurm = env(&[
        ("SLURM_ARRAY_TASK_ID", "5"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
        ("SLURM_ARRAY_TASK_MIN", "3"),
    ]);
    assert_eq!(
        shard_from_env(slurm, None).unwrap(),
        Shard { index: 2, count: 4 }
    );
    let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
    assert_eq!(
        shard_from_env(k8s, Some(3)).unwrap(),
        Shard { index: 1, count: 3 }
    );
    assert!(shard_from_env(env(&[("JOB_COMPLETION_INDEX", "1")]), None).is_err());
    let none = shard_from_env(env(&[]), None).unwrap_err().to_string();
    assert!(none.contains("SLURM_ARRAY_TASK_ID") && none.contains("JOB_COMPLETION_INDEX"));
}

#[test]
fn units_are_balanced_across_shards_by_cost() {
    use mixact_lab::units::{assign, WorkUnit};
    let units: Vec<WorkUnit> = [8.0, 7.0, 6.0, 5.0, 4.0]
        .iter()
        .enumerate()
        .map(|(i, &c)| WorkUnit {
            id: format!("u{i}"),
            task: 0,
            config: i,
            cost: c,
        })
        .collect();
    let shard_of = assign(&units, 2);
    let load = |s: usize| -> f64 {
        units
            .iter()
            .zip(&shard_of)
            .filter(|(_, &x)| x == s)
            .map(|(u, _)| u.cost)
            .sum()
    };
    // Longest first: 8 | 7, 6 -> 8+5 | 7+6, then 4 -> 8+5+4 = 17 | 13.
    assert_eq!((load(0), load(1)), (17.0, 13.0));
}

#[test]
fn more_shards_than_units_give_each_unit_its_own_shard_without_allocating_per_shard() {
    use mixact_lab::units::{assign, WorkUnit};
    let units: Vec<WorkUnit> = [3.0, 9.0, 3.0]
        .iter()
        .enumerate()
        .map(|(i, &c)| WorkUnit {
            id: format!("u{i}"),
            task: 0,
            config: i,
            cost: c,
        })
        .collect();
    // Longest first, ties by id: u1 -> 0, u0 -> 1, u2 -> 2; the other shards are empty.
    assert_eq!(assign(&units, 5), vec![1, 0, 2]);
    // A shard count from a job's environment may be absurd; it must not allocate per shard.
    assert_eq!(assign(&units, usize::MAX), vec![1, 0, 2]);
    assert_eq!(assign(&[], usize::MAX), Vec::<usize>::new());
}

#[test]
fn the_suite_verdict_is_the_pooled_effects_verdict_not_a_second_rule() {
    use mixact_lab::effect::DEFAULT_MARGIN;
    use mixact_lab::suite_effects::ALL_TASKS;
    let a = analyse(&tiny_suite(Shard::ALL));
    assert!(!a.verdicts.is_empty());
    for v in &a.verdicts {
        let pooled = a
            .effects
            .iter()
            .find(|e| e.task == ALL_TASKS && e.config == v.config)
            .expect("every compared configuration has a pooled effect");
        assert_eq!(
            v.verdict,
            pooled.effect.verdict(DEFAULT_MARGIN),
            "{}",
            v.config
        );
    }
}

/// An activation set of a user's own: the lab's runner, statistics and
/// report are generic over `ActivationSet`, so it compares these layouts
/// as it compares the built-in ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    /// z + sin²(z) (snake).
    Snake,
    /// e^{-z²}.
    Bump,
    /// z, for the output layer (found by its name, "identity").
    Identity,
}

impl mixact::ActivationSet for Own {
    fn value<T: mixact::Real>(self, z: T) -> T {
        match self {
            Own::Snake => z + z.sin() * z.sin(),
            Own::Bump => (-z * z).exp(),
            Own::Identity => z,
        }
    }
    fn derivative<T: mixact::Real>(self, z: T, y: T) -> T {
        match self {
            Own::Snake => T::one() + (z + z).sin(),
            Own::Bump => T::lit(-2.0) * z * y,
            Own::Identity => T::one(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Own::Snake => "snake",
            Own::Bump => "bump",
            Own::Identity => "identity",
        }
    }
    fn from_name(name: &str) -> Option<Self> {
        [Own::Snake, Own::Bump, Own::Identity]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

#[test]
fn the_suite_compares_layouts_of_an_activation_set_of_your_own() {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 60)];
    let configs = vec![
        Config::new(Hidden::Dense(Own::Snake), 1),
        Config::new(Hidden::Dense(Own::Bump), 1),
        Config::new(Hidden::Interleaved(vec![Own::Snake, Own::Bump]), 1),
    ];
    let opts = SuiteOptions {
        seeds: vec![0, 1, 2],
        tuning_seeds: vec![10],
        lr_grid: vec![0.01],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 3,
        patience: None,
        lr_extensions: 0,
        batch_size: 16,
        base_width: 8,
        workers: 2,
    };
    let results = run_suite(&tasks, &configs, &opts, Shard::ALL, &|_, _| {}).unwrap();
    let names: std::collections::BTreeSet<&str> =
        results.runs.iter().map(|r| r.config.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(
        results.runs.len(),
        3 * 3,
        "three layouts x three scored seeds"
    );
    assert!(results.runs.iter().all(|r| r.test_metric.is_finite()));
    let analysis = analyse(&results);
    assert!(!analysis.comparisons.is_empty());
}
