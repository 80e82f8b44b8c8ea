//! The layout-comparison suite: is mixing activations better, at equal
//! parameter count, against the best single activation, over paired seeds?
//!
//! Point it at your own data ([`Task::from_dataset`]) and your own layouts
//! ([`Config`]), or run the standard suite with
//! `mixact-lab suite` (`cargo run --release -p mixact-lab -- suite`).
//!
//! 1. [`run_suite`] trains every configuration on every task over the seeds
//!    (a seed fixes the split, the batch order and the initial weights),
//!    matching each configuration's width to the same parameter budget and
//!    optionally tuning the learning rate on separate validation seeds;
//! 2. [`analyse`] compares each non-homogeneous configuration with the best
//!    homogeneous one per task (chosen on validation data): Wilcoxon
//!    signed-rank, Holm correction, bootstrap intervals, and a verdict by the
//!    pre-stated [`RULES`];
//! 3. [`write_report`] writes `report.md`, the CSV files and (feature `plots`) PNG plots.
//!
//! Runs split into shards ([`Shard`]) whose result folders [`read_results`]
//! reads back and [`Results::merge`] joins, so a sweep can run as an array job.
//!
//! # Example
//! ```no_run
//! use mixact_lab::{analyse, run_suite, write_report, Config, Hidden, Shard, SuiteOptions, Task};
//! use mixact::Act;
//!
//! let tasks = vec![Task::two_spirals(1.5, 0.05, 400), Task::checkerboard(4, 2000)];
//! let configs = vec![
//!     Config::new(Hidden::Dense(Act::Relu), 2),
//!     Config::new(Hidden::Dense(Act::Tanh), 2),
//!     Config::new(Hidden::Interleaved(vec![Act::Relu, Act::Tanh]), 2),
//! ];
//! let opts = SuiteOptions {
//!     seeds: (0..10).collect(), tuning_seeds: vec![], lr_grid: vec![0.01],
//!     epochs: 100, batch_size: 32, base_width: 32, workers: 2,
//! };
//! let results = run_suite(&tasks, &configs, &opts, Shard::ALL, &|_, _| {})?;
//! write_report("target/my-report".as_ref(), &results, "my protocol")?;
//! println!("{:?}", analyse(&results).verdicts);
//! # Ok::<(), mixact::Error>(())
//! ```

mod config;
pub mod effect;
mod errors;
pub(crate) use errors::{check_hyper, io_error};
mod files;
mod metric;
pub mod plot;
mod probes;
mod report;
mod results;
mod run;
pub mod stats;
pub mod sweep;
pub mod sweep_effects;
pub mod sweep_report;
mod task;
pub mod units;

use std::path::Path;

pub use config::{Config, Family, Hidden};
pub use files::{ensure_writable_dir, read_results, write_results};
pub use metric::Metric;
pub use report::Claim;
pub use report::{analyse, render_markdown, Analysis, Comparison, Outcome, Verdict, ALPHA, RULES};
pub use results::{CurvePoint, GroupStat, GroupSummary, Results, RunRecord, SurfacePoint};
pub use run::{plan_units, run_suite, run_suite_into, Shard, SuiteOptions};
pub use task::{PlotKind, Split, Task, TaskKind};

use mixact::{Error, Result};

/// Writes the CSV files, the plots (feature `plots`) and `report.md` into `dir`.
/// Returns the analysis the report states.
///
/// # Errors
/// [`Error::Io`] when the folder or a file cannot be written.
pub fn write_report(dir: &Path, results: &Results, protocol: &str) -> Result<Analysis> {
    write_results(dir, results)?;
    let analysis = analyse(results);
    let plots = draw_plots(dir, results, &analysis)?;
    let md = render_markdown(results, &analysis, protocol, &plots);
    let path = dir.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(analysis)
}

fn draw_plots(dir: &Path, results: &Results, analysis: &Analysis) -> Result<Vec<String>> {
    let mut tasks: Vec<String> = Vec::new();
    let mut configs: Vec<String> = Vec::new();
    for r in &results.runs {
        if !tasks.contains(&r.task) {
            tasks.push(r.task.clone());
        }
        if !configs.contains(&r.config) {
            configs.push(r.config.clone());
        }
    }
    let mut files = Vec::new();
    for t in &tasks {
        files.push(plot::learning_curves(dir, results, t, &configs)?);
        let Some(base) = analysis.baselines.get(t) else {
            continue;
        };
        // The best non-homogeneous configuration on this task, by mean paired difference.
        let best_mixed = analysis
            .comparisons
            .iter()
            .filter(|c| &c.task == t && c.mean_diff.is_finite())
            .max_by(|a, b| a.mean_diff.total_cmp(&b.mean_diff))
            .map(|c| c.config.clone());
        let has_surface = results.surfaces.iter().any(|p| &p.task == t);
        if let (Some(mixed), true) = (best_mixed, has_surface) {
            let two_d = results.surfaces.iter().any(|p| &p.task == t && p.y != 0.0);
            files.push(if two_d {
                plot::decision_regions(dir, results, t, base, &mixed)?
            } else {
                plot::fitted_curves(dir, results, t, &[base.clone(), mixed])?
            });
        }
    }
    if !results.groups.is_empty() {
        files.push(plot::activation_groups(dir, results)?);
    }
    Ok(files)
}

/// Writes a sweep's `results.csv`, its heatmaps (feature `plots`: one per
/// task and data fraction, width x depth, of the interleaved best-two mix's
/// mean paired difference to the cell's best single activation) and
/// `report.md` into `dir`. Returns the comparisons the report states.
///
/// # Errors
/// [`Error::Io`] when the folder or a file cannot be written;
/// [`Error::Format`] for a name that cannot go into a CSV row
/// ([`sweep_csv`](sweep_report::sweep_csv)).
pub fn write_sweep_report(
    dir: &Path,
    records: &[sweep::SweepRecord],
    protocol: &str,
) -> Result<Vec<sweep_report::CellComparison>> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    write("results.csv", &sweep_report::sweep_csv(records)?)?;
    let comparisons = sweep_report::analyse_sweep(records);
    let margin = effect::DEFAULT_MARGIN;
    let cell_effects = sweep_effects::cell_effects(records);
    let group_effects = sweep_effects::group_effects(records);
    write(
        "comparisons.csv",
        &sweep_effects::comparisons_csv(&cell_effects, margin),
    )?;
    let maps = draw_heatmaps(dir, &comparisons)?;
    let mut md = String::from("# Where does mixing win? The sweep\n\n");
    md += &sweep_effects::answer(&group_effects, &cell_effects, margin);
    md += "\nEvery cell and arm, with its interval, p, Holm p and detectable effect: \
[`comparisons.csv`](comparisons.csv).\n\n";
    md += protocol;
    md += "\n\n";
    md += &sweep_report::where_mixing_helps(&comparisons);
    if !maps.is_empty() {
        md += "\n## Heatmaps\n\nMean paired test-score difference of the interleaved best-two mix to \
the cell's best single activation (accuracy, or −MSE; positive: the mix is better), width x depth, one \
map per task and training-data fraction; `*` marks Holm-corrected p < 0.05.\n\n";
        for m in &maps {
            md += &format!("![{m}]({m})\n");
        }
    }
    md += "\n## Every comparison\n\n";
    md += &sweep_report::comparison_table(&comparisons);
    write("report.md", &md)?;
    Ok(comparisons)
}

fn draw_heatmaps(dir: &Path, comparisons: &[sweep_report::CellComparison]) -> Result<Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let role = sweep::MIXED_ROLES[0];
    let mut maps: BTreeMap<(String, u32), Vec<&sweep_report::CellComparison>> = BTreeMap::new();
    for c in comparisons.iter().filter(|c| c.role == role) {
        maps.entry((c.cell.0.clone(), c.cell.1))
            .or_default()
            .push(c);
    }
    let mut files = Vec::new();
    for ((task, per_mille), cs) in maps {
        let depths: Vec<usize> = cs
            .iter()
            .map(|c| c.cell.2)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let widths: Vec<usize> = cs
            .iter()
            .map(|c| c.cell.3)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut values = vec![vec![f64::NAN; widths.len()]; depths.len()];
        let mut marks = vec![vec![false; widths.len()]; depths.len()];
        for c in cs {
            let r = depths.iter().position(|&d| d == c.cell.2).unwrap_or(0);
            let k = widths.iter().position(|&w| w == c.cell.3).unwrap_or(0);
            values[r][k] = c.mean_diff;
            marks[r][k] = c.outcome != Outcome::Tie;
        }
        let fraction = per_mille as f64 / 10.0;
        let file = format!("heatmap_{}_{}pct.png", plot::slug(&task), fraction);
        files.push(plot::heatmap(
            dir,
            &file,
            &format!("{task}, {fraction}% of the training data: {role} vs best single"),
            "width",
            &widths.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "depth",
            &depths.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            &values,
            &marks,
        )?);
    }
    Ok(files)
}
