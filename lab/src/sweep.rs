//! The sweep: the suite's question asked over a grid of hidden width x depth
//! x training-set fraction, one cell at a time, each cell at equal parameter
//! count, with controls chosen per cell.
//!
//! In every cell the candidate activations are first trained alone (the
//! homogeneous baselines); their mean *validation* scores pick the cell's
//! best and second-best activation. Then the mixed layouts built from those
//! two run: interleaved ("mask best2"), as branches ("branches best2"), with
//! the interleaved counts re-drawn at random per seed ("random best2"), the
//! slope-only control on the best ("slope best"), and the interleave of all
//! candidates ("mask all"). Every configuration's width is matched to the
//! parameter count of the first candidate's network at the cell's width.

use std::path::Path;

use super::config::{Config, Hidden};
use super::files::check_name;
use super::metric::Metric;
use super::run::{tuned_runs, SuiteOptions};
use super::store::{check_stored_seeds, execute, resume_or_run};
use super::sweep_report::{read_sweep_csv, sweep_csv};
use super::task::Task;
use mixact::io::write_atomically;
use mixact::ActivationSet;
use mixact::Layer;
use mixact::{Error, Result};

pub use crate::role::Role;

/// The role of a candidate trained alone ([`Role::Homogeneous`]).
pub const HOMOGENEOUS: Role = Role::Homogeneous;
/// The mixed roles, in report order ([`Role::MIXED`]).
pub const MIXED_ROLES: [Role; 5] = Role::MIXED;

/// The grid and the training protocol of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOptions {
    /// Hidden widths (of the first candidate's network: the cell's parameter budget).
    pub widths: Vec<usize>,
    /// Numbers of hidden layers.
    pub depths: Vec<usize>,
    /// Fractions of each split's training set, in (0, 1].
    pub fractions: Vec<f64>,
    /// Seeds, tuning seeds, learning-rate grid, epochs, batch size (the
    /// `base_width` and `workers` fields are not used: the grid sets the
    /// widths, and cells run on rayon's pool).
    pub suite: SuiteOptions,
}

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Index into the task list.
    pub task: usize,
    /// Training-set fraction.
    pub fraction: f64,
    /// Nominal hidden width.
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
}

impl Cell {
    /// A relative cost estimate for balancing shards: the work of one
    /// epoch grows with the training fraction and about with width² x depth.
    pub fn cost(&self, epochs: usize) -> f64 {
        let w = self.width as f64;
        self.fraction * epochs as f64 * (w * w * self.depth as f64 + 16.0 * w)
    }

    /// The file a finished cell is stored in under a shard's `cells/`
    /// folder: a stable name from the cell's coordinates.
    pub fn file_name(&self, task_name: &str) -> String {
        let slug: String = task_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!(
            "{slug}_f{}_d{}_w{}.csv",
            (self.fraction * 1000.0).round() as u64,
            self.depth,
            self.width
        )
    }
}

/// One training run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRecord {
    /// Task name.
    pub task: String,
    /// What the task is scored by.
    pub metric: Metric,
    /// Training-set fraction of the cell.
    pub fraction: f64,
    /// Nominal width of the cell.
    pub cell_width: usize,
    /// Hidden layers.
    pub depth: usize,
    /// What the configuration is in the cell.
    pub role: Role,
    /// The configuration's name (which activations the role used here).
    pub config: String,
    /// Paired seed.
    pub seed: u64,
    /// Learning rate used.
    pub lr: f64,
    /// The configuration's own hidden width (matched to the cell's budget).
    pub width: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Validation metric (NaN if the run diverged).
    pub valid_metric: f64,
    /// Test metric (NaN if the run diverged).
    pub test_metric: f64,
    /// Test loss (log-loss, or MSE); NaN if diverged or not recorded.
    pub test_loss: f64,
    /// Epochs trained (early stopping may end a run before its budget);
    /// 0 when not recorded.
    pub epochs_used: usize,
    /// The chosen rate sat at an edge of the grid after every extension.
    pub lr_at_edge: bool,
    /// Mean validation score on the selection seeds at the chosen rate;
    /// NaN without selection seeds (or not recorded).
    pub selection_score: f64,
}

/// The cells of the grid, in a fixed order (task, fraction, depth, width).
pub fn sweep_cells(tasks: usize, opts: &SweepOptions) -> Vec<Cell> {
    let mut cells = Vec::new();
    for task in 0..tasks {
        for &fraction in &opts.fractions {
            for &depth in &opts.depths {
                for &width in &opts.widths {
                    cells.push(Cell {
                        task,
                        fraction,
                        width,
                        depth,
                    });
                }
            }
        }
    }
    cells
}

/// The candidates ranked by their selection score over `records` of role
/// [`HOMOGENEOUS`], best first: the mean validation score on the separate
/// selection seeds when every candidate has one, so the scored seeds never
/// choose; otherwise (a run without selection seeds, or older files) the
/// mean validation score on the scored seeds. A candidate with a diverged
/// run ranks by −∞. The test split never chooses.
pub fn rank_by_validation<A: ActivationSet>(candidates: &[A], records: &[SweepRecord]) -> Vec<A> {
    let names: Vec<&str> = candidates.iter().map(|a| a.name()).collect();
    let scores = selection_scores(records, &names);
    let mut ranked: Vec<(f64, usize)> = scores.iter().copied().zip(0..).collect();
    // Stable: ties keep the candidates' order.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.into_iter().map(|(_, i)| candidates[i]).collect()
}

/// One score per configuration in `configs` (role [`HOMOGENEOUS`]) by which
/// baselines are chosen: [`baseline::scores`](crate::baseline::scores).
pub fn selection_scores(records: &[SweepRecord], configs: &[&str]) -> Vec<f64> {
    crate::baseline::scores(&candidates_of(records, configs)).0
}

fn candidates_of<'a>(
    records: &'a [SweepRecord],
    configs: &[&'a str],
) -> Vec<crate::baseline::Candidate<'a>> {
    configs
        .iter()
        .map(|&name| {
            let runs: Vec<&SweepRecord> = records
                .iter()
                .filter(|r| r.role == HOMOGENEOUS && r.config == name)
                .collect();
            crate::baseline::Candidate {
                name,
                // The same for every run of the configuration.
                selection_score: runs.first().map_or(f64::NAN, |r| r.selection_score),
                scored_valid: runs
                    .iter()
                    .map(|r| r.metric.score(r.valid_metric))
                    .collect(),
            }
        })
        .collect()
}

/// The baseline of one cell's records: [`baseline::choose`](crate::baseline::choose)
/// over its homogeneous configurations.
pub fn cell_baseline(records: &[SweepRecord]) -> Option<String> {
    let mut configs: Vec<&str> = records
        .iter()
        .filter(|r| r.role == HOMOGENEOUS)
        .map(|r| r.config.as_str())
        .collect();
    configs.sort_unstable();
    configs.dedup();
    crate::baseline::choose(&candidates_of(records, &configs)).map(|(i, _)| configs[i].to_string())
}

/// The mixed configurations of a cell, given its ranked candidates.
fn mixed_configs<A: ActivationSet>(
    ranked: &[A],
    candidates: &[A],
    depth: usize,
) -> Vec<(Role, Config<A>)> {
    let best2 = ranked[..ranked.len().min(2)].to_vec();
    vec![
        (
            MIXED_ROLES[0],
            Config::new(Hidden::Interleaved(best2.clone()), depth),
        ),
        (
            MIXED_ROLES[1],
            Config::new(Hidden::Branches(best2.clone()), depth),
        ),
        (MIXED_ROLES[2], Config::new(Hidden::Random(best2), depth)),
        (MIXED_ROLES[3], Config::new(Hidden::Slope(ranked[0]), depth)),
        (
            MIXED_ROLES[4],
            Config::new(Hidden::Interleaved(candidates.to_vec()), depth),
        ),
    ]
}

fn run_cell<A: ActivationSet>(
    task: &Task,
    cell: &Cell,
    candidates: &[A],
    opts: &SweepOptions,
) -> Result<Vec<SweepRecord>> {
    let task = task.clone().with_train_fraction(cell.fraction)?;
    let split = task.split(opts.suite.seeds[0])?;
    let (inputs, outputs) = (split.train.x().ncols(), split.train.y().ncols());
    let budget = Config::new(Hidden::Dense(candidates[0]), cell.depth)
        .build(inputs, outputs, cell.width, 0)?
        .param_count();
    let run = |records: &mut Vec<SweepRecord>, role: Role, config: &Config<A>| -> Result<()> {
        let width = config.width_for(inputs, outputs, budget)?;
        let results = tuned_runs(&task, config, &opts.suite, width, false)?;
        records.extend(results.runs.into_iter().map(|r| SweepRecord {
            task: r.task,
            metric: r.metric,
            fraction: cell.fraction,
            cell_width: cell.width,
            depth: cell.depth,
            role,
            config: r.config,
            seed: r.seed,
            lr: r.lr,
            width: r.width,
            params: r.params,
            valid_metric: r.valid_metric,
            test_metric: r.test_metric,
            test_loss: r.test_loss,
            epochs_used: r.epochs_used,
            lr_at_edge: r.lr_at_edge,
            selection_score: r.selection_score,
        }));
        Ok(())
    };
    let mut records = Vec::new();
    for &a in candidates {
        run(
            &mut records,
            HOMOGENEOUS,
            &Config::new(Hidden::Dense(a), cell.depth),
        )?;
    }
    let ranked = rank_by_validation(candidates, &records);
    for (role, config) in mixed_configs(&ranked, candidates, cell.depth) {
        run(&mut records, role, &config)?;
    }
    Ok(records)
}

/// Runs the cells `cells` (of [`sweep_cells`]) on rayon's pool, calling
/// `progress(done, total)` as cells finish; records come back in cell order.
///
/// # Errors
/// [`Error::Empty`] without candidates (at least two are needed for the
/// "best two" mixes), seeds or learning rates; [`Error::Format`] (before
/// any training) for a task or activation name holding a comma, quote or
/// newline; any error of a run.
pub fn run_sweep<A: ActivationSet>(
    tasks: &[Task],
    candidates: &[A],
    opts: &SweepOptions,
    cells: &[Cell],
    progress: impl Fn(usize, usize) + Sync,
) -> Result<Vec<SweepRecord>> {
    run_sweep_into(tasks, candidates, opts, cells, None, progress)
}

/// As [`run_sweep`], storing each finished cell in `dir/cells/` at once
/// (written to a temporary file, then renamed: a killed process leaves the
/// whole cell or none of it) and loading, instead of rerunning, the cells
/// already stored there: a rerun of a killed shard loses at most the cells
/// that were running.
///
/// # Errors
/// As [`run_sweep`]; [`Error::Io`] when a cell cannot be stored;
/// [`Error::Format`] for a damaged stored cell, or (before any training) a
/// task or activation name holding a comma, quote or newline, which the
/// results rows could not hold; [`Error::Io`] for a stored cell file
/// over the CSV size limit.
pub fn run_sweep_into<A: ActivationSet>(
    tasks: &[Task],
    candidates: &[A],
    opts: &SweepOptions,
    cells: &[Cell],
    dir: Option<&Path>,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<Vec<SweepRecord>> {
    for (missing, what) in [
        (candidates.len() < 2, "candidate activations (two or more)"),
        (opts.suite.seeds.is_empty(), "seeds"),
        (opts.suite.lr_grid.is_empty(), "learning rates"),
    ] {
        if missing {
            return Err(Error::Empty { what });
        }
    }
    crate::run::check_rates(&opts.suite)?;
    crate::run::check_epochs(tasks, &opts.suite)?;
    if let Some(c) = cells.iter().find(|c| c.task >= tasks.len()) {
        return Err(Error::Length {
            what: "sweep task index",
            expected: tasks.len(),
            got: c.task,
        });
    }
    // The names go into every results row: refuse a bad one before hours of training, not after.
    for name in tasks
        .iter()
        .map(|t| t.name())
        .chain(candidates.iter().map(|a| a.name()))
    {
        check_name(name)?;
    }
    let store = dir.map(|d| d.join("cells"));
    if let Some(s) = &store {
        std::fs::create_dir_all(s).map_err(|e| crate::io_error(s, e))?;
    }
    // Cells run side by side, one per core (each trains its seeds as one
    // ensemble on rayon's pool too).
    let workers = rayon::current_num_threads();
    let per_cell = execute(cells, workers, &progress, |cell| {
        let task = &tasks[cell.task];
        let path = store.as_ref().map(|s| s.join(cell.file_name(task.name())));
        resume_or_run(
            path.as_deref(),
            |p| {
                read_sweep_csv(p)
                    .and_then(|records| stored_cell_matches(p, task.name(), cell, opts, records))
            },
            || run_cell(task, cell, candidates, opts),
            |p, records| write_atomically(p, sweep_csv(records)?.as_bytes()),
        )
    });
    let mut records = Vec::new();
    for r in per_cell {
        records.extend(r?);
    }
    Ok(records)
}

/// The records of a stored cell file, if they are this cell's under this
/// protocol. File names are slugs (two task names can share one) and a
/// folder can outlive a change of seeds, so a stored file is checked rather
/// than trusted: a mismatch is an error, never a cell silently taken from
/// another task or protocol.
fn stored_cell_matches(
    path: &Path,
    task: &str,
    cell: &Cell,
    opts: &SweepOptions,
    records: Vec<SweepRecord>,
) -> Result<Vec<SweepRecord>> {
    let mismatch = |message: String| Error::Format {
        location: path.display().to_string(),
        message,
    };
    if let Some(r) = records.iter().find(|r| {
        r.task != task
            || r.fraction != cell.fraction
            || r.depth != cell.depth
            || r.cell_width != cell.width
    }) {
        return Err(mismatch(format!(
            "stored cell holds {} at fraction {}, depth {}, width {}; this sweep's cell is {task} at \
             fraction {}, depth {}, width {}",
            r.task, r.fraction, r.depth, r.cell_width, cell.fraction, cell.depth, cell.width
        )));
    }
    check_stored_seeds(
        path,
        records
            .iter()
            .filter(|r| r.role == HOMOGENEOUS)
            .map(|r| r.seed),
        &opts.suite.seeds,
    )?;
    crate::sweep_report::check_cells_whole(&records).map_err(mismatch)?;
    let tuned = !opts.suite.tuning_seeds.is_empty() && opts.suite.lr_grid.len() >= 2;
    if tuned
        && records
            .iter()
            .any(|r| r.role == HOMOGENEOUS && r.selection_score.is_nan())
    {
        return Err(mismatch(
            "stored cell was made without selection seeds (an older protocol); this sweep \
             chooses its baselines on selection seeds (use another --out folder, or merge the old \
             cells with `mixact-lab merge`)"
                .into(),
        ));
    }
    Ok(records)
}
