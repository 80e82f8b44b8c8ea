//! The pre-registered confirmation of the standard sweep's two strongest
//! signals. The hypotheses, the cells that test them and the rules that
//! decide them are fixed here, before any run, and the report prints them
//! before the results; [`decide`] applies them to whatever the data say.
//!
//! Each test pools the best-two mix (its three arrangements pooled per
//! seed) over a group of cells, against each cell's best single activation
//! (chosen on selection seeds), as the seed-bootstrap distribution of the
//! mean log error ratio ([`bootstrap_log_ratios`]). One-sided bootstrap
//! p-values are shares of that distribution; the three tests (H1 on each
//! task, H2) form one Holm family at α = 0.05.

use std::fmt::Write as _;

use crate::effect::{bootstrap_log_ratios, error_ratio, ErrorRatio, PairedCell, MIN_SEEDS};
use crate::report::ALPHA;
use crate::stats::holm;
use crate::sweep::SweepRecord;
use crate::sweep_effects::{paired, Arm};

/// H1's equivalence bounds on the error ratio: within ±10%.
pub const H1_BOUNDS: (f64, f64) = (0.90, 1.10);
/// H2's bound: the ratio's interval must end below this.
pub const H2_BOUND: f64 = 0.90;
/// The task H2 is about, and one of H1's two.
pub const SIN_TASK: &str = "sin6x+abs";
/// H1's other task.
pub const CHECKER_TASK: &str = "checker4x4";
/// H2's widths (at depth 4).
pub const H2_WIDTHS: [usize; 3] = [8, 16, 32];

/// The rules, as the report prints them before any result.
pub const RULES: &str = "\
Quantity: the test-error ratio of the best-two mix (interleaved, branches and re-drawn arrangements pooled per \
seed) to each cell's best single activation (chosen on 5 selection seeds), pooled over a group of cells; geometric \
mean over paired seeds, 95% seed-bootstrap interval (10 000 resamples, seeds resampled jointly across the group's \
cells).

- **H1 (depth-1 losses are a training artefact)**, tested on sin(6x)+|x| (H1a) and on the 4x4 checkerboard (H1b) \
separately, each over its depth-1 cells (every width and data fraction). *Held* when the Holm-adjusted equivalence \
p-value (twice the larger of the two one-sided bootstrap p-values against 0.90 and 1.10: below 0.05 exactly when \
the 95% interval lies inside [0.90, 1.10]) is below 0.05. *Refuted* when the 95% interval lies above 1.10. \
*Undecided* otherwise. H1 holds when H1a and H1b hold, is refuted when either is refuted, and is undecided otherwise.
- **H2 (deep mixes help on sin(6x)+|x|)**, over the depth-4 cells of widths 8, 16 and 32 (both data fractions). \
*Held* when the Holm-adjusted p-value (twice the one-sided bootstrap p-value against 0.90: below 0.05 exactly \
when the 95% interval ends below 0.90) is below 0.05. *Refuted* when the 95% interval contains 1. *Undecided* \
otherwise.
- Holm runs over the family {H1a, H1b, H2} only.
- A test over fewer than 6 paired seeds is *undecided*, whatever its interval.";

/// What the rule says of a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The rule's condition for "held" is met.
    Held,
    /// The rule's condition for "refuted" is met.
    Refuted,
    /// Neither.
    Undecided,
}

impl Outcome {
    /// The word in the report.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Refuted => "refuted",
            Outcome::Undecided => "undecided",
        }
    }
}

/// One tested hypothesis, with the data that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// "H1a", "H1b" or "H2".
    pub name: &'static str,
    /// What it says, in a line.
    pub statement: &'static str,
    /// The pooled error ratio and its 95% interval; `None` without data.
    pub effect: Option<ErrorRatio>,
    /// The test's p-value before Holm.
    pub p: f64,
    /// After Holm over the family.
    pub p_holm: f64,
    /// What the rule concludes.
    pub outcome: Outcome,
}

/// The best-two mix's paired errors in the cells `keep` selects (task,
/// depth, width).
fn cells(records: &[SweepRecord], keep: impl Fn(&str, usize, usize) -> bool) -> Vec<PairedCell> {
    paired(records)
        .into_iter()
        .filter(|(k, _)| keep(&k.0, k.2, k.3))
        .filter_map(|(_, (_, arms))| {
            arms.into_iter()
                .find(|(a, _, _)| *a == Arm::BestTwoPooled)
                .map(|(_, c, _)| c)
        })
        .collect()
}

/// The share of `sorted` at or beyond `bound` on the side `above`.
fn share(sorted: &[f64], bound: f64, above: bool) -> f64 {
    let below = sorted.partition_point(|&v| v < bound);
    let n = sorted.len().max(1) as f64;
    if above {
        (sorted.len() - below) as f64 / n
    } else {
        // At or below: include values equal to the bound.
        sorted.partition_point(|&v| v <= bound) as f64 / n
    }
}

/// Applies the rules ([`RULES`]) to the records: H1a, H1b, H2, in order.
pub fn decide(records: &[SweepRecord]) -> Vec<Decision> {
    let (lo, hi) = (H1_BOUNDS.0.ln(), H1_BOUNDS.1.ln());
    let h1 = |task: &'static str| cells(records, move |t, d, _| t == task && d == 1);
    let h2 = cells(records, |t, d, w| {
        t == SIN_TASK && d == 4 && H2_WIDTHS.contains(&w)
    });
    let groups: [(&'static str, &'static str, Vec<PairedCell>); 3] = [
        (
            "H1a",
            "sin(6x)+abs(x), depth 1: the best-two mix's error ratio lies within [0.90, 1.10]",
            h1(SIN_TASK),
        ),
        (
            "H1b",
            "checkerboard 4x4, depth 1: the best-two mix's error ratio lies within [0.90, 1.10]",
            h1(CHECKER_TASK),
        ),
        (
            "H2",
            "sin(6x)+abs(x), depth 4, widths 8-32: the best-two mix's error ratio is below 0.90",
            h2,
        ),
    ];
    let mut out: Vec<Decision> = groups
        .into_iter()
        .map(|(name, statement, cs)| {
            let effect = error_ratio(&cs, ALPHA, 31);
            let p = match bootstrap_log_ratios(&cs, 31) {
                None => 1.0,
                Some(m) if name == "H2" => (2.0 * share(&m, H2_BOUND.ln(), true)).min(1.0),
                Some(m) => (2.0 * share(&m, lo, false).max(share(&m, hi, true))).min(1.0),
            };
            Decision {
                name,
                statement,
                effect,
                p,
                p_holm: f64::NAN,
                outcome: Outcome::Undecided,
            }
        })
        .collect();
    let adjusted = holm(&out.iter().map(|d| d.p).collect::<Vec<_>>());
    for (d, p) in out.iter_mut().zip(adjusted) {
        d.p_holm = p;
        d.outcome = match d.effect {
            None => Outcome::Undecided,
            Some(e) if e.seeds < MIN_SEEDS => Outcome::Undecided,
            Some(_) if p < ALPHA => Outcome::Held,
            Some(e) if d.name == "H2" && e.low <= 1.0 && e.high >= 1.0 => Outcome::Refuted,
            Some(e) if d.name != "H2" && e.low > H1_BOUNDS.1 => Outcome::Refuted,
            Some(_) => Outcome::Undecided,
        };
    }
    out
}

/// H1 as a whole: held when both parts hold, refuted when either is refuted.
pub fn h1_outcome(decisions: &[Decision]) -> Outcome {
    let parts: Vec<Outcome> = decisions
        .iter()
        .filter(|d| d.name.starts_with("H1"))
        .map(|d| d.outcome)
        .collect();
    if parts.contains(&Outcome::Refuted) {
        Outcome::Refuted
    } else if !parts.is_empty() && parts.iter().all(|&o| o == Outcome::Held) {
        Outcome::Held
    } else {
        Outcome::Undecided
    }
}

/// The outcomes section: one sentence per hypothesis, written from the
/// decisions, then the table of the data that decided them.
pub fn outcomes_markdown(decisions: &[Decision]) -> String {
    let mut s = String::from("## Outcomes\n\n");
    let h2 = decisions.iter().find(|d| d.name == "H2");
    let _ = writeln!(
        s,
        "- **H1 (depth-1 losses are a training artefact): {}.**",
        h1_outcome(decisions).label()
    );
    for d in decisions.iter().filter(|d| d.name.starts_with("H1")) {
        let _ = writeln!(s, "  - {}: {}.", d.name, d.outcome.label());
    }
    if let Some(d) = h2 {
        let _ = writeln!(
            s,
            "- **H2 (deep mixes help on sin(6x)+|x|): {}.**",
            d.outcome.label()
        );
    }
    s += "\n| test | claim | cells | seeds | error ratio [95% CI] | p | p (Holm) | outcome |\n|---|---|---|---|---|---|---|---|\n";
    for d in decisions {
        let (cells, seeds, ratio) = match &d.effect {
            Some(e) => (
                e.cells.to_string(),
                e.seeds.to_string(),
                format!("{:.3} [{:.3}, {:.3}]", e.ratio, e.low, e.high),
            ),
            None => ("0".into(), "0".into(), "no data".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {cells} | {seeds} | {ratio} | {} | {} | **{}** |",
            d.name,
            d.statement,
            crate::sweep_effects::p_text(d.p),
            crate::sweep_effects::p_text(d.p_holm),
            d.outcome.label()
        );
    }
    s.push('\n');
    s
}

/// The training-health table of a sweep-shaped run, per task and depth:
/// the share of runs whose rate stayed at the grid's edge, epochs used, the
/// share that ran the longest (the budget, when any run used all of it),
/// diverged runs.
pub fn health_markdown(records: &[SweepRecord]) -> String {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, usize), Vec<&SweepRecord>> = BTreeMap::new();
    for r in records {
        groups.entry((r.task.clone(), r.depth)).or_default().push(r);
    }
    let mut s = String::from(
        "## Training health\n\n| task | depth | runs | lr at grid edge | median epochs used (longest) | ran the longest | diverged |\n|---|---|---|---|---|---|---|\n",
    );
    for ((task, depth), rs) in groups {
        let n = rs.len().max(1) as f64;
        let edge = rs.iter().filter(|r| r.lr_at_edge).count() as f64;
        let mut epochs: Vec<usize> = rs.iter().map(|r| r.epochs_used).collect();
        epochs.sort_unstable();
        let longest = epochs.last().copied().unwrap_or(0);
        let at_longest = epochs.iter().filter(|&&e| e == longest).count() as f64;
        let diverged = rs.iter().filter(|r| r.test_metric.is_nan()).count();
        let _ = writeln!(
            s,
            "| {task} | {depth} | {} | {:.0}% | {} ({longest}) | {:.0}% | {diverged} |",
            rs.len(),
            100.0 * edge / n,
            epochs.get(epochs.len() / 2).copied().unwrap_or(0),
            100.0 * at_longest / n
        );
    }
    s.push('\n');
    s
}
