//! From results to an answer: paired comparisons against the best homogeneous
//! activation, and a verdict written by pre-stated rules.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::baseline::{choose, Candidate, ChosenOn};
use super::config::Family;
use super::metric::Metric;
use super::results::Results;
use super::stats::{bootstrap_ci, holm, mean_sd, minimum_detectable_effect, wilcoxon_signed_rank};
use super::suite_effects::{answer, health_table, suite_effects, SuiteEffect, ALL_TASKS};
use crate::effect::{EffectVerdict, DEFAULT_MARGIN};

/// The forest plot's file name: the report shows it first.
pub const FOREST_PLOT: &str = "forest.png";

/// Significance level of every test (after Holm's correction).
pub const ALPHA: f64 = 0.05;

/// The outcome of one paired comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Significantly better than the best homogeneous activation.
    Win,
    /// No significant difference.
    Tie,
    /// Significantly worse.
    Loss,
}

/// One configuration on one task against that task's best homogeneous configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Task.
    pub task: String,
    /// Configuration compared.
    pub config: String,
    /// The baseline it was compared with.
    pub baseline: String,
    /// Pairs (seeds where both runs finished).
    pub pairs: usize,
    /// Mean paired difference of the score (accuracy, or −MSE: positive is better).
    pub mean_diff: f64,
    /// Bootstrap 95% interval of the mean difference.
    pub ci: (f64, f64),
    /// Wilcoxon signed-rank p-value.
    pub p: f64,
    /// Holm-adjusted p-value over the family of all decisive comparisons.
    pub p_holm: f64,
    /// Win, tie or loss at α = 0.05 after adjustment.
    pub outcome: Outcome,
    /// Minimum detectable effect (80% power) given the spread of the differences.
    pub mde: f64,
}

/// The verdict on one non-homogeneous configuration across tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Configuration.
    pub config: String,
    /// Its family.
    pub family: Family,
    /// Tasks won, tied and lost against the per-task best homogeneous activation.
    pub wins: usize,
    /// Ties.
    pub ties: usize,
    /// Losses.
    pub losses: usize,
    /// The verdict: its pooled error ratio's interval against the ±5%
    /// margin ([`EffectVerdict`]; inconclusive below 6 seeds). The win
    /// counts beside it describe; they decide nothing.
    pub verdict: EffectVerdict,
}

/// The rules, stated before any data are seen; the report prints them.
pub const RULES: &str = "\
For every task, the baseline is the homogeneous configuration with the best mean *validation* score on the
separate selection seeds (without selection seeds: on the scored seeds' validation split, which the report then says).
Every other configuration is compared with it on the *test* error, paired by seed (same split, batch
order and initial weights where shapes match).
- **The verdict** is read off the configuration's error ratio pooled over the tasks (geometric mean of
  the per-seed ratios, 95% seed-bootstrap interval): **better** (the interval lies below 1), **worse**
  (above 1), **equivalent** (inside [0.95, 1.05]) or **inconclusive** (anything else, and always with
  fewer than 6 seeds). It is the same rule, with the same words, as every effect in this report.
- **Win counts** describe the per-task comparisons: a win (loss) when the Wilcoxon signed-rank p,
  Holm-corrected over all these comparisons at alpha = 0.05, is below 0.05 and the mean paired difference
  favours (disfavours) the configuration; a tie otherwise. A tie is no evidence of equivalence.";

/// Everything the report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Per task: the best homogeneous configuration (chosen on validation).
    pub baselines: BTreeMap<String, String>,
    /// Which seeds chose the baselines (scored seeds if any task had no
    /// selection scores).
    pub baselines_chosen_on: ChosenOn,
    /// Effect sizes: every non-baseline configuration's test-error ratio
    /// to the baseline, per task and over all tasks.
    pub effects: Vec<SuiteEffect>,
    /// The decisive comparisons.
    pub comparisons: Vec<Comparison>,
    /// Verdicts per non-homogeneous configuration.
    pub verdicts: Vec<Verdict>,
    /// Per task: "random X" against "mask X" (the arrangement control): (task, random, mask, p).
    pub arrangement_checks: Vec<(String, String, String, f64)>,
}

/// Paired test scores of two configurations on one task, by seed.
fn paired(results: &Results, task: &str, a: &str, b: &str) -> Vec<f64> {
    let by_seed = |c: &str| -> BTreeMap<u64, f64> {
        results
            .runs
            .iter()
            .filter(|r| r.task == task && r.config == c)
            .map(|r| (r.seed, r.metric.score(r.test_metric)))
            .collect()
    };
    let (sa, sb) = (by_seed(a), by_seed(b));
    sa.iter()
        .filter_map(|(s, &x)| sb.get(s).map(|&y| x - y))
        .filter(|d| d.is_finite())
        .collect()
}

/// Tasks and configurations in first-appearance order.
fn ordered(results: &Results) -> (Vec<String>, Vec<(String, Family)>) {
    let mut tasks: Vec<String> = Vec::new();
    let mut configs: Vec<(String, Family)> = Vec::new();
    for r in &results.runs {
        if !tasks.contains(&r.task) {
            tasks.push(r.task.clone());
        }
        if !configs.iter().any(|(c, _)| *c == r.config) {
            configs.push((r.config.clone(), r.family));
        }
    }
    (tasks, configs)
}

/// Compares, adjusts and judges.
pub fn analyse(results: &Results) -> Analysis {
    let (tasks, configs) = ordered(results);
    let mut baselines = BTreeMap::new();
    let mut chosen_on = ChosenOn::SelectionSeeds;
    for t in &tasks {
        let homogeneous: Vec<&str> = configs
            .iter()
            .filter(|(_, f)| *f == Family::Homogeneous)
            .map(|(c, _)| c.as_str())
            .collect();
        let candidates: Vec<Candidate<'_>> = homogeneous
            .iter()
            .map(|&name| {
                let runs: Vec<&super::results::RunRecord> = results
                    .runs
                    .iter()
                    .filter(|r| &r.task == t && r.config == name)
                    .collect();
                Candidate {
                    name,
                    selection_score: runs.first().map_or(f64::NAN, |r| r.selection_score),
                    scored_valid: runs
                        .iter()
                        .map(|r| r.metric.score(r.valid_metric))
                        .collect(),
                }
            })
            .collect();
        if let Some((i, on)) = choose(&candidates) {
            baselines.insert(t.clone(), homogeneous[i].to_string());
            if on == ChosenOn::ScoredSeeds {
                chosen_on = ChosenOn::ScoredSeeds;
            }
        }
    }
    let mut comparisons = Vec::new();
    for t in &tasks {
        let Some(base) = baselines.get(t) else {
            continue;
        };
        for (c, f) in &configs {
            if *f == Family::Homogeneous {
                continue;
            }
            let d = paired(results, t, c, base);
            let (mean, sd) = mean_sd(&d);
            comparisons.push(Comparison {
                task: t.clone(),
                config: c.clone(),
                baseline: base.clone(),
                pairs: d.len(),
                mean_diff: mean,
                ci: bootstrap_ci(&d, 17),
                p: wilcoxon_signed_rank(&d),
                p_holm: f64::NAN,
                outcome: Outcome::Tie,
                mde: minimum_detectable_effect(sd, d.len().max(1)),
            });
        }
    }
    let adjusted = holm(&comparisons.iter().map(|c| c.p).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.p_holm = p;
        c.outcome = if p < ALPHA && c.mean_diff > 0.0 {
            Outcome::Win
        } else if p < ALPHA && c.mean_diff < 0.0 {
            Outcome::Loss
        } else {
            Outcome::Tie
        };
    }
    let effects = suite_effects(results, &baselines);
    let verdicts = configs
        .iter()
        .filter(|(_, f)| *f != Family::Homogeneous)
        .map(|(c, f)| {
            let mine: Vec<&Comparison> = comparisons.iter().filter(|x| &x.config == c).collect();
            let count = |o| mine.iter().filter(|x| x.outcome == o).count();
            let (wins, ties, losses) = (
                count(Outcome::Win),
                count(Outcome::Tie),
                count(Outcome::Loss),
            );
            let verdict = effects
                .iter()
                .find(|e| e.task == ALL_TASKS && &e.config == c)
                .map_or(EffectVerdict::Inconclusive, |e| {
                    e.effect.verdict(DEFAULT_MARGIN)
                });
            Verdict {
                config: c.clone(),
                family: *f,
                wins,
                ties,
                losses,
                verdict,
            }
        })
        .collect();
    let mut arrangement_checks = Vec::new();
    for t in &tasks {
        for (c, _) in &configs {
            if let Some(rest) = c.strip_prefix("random ") {
                let m = format!("mask {rest}");
                if configs.iter().any(|(x, _)| *x == m) {
                    let d = paired(results, t, c, &m);
                    arrangement_checks.push((t.clone(), c.clone(), m, wilcoxon_signed_rank(&d)));
                }
            }
        }
    }
    Analysis {
        baselines,
        baselines_chosen_on: chosen_on,
        effects,
        comparisons,
        verdicts,
        arrangement_checks,
    }
}

fn fmt_metric(metric: Metric, v: f64) -> String {
    if metric == Metric::Mse {
        format!("{v:.5}")
    } else {
        format!("{:.2}%", 100.0 * v)
    }
}

fn fmt_diff(metric: Metric, v: f64) -> String {
    if metric == Metric::Mse {
        format!("{:+.5}", -v)
    } else {
        format!("{:+.2}", 100.0 * v)
    }
}

/// The report as Markdown. `protocol` describes how the results were made
/// (mode, seeds, epochs, learning rates); `plots` lists the PNG files written beside it.
pub fn render_markdown(
    results: &Results,
    analysis: &Analysis,
    protocol: &str,
    plots: &[String],
) -> String {
    let mut md = String::from("# mixact layout comparison\n\n");
    md += &answer(&analysis.effects);
    if plots.iter().any(|p| p == FOREST_PLOT) {
        let _ = writeln!(md, "![{FOREST_PLOT}]({FOREST_PLOT})\n");
    }
    if analysis.baselines_chosen_on == ChosenOn::ScoredSeeds {
        md += "**The baselines were chosen on the scored seeds' validation scores** (these results have no \
selection seeds): a small winner's curse in the baseline's favour.\n\n";
    }
    md += &health_table(results, &analysis.baselines);
    let _ = writeln!(md, "{protocol}\n");
    md += "## Win counts\n\nSignificant differences after Holm over every decisive comparison; a tie is no evidence \
either way (the effect sizes above say how large a difference could be).\n\n";
    render_verdicts(&mut md, analysis);
    render_per_task(&mut md, results, analysis);
    render_arrangement_checks(&mut md, results, analysis);
    render_groups(&mut md, results);
    render_plots(&mut md, plots);
    md += "\n`results.csv` holds one row per task × configuration × seed, to redo any of these statistics.\n";
    md
}

/// The verdict table, the baselines and the rules.
fn render_verdicts(md: &mut String, analysis: &Analysis) {
    *md += "### Verdict\n\n";
    *md += "Against the best homogeneous activation of each task (chosen on validation data), at equal parameter count:\n\n";
    *md +=
        "| configuration | family | wins | ties | losses | verdict (pooled effect) |\n|---|---|---|---|---|---|\n";
    for v in &analysis.verdicts {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | **{}** |",
            v.config,
            v.family.name(),
            v.wins,
            v.ties,
            v.losses,
            v.verdict.label()
        );
    }
    *md += "\nBest homogeneous activation per task (validation): ";
    let best: Vec<String> = analysis
        .baselines
        .iter()
        .map(|(t, c)| format!("{t}: {c}"))
        .collect();
    *md += &best.join(", ");
    *md += "\n\n### Rules (fixed before the runs)\n\n";
    *md += RULES;
}

/// The cells of one configuration's comparison with the baseline:
/// (Δ, 95% CI, p (Holm), outcome, MDE).
fn comparison_cells(
    metric: Metric,
    cmp: Option<&Comparison>,
    is_baseline: bool,
) -> (String, String, String, String, String) {
    match cmp {
        Some(x) => {
            // For MSE the score is -MSE: flip the interval back into MSE order.
            let (lo, hi) = if metric == Metric::Mse {
                (x.ci.1, x.ci.0)
            } else {
                x.ci
            };
            let mde = if metric == Metric::Mse {
                format!("{:.5}", x.mde.abs())
            } else {
                format!("{:.2}", 100.0 * x.mde.abs())
            };
            (
                fmt_diff(metric, x.mean_diff),
                format!("[{}, {}]", fmt_diff(metric, lo), fmt_diff(metric, hi)),
                format!("{:.3}", x.p_holm),
                format!("{:?}", x.outcome).to_lowercase(),
                mde,
            )
        }
        None if is_baseline => (
            "baseline".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ),
        None => Default::default(),
    }
}

/// One table per task: every configuration's score and its comparison.
fn render_per_task(md: &mut String, results: &Results, analysis: &Analysis) {
    let (tasks, configs) = ordered(results);
    *md += "\n\n## Per task\n\n";
    *md += "Score differences are in accuracy points (classification) or MSE (regression; negative is better). \
`MDE` is the smallest mean difference these seeds could detect (80% power); a tie smaller than it says little.\n";
    for t in &tasks {
        let metric = results
            .runs
            .iter()
            .find(|r| &r.task == t)
            .map_or(Metric::Accuracy, |r| r.metric);
        let base = analysis.baselines.get(t).cloned().unwrap_or_default();
        let _ = writeln!(md, "\n### {t} ({}; baseline: {base})\n", metric.name());
        *md += "| configuration | params | width | lr | test mean ± sd | Δ vs baseline | 95% CI | p (Holm) | outcome | MDE | µs/step | diverged |\n";
        *md += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for (c, _) in &configs {
            let runs: Vec<_> = results
                .runs
                .iter()
                .filter(|r| &r.task == t && &r.config == c)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let vals: Vec<f64> = runs
                .iter()
                .map(|r| r.test_metric)
                .filter(|v| v.is_finite())
                .collect();
            let (m, sd) = mean_sd(&vals);
            let diverged = runs.len() - vals.len();
            let us = mean_sd(&runs.iter().map(|r| r.us_per_step).collect::<Vec<_>>()).0;
            let cmp = analysis
                .comparisons
                .iter()
                .find(|x| &x.task == t && &x.config == c);
            let (delta, ci, p, outcome, mde) = comparison_cells(metric, cmp, *c == base);
            let spread = if metric == Metric::Mse {
                format!("{sd:.5}")
            } else {
                format!("{:.2}", 100.0 * sd)
            };
            let _ = writeln!(
                md,
                "| {c} | {} | {} | {} | {} ± {spread} | {delta} | {ci} | {p} | {outcome} | {mde} | {us:.1} | {diverged} |",
                runs[0].params,
                runs[0].width,
                runs[0].lr,
                fmt_metric(metric, m),
            );
        }
    }
}

/// Random arrangement against interleaved, per task.
fn render_arrangement_checks(md: &mut String, results: &Results, analysis: &Analysis) {
    if analysis.arrangement_checks.is_empty() {
        return;
    }
    *md += "\n## Sanity check: random arrangement vs interleaved\n\n";
    *md += "The same activation counts, arranged at random instead of interleaved, must not differ beyond noise \
(Wilcoxon p, and Holm-corrected over this table; a corrected p < 0.05 would point at a bug or at fragile \
training). Each configuration's learning rate is tuned on its own, so a different `lr` can also explain a difference.\n\n";
    *md += "| task | random (lr) | interleaved (lr) | p | p (Holm) |\n|---|---|---|---|---|\n";
    let adjusted = holm(
        &analysis
            .arrangement_checks
            .iter()
            .map(|x| x.3)
            .collect::<Vec<_>>(),
    );
    let lr_of = |t: &str, c: &str| {
        results
            .runs
            .iter()
            .find(|r| r.task == t && r.config == c)
            .map_or(f64::NAN, |r| r.lr)
    };
    for ((t, r, m, p), q) in analysis.arrangement_checks.iter().zip(adjusted) {
        let _ = writeln!(
            md,
            "| {t} | {r} ({}) | {m} ({}) | {p:.3} | {q:.3} |",
            lr_of(t, r),
            lr_of(t, m)
        );
    }
}

/// What each activation group does inside the mixed networks.
fn render_groups(md: &mut String, results: &Results) {
    if results.groups.is_empty() {
        return;
    }
    *md += "\n## Activation groups inside mixed networks\n\n";
    *md += "Per activation group of a hidden layer, averaged over seeds and layers: the fraction of \
(neuron, test sample) pairs where the activation is flat (|f'(z)| < 0.01: dead or saturated), over all tasks, \
and the drop in test accuracy (points) when the group's outputs are zeroed, over the classification tasks.\n\n";
    *md += "| configuration | activation | neurons | flat fraction | accuracy drop when zeroed |\n|---|---|---|---|---|\n";
    for s in results.group_summaries() {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.3} | {:.2} |",
            s.config,
            s.activation,
            s.neurons,
            s.flat_fraction,
            100.0 * s.accuracy_drop,
        );
    }
}

/// The plots written beside the report.
fn render_plots(md: &mut String, plots: &[String]) {
    if plots.is_empty() {
        return;
    }
    *md += "\n## Plots\n\n";
    for p in plots.iter().filter(|p| *p != FOREST_PLOT) {
        let _ = writeln!(md, "![{p}]({p})\n");
    }
}
