//! What the suite produces: one record per run, loss curves, output
//! surfaces and activation-group statistics, and their summaries.

use super::config::Family;
use super::metric::Metric;

/// One training run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Task name.
    pub task: String,
    /// The metric the run is scored by.
    pub metric: Metric,
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
    /// Test loss (log-loss for classification, MSE for regression; NaN if
    /// training diverged or the file predates the column).
    pub test_loss: f64,
    /// Epochs trained (early stopping may end a run before its budget).
    pub epochs_used: usize,
    /// The chosen learning rate sat at an edge of the grid after every
    /// allowed extension: the optimum may lie beyond it.
    pub lr_at_edge: bool,
    /// Mean validation score on the selection (tuning) seeds at the chosen
    /// rate: what baselines are chosen by, never the scored seeds' results.
    /// NaN without selection seeds.
    pub selection_score: f64,
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
                .any(|r| r.task == t && r.metric == Metric::Accuracy)
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
