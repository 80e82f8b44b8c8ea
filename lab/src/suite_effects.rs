//! The suite's effect sizes: every configuration's test-error ratio to its
//! task's baseline, per task and pooled over tasks, with the interval and
//! verdict rule of [`effect`](crate::effect).
//!
//! Families, declared before any run: the **primary** family is every fixed
//! mix (family `mixed`) against the baseline, per task; Holm runs within it.
//! Learned mixes, controls and the other single activations form a
//! **secondary** family with its own Holm correction. Pooled rows (all
//! tasks) resample seeds jointly across tasks, since a seed fixes the split
//! of every task.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::Family;
use crate::effect::{error_of, error_ratio, ErrorRatio, PairedCell, DEFAULT_MARGIN};
use crate::report::ALPHA;
use crate::results::Results;
use crate::stats::holm;

/// "all tasks" in the `task` column of pooled rows.
pub const ALL_TASKS: &str = "all tasks";

/// One configuration against the baseline, on one task or pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteEffect {
    /// The task, or [`ALL_TASKS`].
    pub task: String,
    /// The configuration.
    pub config: String,
    /// Its family.
    pub family: Family,
    /// The baseline it is compared with ("per task" when pooled).
    pub baseline: String,
    /// Its test-error ratio to the baseline.
    pub effect: ErrorRatio,
    /// Its test-loss ratio (log-loss for classification, MSE for
    /// regression), when both have test losses.
    pub loss_effect: Option<ErrorRatio>,
    /// Holm-adjusted p within its family (per-task rows; pooled rows keep
    /// their own p).
    pub p_holm: f64,
    /// True for the primary family (fixed mixes).
    pub primary: bool,
}

/// One task's paired errors (or losses) of `config` against `baseline`.
fn paired(
    results: &Results,
    task: &str,
    config: &str,
    baseline: &str,
    value: impl Fn(&crate::RunRecord) -> f64,
) -> PairedCell {
    let base: BTreeMap<u64, f64> = results
        .runs
        .iter()
        .filter(|r| r.task == task && r.config == baseline)
        .map(|r| (r.seed, value(r)))
        .collect();
    let mut cell = PairedCell::default();
    for r in results
        .runs
        .iter()
        .filter(|r| r.task == task && r.config == config)
    {
        if let Some(&b) = base.get(&r.seed) {
            cell.seeds.push(r.seed);
            cell.layout.push(value(r));
            cell.baseline.push(b);
        }
    }
    cell
}

/// Every mixed, learned and control configuration against each task's
/// baseline, per task and pooled over the tasks (in first-appearance order
/// of the configurations).
pub fn suite_effects(results: &Results, baselines: &BTreeMap<String, String>) -> Vec<SuiteEffect> {
    let mut configs: Vec<(String, Family)> = Vec::new();
    for r in &results.runs {
        if !configs.iter().any(|(c, _)| *c == r.config) {
            configs.push((r.config.clone(), r.family));
        }
    }
    let error = |r: &crate::RunRecord| error_of(r.metric, r.test_metric);
    let loss = |r: &crate::RunRecord| r.test_loss;
    let mut out = Vec::new();
    // Other single activations against the best one are not the question.
    for (config, family) in configs.iter().filter(|(_, f)| *f != Family::Homogeneous) {
        let mut errors = Vec::new();
        let mut losses = Vec::new();
        for (task, base) in baselines {
            if base == config {
                continue;
            }
            let cell = paired(results, task, config, base, error);
            let Some(effect) = error_ratio(std::slice::from_ref(&cell), ALPHA, 7) else {
                continue;
            };
            let loss_cell = paired(results, task, config, base, loss);
            let loss_effect = error_ratio(std::slice::from_ref(&loss_cell), ALPHA, 7);
            out.push(SuiteEffect {
                task: task.clone(),
                config: config.clone(),
                family: *family,
                baseline: base.clone(),
                effect,
                loss_effect,
                p_holm: f64::NAN,
                primary: *family == Family::Mixed,
            });
            errors.push(cell);
            losses.push(loss_cell);
        }
        if let Some(effect) = error_ratio(&errors, ALPHA, 11) {
            out.push(SuiteEffect {
                task: ALL_TASKS.into(),
                config: config.clone(),
                family: *family,
                baseline: "per task".into(),
                effect,
                loss_effect: error_ratio(&losses, ALPHA, 11),
                p_holm: effect.p,
                primary: *family == Family::Mixed,
            });
        }
    }
    for primary in [true, false] {
        let idx: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].primary == primary && out[i].task != ALL_TASKS)
            .collect();
        let adjusted = holm(&idx.iter().map(|&i| out[i].effect.p).collect::<Vec<_>>());
        for (&i, p) in idx.iter().zip(adjusted) {
            out[i].p_holm = p;
        }
    }
    out
}

/// `0.950 [0.905, 0.991]`.
fn ratio_text(e: &ErrorRatio) -> String {
    format!("{:.3} [{:.3}, {:.3}]", e.ratio, e.low, e.high)
}

/// The report's first section: the pooled answer per configuration, then
/// every task.
pub fn answer(effects: &[SuiteEffect]) -> String {
    let margin = DEFAULT_MARGIN;
    let mut s = String::from("## The answer, in effect sizes\n\n");
    let _ = writeln!(
        s,
        "Test-error ratio of each configuration to its task's best single activation (error = 1 - accuracy, \
or MSE; geometric mean over paired seeds; 95% seed-bootstrap interval; below 1 means less error). Verdict \
against an equivalence margin of ±{:.0}%: **better** / **worse** when the interval lies beyond 1, \
**equivalent** when it lies inside the margin, **inconclusive** otherwise, and always with fewer than {} \
paired seeds (too few for the interval to hold its 95%). The primary family is the fixed mixes; Holm runs \
within each family.\n",
        margin * 100.0,
        crate::effect::MIN_SEEDS
    );
    s += "### Over all tasks\n\n| configuration | family | tasks | seeds | error ratio [95% CI] | verdict | loss ratio [95% CI] | detectable (80%) |\n|---|---|---|---|---|---|---|---|\n";
    for e in effects.iter().filter(|e| e.task == ALL_TASKS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | **{}** | {} | {:.3} |",
            e.config,
            e.family.name(),
            e.effect.cells,
            e.effect.seeds,
            ratio_text(&e.effect),
            e.effect.verdict(margin).label(),
            e.loss_effect.as_ref().map_or("-".into(), ratio_text),
            e.effect.mde_ratio
        );
    }
    s += "\n### Per task\n\n| task | configuration | baseline | error ratio [95% CI] | verdict | p (Holm) | loss ratio [95% CI] |\n|---|---|---|---|---|---|---|\n";
    for e in effects.iter().filter(|e| e.task != ALL_TASKS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.3} | {} |",
            e.task,
            e.config,
            e.baseline,
            ratio_text(&e.effect),
            e.effect.verdict(margin).label(),
            e.p_holm,
            e.loss_effect.as_ref().map_or("-".into(), ratio_text)
        );
    }
    s += "\nEvery row with its p and detectable effect: [`comparisons.csv`](comparisons.csv).\n\n";
    s
}

/// Every row as CSV.
pub fn comparisons_csv(effects: &[SuiteEffect]) -> String {
    let mut s = String::from(
        "task,config,family,primary,baseline,seeds,ratio,ci_low,ci_high,p,p_holm,mde_ratio,verdict,loss_ratio,loss_ci_low,loss_ci_high,diverged_layout,diverged_baseline\n",
    );
    for e in effects {
        let (lr, ll, lh) = e
            .loss_effect
            .map_or((f64::NAN, f64::NAN, f64::NAN), |l| (l.ratio, l.low, l.high));
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            e.task,
            e.config,
            e.family.name(),
            u8::from(e.primary),
            e.baseline,
            e.effect.seeds,
            e.effect.ratio,
            e.effect.low,
            e.effect.high,
            e.effect.p,
            e.p_holm,
            e.effect.mde_ratio,
            e.effect.verdict(DEFAULT_MARGIN).label(),
            lr,
            ll,
            lh,
            e.effect.diverged.0,
            e.effect.diverged.1
        );
    }
    s
}

/// The training-health table: per task, the share of runs whose learning
/// rate sat at the grid's edge after every extension, the median epochs
/// used against the budget, the share stopped early, diverged runs, and the
/// baseline's mean test error, so a reader can judge whether the networks
/// were trained well.
pub fn health_table(results: &Results, baselines: &BTreeMap<String, String>) -> String {
    let mut s = String::from(
        "## Training health\n\n| task | runs | lr at grid edge | median epochs used (longest) | ran the longest | diverged | baseline | baseline test error |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut tasks: Vec<&str> = Vec::new();
    for r in &results.runs {
        if !tasks.contains(&r.task.as_str()) {
            tasks.push(&r.task);
        }
    }
    for t in tasks {
        let runs: Vec<&crate::RunRecord> = results.runs.iter().filter(|r| r.task == t).collect();
        let edge = runs.iter().filter(|r| r.lr_at_edge).count();
        let mut epochs: Vec<usize> = runs.iter().map(|r| r.epochs_used).collect();
        epochs.sort_unstable();
        let diverged = runs.iter().filter(|r| r.test_metric.is_nan()).count();
        let base = baselines.get(t).map_or("-", String::as_str);
        let errs: Vec<f64> = runs
            .iter()
            .filter(|r| r.config == base && r.test_metric.is_finite())
            .map(|r| error_of(r.metric, r.test_metric))
            .collect();
        let mean_err = errs.iter().sum::<f64>() / errs.len().max(1) as f64;
        let longest = epochs.last().copied().unwrap_or(0);
        let at_longest = epochs.iter().filter(|&&e| e == longest).count();
        let _ = writeln!(
            s,
            "| {t} | {} | {:.0}% | {} ({longest}) | {:.0}% | {diverged} | {base} | {:.4} |",
            runs.len(),
            100.0 * edge as f64 / runs.len().max(1) as f64,
            epochs.get(epochs.len() / 2).copied().unwrap_or(0),
            100.0 * at_longest as f64 / runs.len().max(1) as f64,
            mean_err
        );
    }
    s += "\nA rate at the grid's edge means the optimum may lie beyond the grid (it grew as far as the protocol \
allows); epochs below the budget mean validation early stopping ended the run at its best epoch. The longest run \
is the epoch budget when any run used all of it: a large share there means the budget, not early stopping, ended \
training, and the networks may be under-trained.\n\n";
    s
}
