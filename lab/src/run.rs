//! Running the suite: every configuration on every task over paired seeds.

use std::path::Path;
use std::time::Instant;

use super::config::{Config, Family};
use super::files::read_results;
use super::probes::{group_stats, metric_of, surfaces};
use super::results::{CurvePoint, Results, RunRecord};
use super::store::{check_stored_seeds, execute, resume_or_run};
use super::task::Task;
use super::units::{assign, store_unit, unit_dir, write_manifest, WorkUnit};
use mixact::ActivationSet;
use mixact::Ensemble;
use mixact::Layer;
use mixact::{evaluate, EarlyStopping, FitConfig, Monitor, Trainer};
use mixact::{Error, Result};

/// The most steps the learning-rate grid may grow per side.
pub const MAX_LR_EXTENSIONS: usize = 20;

/// How the suite trains and how many runs it makes.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Seeds of the reported runs. A seed fixes the data split, the batch
    /// order and the initial weights (where shapes match): runs are paired by seed.
    pub seeds: Vec<u64>,
    /// Seeds used only to choose the learning rate on validation data
    /// (disjoint from `seeds`); empty means "use `lr_grid[0]`".
    pub tuning_seeds: Vec<u64>,
    /// Candidate learning rates.
    pub lr_grid: Vec<f64>,
    /// The optimiser every run trains with (Adam by default).
    pub optimiser: crate::Optimiser,
    /// Training epochs per run: the budget, when `patience` stops runs early.
    pub epochs: usize,
    /// Validation early stopping: stop after this many epochs without a
    /// lower validation loss and keep the best epoch's weights. `None`
    /// trains every epoch of the budget and keeps the last.
    pub patience: Option<usize>,
    /// How many times the learning-rate grid may grow by one step beyond an
    /// edge when the best rate sits there (each side; a grid step is the
    /// ratio of its first two rates). Bounded so a task whose score keeps
    /// rising does not run forever; runs whose rate is still at the edge
    /// say so (`lr_at_edge`).
    pub lr_extensions: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Hidden width of the reference configuration (the first homogeneous one):
    /// its parameter count is the budget every configuration is matched to.
    pub base_width: usize,
    /// Worker threads (runs are independent; results do not depend on this).
    pub workers: usize,
}

/// Which part of the runs this process makes: pairs (task, configuration)
/// with `index % count == shard.index` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index, below `count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// All runs.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `"i/n"` (0-based `i < n`).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Format {
            location: "shard".into(),
            message: format!("\"{s}\" is not of the form i/n with 0 <= i < n"),
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

struct Unit<'a, A> {
    task: &'a Task,
    config: &'a Config<A>,
}

/// Trains `unit` at (`width`, `lr`) once per seed, all seeds as one
/// [`Ensemble`] (each member bit-identical to a solo fit with its seed), and
/// returns one record per seed, in order. With `detail`, curves, decision
/// surfaces (first seed of the suite) and activation-group probes go to `out`.
fn train_seeds<A: ActivationSet>(
    unit: &Unit<'_, A>,
    opts: &SuiteOptions,
    width: usize,
    rate: Rate,
    seeds: &[u64],
    detail: bool,
    out: &mut Results,
) -> Result<Vec<RunRecord>> {
    let (task, config) = (unit.task, unit.config);
    let lr = rate.lr;
    let epochs = task.epochs().unwrap_or(opts.epochs);
    let health = rate.tuning.unwrap_or(Tuning {
        at_edge: false,
        selection_score: f64::NAN,
    });
    let mut splits = Vec::with_capacity(seeds.len());
    let mut members = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let split = task.split(seed)?;
        let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
        let net = config.build(inputs, outputs, width, seed)?;
        let fit = FitConfig {
            epochs,
            batch_size: opts.batch_size,
            seed,
            shuffle: true,
        };
        let mut trainer = Trainer::new(task.loss(), opts.optimiser.make(lr)?, fit)?;
        if let Some(patience) = task.patience().or(opts.patience) {
            trainer = trainer
                .with_validation(split.valid.clone())
                .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, patience));
        }
        members.push((net, trainer));
        splits.push(split);
    }
    let mut ensemble = Ensemble::new(members)?;
    let train: Vec<_> = splits.iter().map(|s| &s.train).collect();
    let start = Instant::now();
    let outcomes = ensemble.fit_each(&train)?;
    let seconds = start.elapsed().as_secs_f64();
    let ran = |o: &Result<Vec<mixact::EpochStats>>| o.as_ref().map_or(epochs, Vec::len);
    let member_steps: usize = splits
        .iter()
        .zip(&outcomes)
        .map(|(s, o)| ran(o) * s.train.len().div_ceil(opts.batch_size))
        .sum();
    let metric = task.metric();
    let mut records = Vec::with_capacity(seeds.len());
    let members = ensemble.into_members();
    for (((&seed, split), (mut net, _)), history) in
        seeds.iter().zip(&splits).zip(members).zip(outcomes)
    {
        let epochs_used = ran(&history);
        let steps = epochs_used * split.train.len().div_ceil(opts.batch_size);
        let mut record = RunRecord {
            task: task.name().into(),
            metric,
            config: config.name.clone(),
            family: config.family(),
            seed,
            lr,
            width,
            params: net.param_count(),
            test_metric: f64::NAN,
            valid_metric: f64::NAN,
            final_loss: f64::NAN,
            steps,
            // Wall time of the ensemble's fit per member-step.
            us_per_step: seconds * 1e6 / member_steps.max(1) as f64,
            test_loss: f64::NAN,
            epochs_used,
            lr_at_edge: health.at_edge,
            selection_score: health.selection_score,
        };
        let history = match history {
            Ok(h) => h,
            Err(Error::Diverged { .. }) => {
                records.push(record);
                continue;
            }
            Err(e) => return Err(e),
        };
        record.final_loss = history.last().map_or(f64::NAN, |s| s.train.loss);
        // Finite parameters can still overflow on held-out inputs; such a
        // score is recorded as NaN, as a diverged run's is, so the results
        // file stays one that `merge` accepts (it refuses an infinite MSE).
        record.valid_metric = finite_or_nan(metric_of(
            evaluate(&mut net, &split.valid, task.loss())?,
            task.loss(),
        ));
        let test = evaluate(&mut net, &split.test, task.loss())?;
        record.test_loss = finite_or_nan(test.loss);
        record.test_metric = finite_or_nan(metric_of(test, task.loss()));
        if detail {
            out.curves.extend(history.iter().map(|s| CurvePoint {
                task: task.name().into(),
                config: config.name.clone(),
                seed,
                epoch: s.epoch,
                loss: s.train.loss,
            }));
            if seed == opts.seeds[0] {
                out.surfaces.extend(surfaces(&mut net, task, &config.name)?);
            }
            if config.family() == Family::Mixed {
                let base = metric.score(record.test_metric);
                out.groups.extend(group_stats(
                    &mut net,
                    task,
                    &config.name,
                    seed,
                    &split.test,
                    base,
                )?);
            }
        }
        records.push(record);
    }
    Ok(records)
}

fn run_unit<A: ActivationSet>(
    unit: &Unit<'_, A>,
    opts: &SuiteOptions,
    budget: usize,
) -> Result<Results> {
    let split = unit.task.split(opts.seeds[0])?;
    let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
    let width = unit.config.width_for(inputs, outputs, budget)?;
    tuned_runs(unit.task, unit.config, opts, width, true)
}

/// `config` on `task` at hidden width `width`: the learning rate tuned on
/// the tuning seeds' validation scores (when there are tuning seeds and a
/// grid), then one run per seed. `detail` adds curves and probes.
pub(crate) fn tuned_runs<A: ActivationSet>(
    task: &Task,
    config: &Config<A>,
    opts: &SuiteOptions,
    width: usize,
    detail: bool,
) -> Result<Results> {
    let unit = &Unit { task, config };
    let tuning = if opts.tuning_seeds.is_empty() || opts.lr_grid.len() < 2 {
        None
    } else {
        Some(tune_lr(unit, opts, width)?)
    };
    let (lr, health) = match tuning {
        Some((lr, t)) => (lr, Some(t)),
        None => (opts.lr_grid[0], None),
    };
    let mut out = Results::default();
    let rate = Rate { lr, tuning: health };
    let runs = train_seeds(unit, opts, width, rate, &opts.seeds, detail, &mut out)?;
    out.runs.extend(runs);
    Ok(out)
}

/// The learning rate a run trains at, and what tuning found about it
/// (`None` while tuning, or for a fixed rate).
#[derive(Debug, Clone, Copy)]
struct Rate {
    lr: f64,
    tuning: Option<Tuning>,
}

/// What tuning found beside the rate: whether it sat at the final grid's
/// edge, and its mean validation score on the selection seeds.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    at_edge: bool,
    selection_score: f64,
}

/// The learning rate with the best mean validation score on the tuning
/// seeds. When the best rate is the grid's smallest or largest, the grid
/// grows by one step on that side (up to `opts.lr_extensions` times per
/// side), so the chosen rate brackets an optimum whenever the bound allows.
fn tune_lr<A: ActivationSet>(
    unit: &Unit<'_, A>,
    opts: &SuiteOptions,
    width: usize,
) -> Result<(f64, Tuning)> {
    let mut scratch = Results::default();
    let mut grid = opts.lr_grid.clone();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let step = if grid.len() >= 2 {
        grid[1] / grid[0]
    } else {
        10f64.sqrt()
    };
    let mut score_of = |lr: f64| -> Result<f64> {
        let runs = train_seeds(
            unit,
            opts,
            width,
            Rate { lr, tuning: None },
            &opts.tuning_seeds,
            false,
            &mut scratch,
        )?;
        let mut total = 0.0;
        for r in &runs {
            let v = r.metric.score(r.valid_metric);
            total += if v.is_nan() { f64::NEG_INFINITY } else { v };
        }
        Ok(total / runs.len().max(1) as f64)
    };
    let mut scores: Vec<f64> = Vec::with_capacity(grid.len());
    for &lr in &grid {
        scores.push(score_of(lr)?);
    }
    let (mut below, mut above) = (0, 0);
    loop {
        // First best on ties: the smaller rate.
        let best = (0..grid.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
        if best == 0 && below < opts.lr_extensions {
            below += 1;
            let lr = grid[0] / step;
            scores.insert(0, score_of(lr)?);
            grid.insert(0, lr);
        } else if best == grid.len() - 1 && above < opts.lr_extensions {
            above += 1;
            let lr = grid[best] * step;
            scores.push(score_of(lr)?);
            grid.push(lr);
        } else {
            let at_edge = best == 0 || best == grid.len() - 1;
            return Ok((
                grid[best],
                Tuning {
                    at_edge,
                    selection_score: scores[best],
                },
            ));
        }
    }
}

/// The learning-rate settings every mode checks before training: finite
/// positive rates, and a bounded number of grid extensions.
pub(crate) fn check_rates(opts: &SuiteOptions) -> Result<()> {
    for &lr in &opts.lr_grid {
        crate::check_hyper("learning rate", lr, lr > 0.0, "finite and > 0")?;
    }
    // Each extension is a grid step (about x3): 20 per side already spans
    // 10^9; beyond that a rate would underflow or overflow after hours of runs.
    crate::check_hyper(
        "learning-rate grid extensions",
        opts.lr_extensions as f64,
        opts.lr_extensions <= MAX_LR_EXTENSIONS,
        "at most 20 per side",
    )
}

/// `v`, or NaN when it is infinite: every reader of stored scores treats a
/// non-finite score as a failed run, and the stores refuse infinities.
pub(crate) fn finite_or_nan(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

/// Every run trains at least one epoch: a task's own epoch count of 0
/// would score untrained networks as if they were results.
pub(crate) fn check_epochs(tasks: &[Task], opts: &SuiteOptions) -> Result<()> {
    if opts.epochs == 0 || tasks.iter().any(|t| t.epochs() == Some(0)) {
        return Err(Error::ZeroWidth { what: "epochs" });
    }
    Ok(())
}

/// The parameter budget of `task`: the first homogeneous configuration at `base_width`.
fn budget<A: ActivationSet>(
    task: &Task,
    configs: &[Config<A>],
    opts: &SuiteOptions,
) -> Result<usize> {
    let reference = configs
        .iter()
        .find(|c| c.family() == Family::Homogeneous)
        .ok_or(Error::Empty {
            what: "homogeneous configurations (the baselines)",
        })?;
    let split = task.split(opts.seeds[0])?;
    let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
    Ok(reference
        .build(inputs, outputs, opts.base_width, 0)?
        .param_count())
}

/// The suite's work units, in plan order (see [`units`](super::units)).
///
/// # Errors
/// As [`run_suite`].
pub fn plan_units<A: ActivationSet>(
    tasks: &[Task],
    configs: &[Config<A>],
    opts: &SuiteOptions,
) -> Result<Vec<WorkUnit>> {
    if opts.seeds.is_empty() {
        return Err(Error::Empty { what: "seeds" });
    }
    let mut units = Vec::new();
    for (ti, task) in tasks.iter().enumerate() {
        let split = task.split(opts.seeds[0])?;
        let samples = split.train.len() as f64;
        let epochs = task.epochs().unwrap_or(opts.epochs) as f64;
        let budget = budget(task, configs, opts)? as f64;
        let tuning = if opts.tuning_seeds.is_empty() || opts.lr_grid.len() < 2 {
            0
        } else {
            opts.tuning_seeds.len() * opts.lr_grid.len()
        };
        let runs = (opts.seeds.len() + tuning) as f64;
        for (ci, config) in configs.iter().enumerate() {
            units.push(WorkUnit {
                id: format!("{}/{}", task.name(), config.name),
                task: ti,
                config: ci,
                cost: samples * epochs * runs * budget,
            });
        }
    }
    Ok(units)
}

/// Runs every (task, configuration) pair of `shard` over all seeds, on
/// `opts.workers` threads, calling `progress(done, total)` as pairs finish.
///
/// # Errors
/// [`Error::Empty`] without tasks, configurations, seeds, learning rates or a
/// homogeneous configuration; [`Error::ZeroWidth`] for zero epochs, batch
/// size or workers; any error of a task's data source.
pub fn run_suite<A: ActivationSet>(
    tasks: &[Task],
    configs: &[Config<A>],
    opts: &SuiteOptions,
    shard: Shard,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Results> {
    run_suite_into(tasks, configs, opts, shard, None, progress)
}

/// [`run_suite`], storing each unit's results under `dir` as soon as it
/// finishes (with the suite's `manifest.csv`), and skipping units already
/// stored there by an earlier, interrupted run of the same shard.
///
/// # Errors
/// As [`run_suite`]; [`Error::Io`] when `dir` cannot be written.
pub fn run_suite_into<A: ActivationSet>(
    tasks: &[Task],
    configs: &[Config<A>],
    opts: &SuiteOptions,
    shard: Shard,
    dir: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Results> {
    for (empty, what) in [
        (tasks.is_empty(), "tasks"),
        (configs.is_empty(), "configurations"),
        (opts.seeds.is_empty(), "seeds"),
        (opts.lr_grid.is_empty(), "learning-rate grid"),
    ] {
        if empty {
            return Err(Error::Empty { what });
        }
    }
    check_epochs(tasks, opts)?;
    for (zero, what) in [
        (opts.batch_size == 0, "batch size"),
        (opts.workers == 0, "workers"),
        (opts.base_width == 0, "base width"),
    ] {
        if zero {
            return Err(Error::ZeroWidth { what });
        }
    }
    check_rates(opts)?;
    let budgets: Vec<usize> = tasks
        .iter()
        .map(|t| budget(t, configs, opts))
        .collect::<Result<_>>()?;
    let plan = plan_units(tasks, configs, opts)?;
    let shard_of = assign(&plan, shard.count);
    if let Some(d) = dir {
        write_manifest(d, &plan, &shard_of)?;
    }
    let mine: Vec<&WorkUnit> = plan
        .iter()
        .zip(&shard_of)
        .filter(|&(_, &s)| s == shard.index)
        .map(|(w, _)| w)
        .collect();
    let per_unit = execute(&mine, opts.workers, progress, |w| {
        let unit = Unit {
            task: &tasks[w.task],
            config: &configs[w.config],
        };
        let path = dir.map(|d| unit_dir(d, w));
        resume_or_run(
            path.as_deref(),
            |p| {
                let stored = read_results(p)?;
                check_stored_seeds(p, stored.runs.iter().map(|r| r.seed), &opts.seeds)?;
                Ok(stored)
            },
            || run_unit(&unit, opts, budgets[w.task]),
            store_unit,
        )
    });
    let mut results = Results::default();
    for r in per_unit {
        results.merge(r?);
    }
    results.sort();
    Ok(results)
}
