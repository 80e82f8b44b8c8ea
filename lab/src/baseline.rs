//! The one rule that chooses a baseline: among the single-activation
//! (homogeneous) configurations, the best mean validation score on the
//! *selection* seeds, which are never scored. Choosing on the scored seeds
//! would give the baseline a small winner's curse, always against the mix;
//! that fallback remains only for results made without selection seeds (a
//! fixed learning rate, or files that predate the column), and reports say
//! which rule they used.

/// What the rule sees of one candidate configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    /// The configuration's name.
    pub name: &'a str,
    /// Its mean validation score on the selection seeds (higher is better),
    /// NaN when it has none.
    pub selection_score: f64,
    /// Its validation scores on the scored seeds (the fallback).
    pub scored_valid: Vec<f64>,
}

/// Which seeds chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenOn {
    /// The separate selection seeds.
    SelectionSeeds,
    /// The scored seeds' validation split (no selection seeds were run).
    ScoredSeeds,
}

/// One score per candidate, higher is better, −∞ for a candidate without
/// runs or with a diverged run; and which seeds gave them (the selection
/// seeds when every candidate has a selection score).
pub fn scores(candidates: &[Candidate<'_>]) -> (Vec<f64>, ChosenOn) {
    let on_selection =
        !candidates.is_empty() && candidates.iter().all(|c| !c.selection_score.is_nan());
    let scores = candidates
        .iter()
        .map(|c| {
            let s = if on_selection {
                c.selection_score
            } else if c.scored_valid.is_empty() || c.scored_valid.iter().any(|s| s.is_nan()) {
                f64::NEG_INFINITY
            } else {
                c.scored_valid.iter().sum::<f64>() / c.scored_valid.len() as f64
            };
            if s.is_nan() {
                f64::NEG_INFINITY
            } else {
                s
            }
        })
        .collect();
    let on = if on_selection {
        ChosenOn::SelectionSeeds
    } else {
        ChosenOn::ScoredSeeds
    };
    (scores, on)
}

/// The index of the baseline among `candidates` (ties: the first name in
/// sort order), and which seeds chose it. `None` without candidates.
pub fn choose(candidates: &[Candidate<'_>]) -> Option<(usize, ChosenOn)> {
    let (scores, on) = scores(candidates);
    (0..candidates.len())
        .max_by(|&a, &b| {
            scores[a]
                .total_cmp(&scores[b])
                .then(candidates[b].name.cmp(candidates[a].name))
        })
        .map(|i| (i, on))
}
