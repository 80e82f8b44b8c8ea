//! Running the suite: every configuration on every task over paired seeds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use nalgebra::DMatrix;

use super::config::{Config, Family};
use super::task::{PlotKind, Task};
use crate::activation::ActivationSet;
use crate::dense::Dense;
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::loss::Loss;
use crate::network::Network;
use crate::optim::Adam;
use crate::train::{evaluate, FitConfig, Trainer};

/// How the suite trains and how many runs it makes.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Seeds of the reported runs. A seed fixes the data split, the batch
    /// order and the initial weights (where shapes match): runs are paired by seed.
    pub seeds: Vec<u64>,
    /// Seeds used only to choose the learning rate on validation data
    /// (disjoint from `seeds`); empty means "use `lr_grid[0]`".
    pub tuning_seeds: Vec<u64>,
    /// Candidate Adam learning rates.
    pub lr_grid: Vec<f64>,
    /// Training epochs per run.
    pub epochs: usize,
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

/// One training run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Task name.
    pub task: String,
    /// "accuracy" (higher is better) or "mse" (lower is better).
    pub metric: String,
    /// Configuration name.
    pub config: String,
    /// Its family.
    pub family: Family,
    /// The seed.
    pub seed: u64,
    /// Learning rate used.
    pub lr: f64,
    /// Hidden width.
    pub width: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Test metric (NaN if training diverged).
    pub test_metric: f64,
    /// Validation metric (NaN if training diverged).
    pub valid_metric: f64,
    /// Training loss of the last epoch.
    pub final_loss: f64,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Wall time per step, microseconds.
    pub us_per_step: f64,
}

/// Training loss of one epoch of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Task name.
    pub task: String,
    /// Configuration name.
    pub config: String,
    /// The seed.
    pub seed: u64,
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
}

/// A trained network's output at one input point (first seed only):
/// a probability on a 2-D grid, or a prediction along a 1-D interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SurfacePoint {
    /// Task name.
    pub task: String,
    /// Configuration name.
    pub config: String,
    /// First input.
    pub x: f64,
    /// Second input (0 for 1-D tasks).
    pub y: f64,
    /// The output.
    pub value: f64,
}

/// What one activation group of one hidden layer of a mixed network does.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStat {
    /// Task name.
    pub task: String,
    /// Configuration name.
    pub config: String,
    /// The seed.
    pub seed: u64,
    /// Hidden layer index.
    pub layer: usize,
    /// The group's activation.
    pub activation: String,
    /// Neurons in the group.
    pub neurons: usize,
    /// Fraction of (neuron, test sample) pairs where |f'(z)| < 0.01: dead or saturated.
    pub flat_fraction: f64,
    /// How much the test score drops when the group's outputs are zeroed
    /// (accuracy points, or increase in MSE).
    pub ablation_drop: f64,
}

/// Everything a suite run (or several merged shards) produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// One row per task × configuration × seed.
    pub runs: Vec<RunRecord>,
    /// Learning curves.
    pub curves: Vec<CurvePoint>,
    /// Decision regions and fitted curves.
    pub surfaces: Vec<SurfacePoint>,
    /// Per-activation-group statistics of mixed networks.
    pub groups: Vec<GroupStat>,
}

/// One activation group of one configuration, summarised over tasks, seeds and layers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    /// Configuration name.
    pub config: String,
    /// The group's activation.
    pub activation: String,
    /// Mean neurons per layer in the group.
    pub neurons: f64,
    /// Mean flat (dead or saturated) fraction, over all tasks.
    pub flat_fraction: f64,
    /// Mean accuracy drop (a fraction) when the group is zeroed, over the classification tasks.
    pub accuracy_drop: f64,
}

impl Results {
    /// The activation groups of the mixed networks, summarised: what the
    /// report's table and the group plot show.
    pub fn group_summaries(&self) -> Vec<GroupSummary> {
        let accuracy_task = |t: &str| {
            self.runs
                .iter()
                .any(|r| r.task == t && r.metric == "accuracy")
        };
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for g in &self.groups {
            if !keys.contains(&(g.config.as_str(), g.activation.as_str())) {
                keys.push((&g.config, &g.activation));
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        keys.into_iter()
            .map(|(c, a)| {
                let gs: Vec<&GroupStat> = self
                    .groups
                    .iter()
                    .filter(|g| g.config == c && g.activation == a)
                    .collect();
                let drops: Vec<f64> = gs
                    .iter()
                    .filter(|g| accuracy_task(&g.task))
                    .map(|g| g.ablation_drop)
                    .collect();
                GroupSummary {
                    config: c.to_string(),
                    activation: a.to_string(),
                    neurons: mean(&gs.iter().map(|g| g.neurons as f64).collect::<Vec<_>>()),
                    flat_fraction: mean(&gs.iter().map(|g| g.flat_fraction).collect::<Vec<_>>()),
                    accuracy_drop: mean(&drops),
                }
            })
            .collect()
    }

    /// Puts rows in a canonical order (so merged shards equal one full run).
    pub fn sort(&mut self) {
        let key = |t: &str, c: &str| (t.to_string(), c.to_string());
        self.runs.sort_by(|a, b| {
            (key(&a.task, &a.config), a.seed).cmp(&(key(&b.task, &b.config), b.seed))
        });
        self.curves.sort_by(|a, b| {
            (key(&a.task, &a.config), a.seed, a.epoch).cmp(&(
                key(&b.task, &b.config),
                b.seed,
                b.epoch,
            ))
        });
        self.surfaces.sort_by(|a, b| {
            key(&a.task, &a.config)
                .cmp(&key(&b.task, &b.config))
                .then(a.x.total_cmp(&b.x))
                .then(a.y.total_cmp(&b.y))
        });
        self.groups.sort_by(|a, b| {
            (
                key(&a.task, &a.config),
                a.seed,
                a.layer,
                a.activation.clone(),
            )
                .cmp(&(
                    key(&b.task, &b.config),
                    b.seed,
                    b.layer,
                    b.activation.clone(),
                ))
        });
    }

    /// Appends another result set (a shard).
    pub fn merge(&mut self, other: Results) {
        self.runs.extend(other.runs);
        self.curves.extend(other.curves);
        self.surfaces.extend(other.surfaces);
        self.groups.extend(other.groups);
        self.sort();
    }
}

fn score(metric: &str, value: f64) -> f64 {
    if metric == "mse" {
        -value
    } else {
        value
    }
}

fn metric_of(m: crate::train::Metrics, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => m.loss,
        _ => m.accuracy.unwrap_or(f64::NAN),
    }
}

/// Zeroes rows `rows` of the first weight tensor of `layer`, runs `f`, restores them.
fn with_rows_zeroed<A: ActivationSet, R>(
    net: &mut Network<A, f32>,
    layer: usize,
    rows: &[usize],
    f: impl FnOnce(&mut Network<A, f32>) -> R,
) -> R {
    let inputs = net.layers()[layer].input_width();
    let mut saved = Vec::new();
    let mut first = true;
    net.layers_mut()[layer].visit_params(&mut |p| {
        if std::mem::take(&mut first) {
            for (k, v) in p.value.iter_mut().enumerate() {
                if rows.contains(&(k % inputs)) {
                    saved.push((k, *v));
                    *v = 0.0;
                }
            }
        }
    });
    let out = f(net);
    let mut first = true;
    net.layers_mut()[layer].visit_params(&mut |p| {
        if std::mem::take(&mut first) {
            for &(k, v) in &saved {
                p.value[k] = v;
            }
        }
    });
    out
}

fn group_stats<A: ActivationSet>(
    net: &mut Network<A, f32>,
    task: &Task,
    config: &str,
    seed: u64,
    test: &crate::data::Dataset,
    base_score: f64,
) -> Result<Vec<GroupStat>> {
    let mut out = Vec::new();
    let hidden = net.layers().len() - 1;
    net.predict(test.x())?;
    for l in 0..hidden {
        let layer: &dyn std::any::Any = net.layers()[l].as_ref();
        let Some(dense) = layer.downcast_ref::<Dense<A, f32>>() else {
            continue;
        };
        let mask = dense.mask().to_vec();
        let mut groups: Vec<A> = Vec::new();
        for &a in &mask {
            if !groups.contains(&a) {
                groups.push(a);
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let input: DMatrix<f32> = if l == 0 {
            test.x().clone()
        } else {
            net.layers()[l - 1].output().into_owned()
        };
        let z = &input * dense.weight();
        let bias = dense.bias();
        let mut stats = Vec::new();
        for &g in &groups {
            let members: Vec<usize> = (0..mask.len()).filter(|&j| mask[j] == g).collect();
            let mut flat = 0usize;
            for &j in &members {
                for i in 0..z.nrows() {
                    let zi = z[(i, j)] + bias[j];
                    if g.derivative(zi, g.value(zi)).abs() < 0.01 {
                        flat += 1;
                    }
                }
            }
            stats.push((g, members, flat as f64 / (z.nrows() as f64)));
        }
        for (g, members, flat_per_sample) in stats {
            let ablated =
                with_rows_zeroed(net, l + 1, &members, |n| evaluate(n, test, task.loss()))?;
            let drop = base_score - score(task.metric_name(), metric_of(ablated, task.loss()));
            out.push(GroupStat {
                task: task.name().into(),
                config: config.into(),
                seed,
                layer: l,
                activation: g.name().into(),
                neurons: members.len(),
                flat_fraction: flat_per_sample / members.len() as f64,
                ablation_drop: drop,
            });
        }
        net.predict(test.x())?;
    }
    Ok(out)
}

fn surfaces<A: ActivationSet>(
    net: &mut Network<A, f32>,
    task: &Task,
    config: &str,
) -> Result<Vec<SurfacePoint>> {
    let point = |x: f64, y: f64, value: f64| SurfacePoint {
        task: task.name().into(),
        config: config.into(),
        x,
        y,
        value,
    };
    match task.plot() {
        PlotKind::Regions2d => {
            let n = 64;
            let coord = |i: usize| -1.2 + 2.4 * i as f64 / (n - 1) as f64;
            let x = DMatrix::from_fn(n * n, 2, |k, c| {
                if c == 0 {
                    coord(k % n) as f32
                } else {
                    coord(k / n) as f32
                }
            });
            let y = net.predict(&x)?;
            Ok((0..n * n)
                .map(|k| {
                    point(
                        coord(k % n),
                        coord(k / n),
                        1.0 / (1.0 + (-(y[(k, 0)] as f64)).exp()),
                    )
                })
                .collect())
        }
        PlotKind::Curve1d { range_centi } => {
            let r = range_centi as f64 / 100.0;
            let n = 200;
            let xs: Vec<f64> = (0..n)
                .map(|i| -r + 2.0 * r * i as f64 / (n - 1) as f64)
                .collect();
            let x = DMatrix::from_fn(n, 1, |i, _| xs[i] as f32);
            let y = net.predict(&x)?;
            Ok(xs
                .iter()
                .enumerate()
                .map(|(i, &v)| point(v, 0.0, y[(i, 0)] as f64))
                .collect())
        }
        PlotKind::None => Ok(Vec::new()),
    }
}

struct Unit<'a, A> {
    task: &'a Task,
    config: &'a Config<A>,
}

fn train_once<A: ActivationSet>(
    unit: &Unit<'_, A>,
    opts: &SuiteOptions,
    width: usize,
    lr: f64,
    seed: u64,
    detail: bool,
    out: &mut Results,
) -> Result<RunRecord> {
    let (task, config) = (unit.task, unit.config);
    let split = task.split(seed)?;
    let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
    let mut net = config.build(inputs, outputs, width, seed)?;
    let epochs = task.epochs().unwrap_or(opts.epochs);
    let fit = FitConfig {
        epochs,
        batch_size: opts.batch_size,
        seed,
        shuffle: true,
    };
    let mut trainer = Trainer::new(task.loss(), Adam::new(lr as f32)?, fit)?;
    let start = Instant::now();
    let history = trainer.fit(&mut net, &split.train);
    let seconds = start.elapsed().as_secs_f64();
    let steps = epochs * split.train.len().div_ceil(opts.batch_size);
    let metric = task.metric_name().to_string();
    let mut record = RunRecord {
        task: task.name().into(),
        metric: metric.clone(),
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
        us_per_step: seconds * 1e6 / steps.max(1) as f64,
    };
    let history = match history {
        Ok(h) => h,
        Err(Error::Diverged { .. }) => return Ok(record),
        Err(e) => return Err(e),
    };
    record.final_loss = history.last().map_or(f64::NAN, |s| s.train.loss);
    record.valid_metric = metric_of(evaluate(&mut net, &split.valid, task.loss())?, task.loss());
    record.test_metric = metric_of(evaluate(&mut net, &split.test, task.loss())?, task.loss());
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
            let base = score(&metric, record.test_metric);
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
    Ok(record)
}

fn run_unit<A: ActivationSet>(
    unit: &Unit<'_, A>,
    opts: &SuiteOptions,
    budget: usize,
) -> Result<Results> {
    let split = unit.task.split(opts.seeds[0])?;
    let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
    let width = unit.config.width_for(inputs, outputs, budget)?;
    let mut scratch = Results::default();
    let lr = if opts.tuning_seeds.is_empty() || opts.lr_grid.len() < 2 {
        opts.lr_grid[0]
    } else {
        let mut best = (f64::NEG_INFINITY, opts.lr_grid[0]);
        for &lr in &opts.lr_grid {
            let mut total = 0.0;
            for &s in &opts.tuning_seeds {
                let r = train_once(unit, opts, width, lr, s, false, &mut scratch)?;
                let v = score(&r.metric, r.valid_metric);
                total += if v.is_nan() { f64::NEG_INFINITY } else { v };
            }
            if total > best.0 {
                best = (total, lr);
            }
        }
        best.1
    };
    let mut out = Results::default();
    for &seed in &opts.seeds {
        let r = train_once(unit, opts, width, lr, seed, true, &mut out)?;
        out.runs.push(r);
    }
    Ok(out)
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
    for (zero, what) in [
        (opts.epochs == 0, "epochs"),
        (opts.batch_size == 0, "batch size"),
        (opts.workers == 0, "workers"),
        (opts.base_width == 0, "base width"),
    ] {
        if zero {
            return Err(Error::ZeroWidth { what });
        }
    }
    for &lr in &opts.lr_grid {
        crate::error::check_hyper("learning rate", lr, lr > 0.0, "finite and > 0")?;
    }
    let budgets: Vec<usize> = tasks
        .iter()
        .map(|t| budget(t, configs, opts))
        .collect::<Result<_>>()?;
    let units: Vec<(usize, Unit<'_, A>)> = tasks
        .iter()
        .enumerate()
        .flat_map(|(ti, task)| {
            configs
                .iter()
                .map(move |config| (ti, Unit { task, config }))
        })
        .enumerate()
        .filter(|(k, _)| k % shard.count == shard.index)
        .map(|(_, u)| u)
        .collect();
    let total = units.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let collected: Mutex<Vec<Result<Results>>> = Mutex::new(Vec::new());
    progress(0, total);
    std::thread::scope(|s| {
        for _ in 0..opts.workers.min(total.max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some((ti, unit)) = units.get(k) else {
                    break;
                };
                let r = run_unit(unit, opts, budgets[*ti]);
                collected.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                progress(done.fetch_add(1, Ordering::SeqCst) + 1, total);
            });
        }
    });
    let mut results = Results::default();
    for r in collected.into_inner().unwrap_or_else(|e| e.into_inner()) {
        results.merge(r?);
    }
    results.sort();
    Ok(results)
}
