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
//!    pre-stated [`RULES`] (the verdict: the pooled error ratio's interval against the margin);
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
//!     optimiser: mixact_lab::Optimiser::Adam,
//!     epochs: 100, batch_size: 32, base_width: 32, workers: 2,
//!     patience: Some(20), lr_extensions: 0,
//! };
//! let results = run_suite(&tasks, &configs, &opts, Shard::ALL, &|_, _| {})?;
//! write_report("target/my-report".as_ref(), &results, "my protocol")?;
//! println!("{:?}", analyse(&results).verdicts);
//! # Ok::<(), mixact::Error>(())
//! ```

pub mod baseline;
mod config;
pub mod confirm;
pub mod effect;
mod errors;
pub(crate) use errors::{check_hyper, io_error};
mod files;
pub use files::read_text_bounded;
mod metric;
mod optimiser;
pub mod plot;
mod probes;
mod report;
mod results;
pub mod role;
mod run;
pub mod stats;
mod store;
pub mod study;
pub mod suite_effects;
pub mod sweep;
pub mod sweep_effects;
pub mod sweep_report;
mod task;
pub mod units;

use std::path::Path;

pub use config::{Config, Family, Hidden};
pub use files::{ensure_writable_dir, read_results, write_results};
pub use metric::Metric;
pub use optimiser::Optimiser;
pub use report::{analyse, render_markdown, Analysis, Comparison, Outcome, Verdict, ALPHA, RULES};
pub use results::{CurvePoint, GroupStat, GroupSummary, Results, RunRecord, SurfacePoint};
pub use run::{plan_units, run_suite, run_suite_into, Shard, SuiteOptions};
pub use task::{PlotKind, Split, Task, TaskKind, SYNTHETIC_TEST_POINTS};

use mixact::{Error, Result};

/// Writes the CSV files, the plots (feature `plots`) and `report.md` into `dir`.
/// Returns the analysis the report states.
///
/// # Errors
/// [`Error::Io`] when the folder or a file cannot be written.
pub fn write_report(dir: &Path, results: &Results, protocol: &str) -> Result<Analysis> {
    write_results(dir, results)?;
    let analysis = analyse(results);
    let path = dir.join("comparisons.csv");
    std::fs::write(&path, suite_effects::comparisons_csv(&analysis.effects))
        .map_err(|e| io_error(&path, e))?;
    let mut plots = vec![suite_forest(dir, &analysis)?];
    plots.extend(draw_plots(dir, results, &analysis)?);
    let md = render_markdown(results, &analysis, protocol, &plots);
    let path = dir.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(analysis)
}

/// The suite's forest plot: every configuration over all tasks, then the
/// fixed mixes task by task.
fn suite_forest(dir: &Path, analysis: &Analysis) -> Result<String> {
    use plot::ForestRow;
    let row = |e: &suite_effects::SuiteEffect, label: String| {
        Some(ForestRow {
            label,
            ratio: e.effect.ratio,
            low: e.effect.low,
            high: e.effect.high,
        })
    };
    let all = suite_effects::ALL_TASKS;
    let mut rows: Vec<Option<ForestRow>> = analysis
        .effects
        .iter()
        .filter(|e| e.task == all)
        .map(|e| row(e, format!("all tasks: {}", e.config)))
        .collect();
    let mut per_task: Vec<&suite_effects::SuiteEffect> = analysis
        .effects
        .iter()
        .filter(|e| e.task != all && e.primary)
        .collect();
    // Task by task (stable: configurations keep their order within a task).
    per_task.sort_by(|a, b| a.task.cmp(&b.task));
    let mut last_task = "";
    for e in per_task {
        if e.task != last_task {
            rows.push(None);
            last_task = &e.task;
        }
        rows.push(row(e, format!("{}: {}", e.task, e.config)));
    }
    plot::forest(
        dir,
        report::FOREST_PLOT,
        "Test-error ratio to each task's best single activation",
        &rows,
        effect::DEFAULT_MARGIN,
    )
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
    let maps = draw_heatmaps(dir, &cell_effects)?;
    let forest = sweep_forest(dir, &group_effects)?;
    let mut md = String::from("# Where does mixing win? The sweep\n\n");
    if let Some(first) = protocol
        .split("\n\n")
        .next()
        .filter(|p| p.starts_with("**Partial"))
    {
        md += first;
        md += "\n\n**Everything below is computed on the finished cells only.**\n\n";
    }
    md += &sweep_effects::answer(
        &group_effects,
        &cell_effects,
        margin,
        sweep_effects::BaselineSource::of(records),
    );
    md += &format!("\n![{forest}]({forest})\n");
    md += "\nEvery cell and arm, with its interval, p, Holm p and detectable effect: \
[`comparisons.csv`](comparisons.csv).\n\n";
    md += protocol;
    md += "\n\n";
    md += &sweep_report::where_mixing_helps(&comparisons);
    if !maps.is_empty() {
        md += "\n## Heatmaps\n\nTest-error ratio of the best-two mix (its three arrangements pooled) to \
the cell's best single activation, width x depth, one map per task and training-data fraction, all on one \
log colour scale (blue: less error, red: more); each cell names the pair and the baseline; `*` marks a 95% \
interval that excludes 1 (before any multiplicity correction; `comparisons.csv` has the Holm p).\n\n";
        for m in &maps {
            md += &format!("![{m}]({m})\n");
        }
    }
    md += "\n## Every comparison\n\n";
    md += &sweep_report::comparison_table(&comparisons);
    write("report.md", &md)?;
    Ok(comparisons)
}

/// Writes the confirmation's `results.csv`, `comparisons.csv`, its forest
/// plot (every cell, then the three tested groups) and `report.md`: the
/// pre-declared rules first, then the outcomes the rules give, the forest
/// plot, the training health, the protocol and the sweep-style effect
/// sizes. Returns the decisions.
///
/// # Errors
/// [`Error::Io`] when the folder or a file cannot be written;
/// [`Error::Format`] for a name that cannot go into a CSV row.
pub fn write_confirm_report(
    dir: &Path,
    records: &[sweep::SweepRecord],
    protocol: &str,
) -> Result<Vec<confirm::Decision>> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io_error(&path, e))
    };
    write("results.csv", &sweep_report::sweep_csv(records)?)?;
    let margin = effect::DEFAULT_MARGIN;
    let cell_effects = sweep_effects::cell_effects(records);
    write(
        "comparisons.csv",
        &sweep_effects::comparisons_csv(&cell_effects, margin),
    )?;
    let decisions = confirm::decide(records);
    let mut rows: Vec<Option<plot::ForestRow>> = decisions
        .iter()
        .filter_map(|d| {
            d.effect.map(|e| plot::ForestRow {
                label: format!("{}: {}", d.name, d.outcome.label()),
                ratio: e.ratio,
                low: e.low,
                high: e.high,
            })
        })
        .map(Some)
        .collect();
    let mut last_task = String::new();
    for e in cell_effects
        .iter()
        .filter(|e| e.arm == sweep_effects::Arm::BestTwoPooled)
    {
        if e.cell.0 != last_task {
            rows.push(None);
            last_task.clone_from(&e.cell.0);
        }
        rows.push(Some(plot::ForestRow {
            label: format!(
                "{} {} d{} w{}",
                e.cell.0,
                sweep_report::fraction_label(e.cell.1),
                e.cell.2,
                e.cell.3
            ),
            ratio: e.effect.ratio,
            low: e.effect.low,
            high: e.effect.high,
        }));
    }
    let forest = plot::forest(
        dir,
        "forest.png",
        "Confirmation: best-two mix / best single, by test and by cell",
        &rows,
        effect::DEFAULT_MARGIN,
    )?;
    let mut md = String::from("# The confirmation: pre-registered H1 and H2\n\n");
    if let Some(first) = protocol
        .split("\n\n")
        .next()
        .filter(|p| p.starts_with("**Partial"))
    {
        md += first;
        md += "\n\n**The outcomes below are computed on the finished cells only: they are not the \
pre-registered result, which needs every cell.**\n\n";
    }
    md += "## Hypotheses and decision rules (fixed in the code before the run: `mixact_lab::confirm`)\n\n";
    md += confirm::RULES;
    md += "\n\n";
    md += &confirm::outcomes_markdown(&decisions);
    md += &format!("![{forest}]({forest})\n\n");
    md += &confirm::health_markdown(records);
    md += protocol;
    md += "\n\n";
    let groups = sweep_effects::group_effects(records);
    md += &sweep_effects::answer(
        &groups,
        &cell_effects,
        margin,
        sweep_effects::BaselineSource::of(records),
    );
    md += "\nEvery cell and arm, with its interval, p, Holm p (within the sweep-style families) and detectable \
effect: [`comparisons.csv`](comparisons.csv); every run: [`results.csv`](results.csv).\n";
    write("report.md", &md)?;
    Ok(decisions)
}

/// One error-ratio heatmap per task and data fraction (width x depth) of
/// the pooled best-two mix, every map on one shared log scale.
fn draw_heatmaps(dir: &Path, effects: &[sweep_effects::CellEffect]) -> Result<Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let arm = sweep_effects::Arm::BestTwoPooled;
    let mine: Vec<&sweep_effects::CellEffect> = effects.iter().filter(|e| e.arm == arm).collect();
    // One scale for all maps: the largest |log ratio|, at least ±10%, at most x4.
    let scale = mine
        .iter()
        .map(|e| e.effect.ratio.ln().abs())
        .filter(|v| v.is_finite())
        .fold(1.1f64.ln(), f64::max)
        .min(4f64.ln());
    let mut maps: BTreeMap<(String, u32), Vec<&sweep_effects::CellEffect>> = BTreeMap::new();
    for e in mine {
        maps.entry((e.cell.0.clone(), e.cell.1))
            .or_default()
            .push(e);
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
        let mut cells = vec![vec![None; widths.len()]; depths.len()];
        for c in cs {
            let r = depths.iter().position(|&d| d == c.cell.2).unwrap_or(0);
            let k = widths.iter().position(|&w| w == c.cell.3).unwrap_or(0);
            let pair = c
                .configs
                .split(" | ")
                .next()
                .unwrap_or("")
                .trim_start_matches("mask ");
            cells[r][k] = Some(plot::RatioCell {
                ratio: c.effect.ratio,
                excludes_one: c.effect.high < 1.0 || c.effect.low > 1.0,
                note: format!("{pair} vs {}", c.baseline),
            });
        }
        let fraction = per_mille as f64 / 10.0;
        let file = format!("heatmap_{}_{}pct.png", plot::slug(&task), fraction);
        files.push(plot::ratio_heatmap(
            dir,
            &file,
            &format!("{task}, {fraction}% of the training data: best-two mix / best single"),
            "width",
            &widths.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "depth",
            &depths.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            &cells,
            scale,
        )?);
    }
    Ok(files)
}

/// The sweep's forest plot: the pooled best-two mix by group, then every
/// arm over all cells.
fn sweep_forest(dir: &Path, groups: &[sweep_effects::GroupEffect]) -> Result<String> {
    use plot::ForestRow;
    use sweep_effects::Arm;
    let row = |g: &sweep_effects::GroupEffect, label: String| {
        Some(ForestRow {
            label,
            ratio: g.effect.ratio,
            low: g.effect.low,
            high: g.effect.high,
        })
    };
    let mut rows = Vec::new();
    let mut last_kind = "";
    for g in groups.iter().filter(|g| g.arm == Arm::BestTwoPooled) {
        // Groups of one kind (task, depth, data, task x depth) together.
        let kind = if g.group == "all cells" {
            "all"
        } else if g.group.starts_with("task ") {
            "task"
        } else if g.group.starts_with("depth ") {
            "depth"
        } else if g.group.starts_with("data ") {
            "data"
        } else {
            "task x depth"
        };
        if kind != last_kind && !last_kind.is_empty() {
            rows.push(None);
        }
        last_kind = kind;
        rows.push(row(g, format!("best2 pooled: {}", g.group)));
    }
    rows.push(None);
    for g in groups
        .iter()
        .filter(|g| g.arm != Arm::BestTwoPooled && g.group == "all cells")
    {
        rows.push(row(g, format!("{}: all cells", g.arm.name())));
    }
    plot::forest(
        dir,
        "forest.png",
        "Sweep: test-error ratio to each cell's best single activation",
        &rows,
        effect::DEFAULT_MARGIN,
    )
}
