//! Head-on tests of published claims for varied or learned activations:
//! one [`Study`] per claim (`mixact-lab inr|laaf|symbolic|midscale`), each
//! with its endpoint and win rule declared in code and printed in its report
//! before any result.
//!
//! Every study runs the same protocol, per cell (a signal, a function, a
//! formula, a data set):
//! 1. **selection**: every single-activation arm, at every learning rate of
//!    its grid, on the selection seeds; each arm keeps the rate with the best
//!    selection score (validation or training data, never test data) and the
//!    singles are ranked by it; the first is the cell's *baseline*;
//! 2. the arms that depend on that ranking (the best-two mix, the slope
//!    control on the best) go through the same selection of their rate;
//! 3. **scoring**: every arm at its chosen rate on the scored seeds, which
//!    no choice has seen; effects are paired by seed against the baseline.
//!
//! A cell is stored in `cells/` as soon as it is done, so a killed run
//! resumes, and cells split over shards (`--shard i/n`) like every mode.

mod analysis;
mod fit;
pub mod inr;
pub mod laaf;
pub mod midscale;
pub mod mnist1d;
mod report;
mod runner;
pub mod symbolic;

pub use analysis::{
    between, bootstrap_stat, cell_effects, pooled, CellEffect, Estimate, Statistic,
};
pub use report::write_study_report;
pub use runner::{read_cells, run_study, CellRecord, RunRow, Stage};

use mixact::Result;

/// How an endpoint compares two arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Per-seed log ratio `ln(arm / baseline)` (errors, steps, losses).
    Log,
    /// Per-seed difference `arm - baseline` (decibels).
    Linear,
}

/// A study's primary endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Its name in reports ("test PSNR (dB)").
    pub name: &'static str,
    /// Whether more is better (PSNR) or less (errors, steps).
    pub higher_is_better: bool,
    /// How two arms compare.
    pub scale: Scale,
}

/// What one training run yields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunScore {
    /// What the selection ranks by, lower is better; measured on
    /// validation or training data only (NaN: the run failed).
    pub select: f64,
    /// The primary endpoint on the test data (NaN: the run diverged).
    pub endpoint: f64,
    /// Up to two secondary endpoints (NaN where the study has none).
    pub secondary: [f64; 2],
}

/// What a rule concluded about one claim.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    /// The claim, in a line.
    pub claim: String,
    /// The effect the rule read, in the endpoint's reporting unit.
    pub estimate: Option<Estimate>,
    /// "win", "no win", "loss" (the study's words), decided by code.
    pub outcome: &'static str,
}

/// A pre-declared experiment.
pub trait Study: Sync {
    /// The subcommand and report folder stem ("inr").
    fn name(&self) -> &'static str;
    /// The report's title.
    fn title(&self) -> &'static str;
    /// The literature's claim, with its source.
    fn claim(&self) -> &'static str;
    /// The setting: data, networks, training, seeds, budgets.
    fn protocol(&self) -> String;
    /// The endpoint, win rule and decision, as printed before the results.
    fn rules(&self) -> &'static str;
    /// The primary endpoint.
    fn endpoint(&self) -> Endpoint;
    /// The secondary endpoints' names, where the study has them.
    fn secondary(&self) -> [Option<&'static str>; 2] {
        [None, None]
    }
    /// The cells (tasks), by name.
    fn cells(&self) -> Vec<String>;
    /// The single-activation arms of a cell: the baseline candidates.
    fn singles(&self, cell: usize) -> Vec<String>;
    /// The arms fixed in advance that are not baseline candidates.
    fn fixed(&self, cell: usize) -> Vec<String>;
    /// The arms built from the ranking of the singles (best first).
    fn derived(&self, _cell: usize, _ranking: &[String]) -> Vec<String> {
        Vec::new()
    }
    /// The learning rates an arm is selected from.
    fn lr_grid(&self, cell: usize, arm: &str) -> Vec<f64>;
    /// Selection seeds (never scored).
    fn selection_seeds(&self) -> Vec<u64>;
    /// Scored seeds.
    fn scored_seeds(&self) -> Vec<u64>;
    /// One training run.
    ///
    /// # Errors
    /// Only for a broken set-up (a run that diverges is a score with NaN).
    fn run(&self, cell: usize, arm: &str, lr: f64, seed: u64) -> Result<RunScore>;
    /// Applies the declared rules to the effects.
    fn decide(&self, effects: &[CellEffect]) -> Vec<RuleOutcome>;
}
