//! Is mixing activations better? The standard layout-comparison suite.
//!
//! ```text
//! cargo run --release --example compare_layouts                 # quick: 5 seeds, fixed lr, < 3 min, no claims
//! cargo run --release --example compare_layouts -- --standard   # 20 seeds, lr tuned on validation seeds
//! cargo run --release --example compare_layouts -- --full       # 50 seeds, longer training
//! cargo run --release --example compare_layouts -- --standard --shard 0/4 --out shard0
//! cargo run --release --example compare_layouts -- --merge shard0 shard1 shard2 shard3 --out report
//! cargo run --release --example compare_layouts -- --csv data/digits8x8.csv.gz --target label
//! cargo run --release --example compare_layouts -- --sweep            # width x depth x data map, quick
//! cargo run --release --example compare_layouts -- --sweep standard   # the full map (hours on 2 cores)
//! ```
//! `--help` lists every option with its default: `--out DIR`, `--workers N`, `--csv FILE --target COL
//! [--task classification|regression] [--classes N] [--epochs N]`, `--configs NAME,...`, `--seeds N`.
//! The report is `DIR/report.md`, with `results.csv` and PNG plots beside it.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mixact::compare::sweep::{run_sweep_into, sweep_cells, SweepOptions};
use mixact::compare::sweep_report::{read_sweep_csv, sweep_csv};
use mixact::compare::units::{merge_dirs, shard_from_env};
use mixact::compare::{
    ensure_writable_dir, run_suite_into, write_report, write_results, write_sweep_report, Config,
    Hidden, Outcome, Shard, SuiteOptions, Task, TaskKind,
};
use mixact::data::Target1d;
use mixact::{Act, ActivationSet};

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum Mode {
    Quick,
    Standard,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum SweepMode {
    Quick,
    Standard,
}

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum Kind {
    Classification,
    Regression,
}

/// Is mixing activations better? Runs the layout-comparison suite (or merges shards) and writes a report.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Args {
    /// Quick mode (default): 5 seeds, fixed learning rate, a smoke test.
    #[arg(long, group = "mode_flag")]
    quick: bool,
    /// Standard mode: 20 paired seeds, learning rates tuned on validation seeds.
    #[arg(long, group = "mode_flag")]
    standard: bool,
    /// Full mode: 50 paired seeds, longer training, a wider learning-rate grid.
    #[arg(long, group = "mode_flag")]
    full: bool,
    /// Sweep hidden width x depth x training-data fraction instead of the suite: `quick` (the
    /// default: a documented subset, minutes) or `standard` (the whole grid, 20 seeds).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "quick",
          conflicts_with_all = ["standard", "full", "csv", "configs"])]
    sweep: Option<SweepMode>,
    /// Folder for the report (checked for writing before any run).
    #[arg(long, default_value = "target/mixact-report")]
    out: PathBuf,
    /// Worker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    workers: u64,
    /// Run only shard i of n (i/n, 0-based), or `auto` (from a Slurm job array or a Kubernetes
    /// Indexed Job); each finished unit is stored in --out at once, and a rerun skips stored units.
    #[arg(long)]
    shard: Option<String>,
    /// The number of shards, for `--shard auto` under a Kubernetes Indexed Job.
    #[arg(long)]
    shards: Option<usize>,
    /// Merge the rows of these shard folders into one report (no training).
    #[arg(long, num_args = 1..)]
    merge: Vec<PathBuf>,
    /// With --merge: write the report even if units are missing, marked as partial.
    #[arg(long)]
    allow_partial: bool,
    /// Run the suite on your own CSV file (gzip or plain) instead of the built-in tasks.
    #[arg(long, requires = "target")]
    csv: Option<PathBuf>,
    /// The CSV's label (classification) or value (regression) column.
    #[arg(long)]
    target: Option<String>,
    /// What the target is [default: classification when every value is a non-negative integer].
    #[arg(long = "task", value_enum)]
    kind: Option<Kind>,
    /// Number of classes [default: one more than the largest label].
    #[arg(long)]
    classes: Option<usize>,
    /// Only these configurations (comma-separated names, e.g. "relu,mask relu+sin").
    #[arg(long, value_delimiter = ',')]
    configs: Vec<String>,
    /// Number of paired seeds [default: the mode's], 1 to 10000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    seeds: Option<u64>,
    /// Epochs for a --csv task.
    #[arg(long, default_value_t = 40)]
    epochs: usize,
}

impl Args {
    fn mode(&self) -> Mode {
        if self.standard {
            Mode::Standard
        } else if self.full {
            Mode::Full
        } else {
            Mode::Quick
        }
    }
}

/// The shard from `--shard i/n` or `--shard auto`.
fn shard_of(args: &Args) -> Result<Option<Shard>, String> {
    match args.shard.as_deref() {
        None => Ok(None),
        Some("auto") => shard_from_env(|k| std::env::var(k).ok(), args.shards)
            .map(Some)
            .map_err(|e| e.to_string()),
        Some(s) => Shard::parse(s).map(Some).map_err(|e| e.to_string()),
    }
}

/// The task for `--csv`, with its kind inferred when not given.
fn csv_task(args: &Args) -> mixact::Result<Task> {
    let path = args.csv.as_ref().expect("called with --csv");
    let target = args
        .target
        .as_deref()
        .expect("clap requires --target with --csv");
    let kind = match args.kind {
        Some(Kind::Classification) => TaskKind::Classification,
        Some(Kind::Regression) => TaskKind::Regression,
        None => {
            let table = mixact::data::read_csv(path)?;
            let col = table.column(target)?;
            let integral = table.rows().all(|r| r[col] >= 0.0 && r[col].fract() == 0.0);
            if integral {
                TaskKind::Classification
            } else {
                TaskKind::Regression
            }
        }
    };
    Ok(Task::from_csv(path, target, kind, args.classes)?.with_epochs(args.epochs))
}

fn tasks(mode: Mode) -> mixact::Result<Vec<Task>> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let long = if mode == Mode::Full { 2 } else { 1 };
    Ok(vec![
        Task::two_spirals(1.5, 0.05, 500).with_epochs(150 * long),
        Task::checkerboard(4, 1000).with_epochs(150 * long),
        Task::regression("sin6x+abs", Target1d::SinPlusAbs { w: 6.0 }, 500).with_epochs(150 * long),
        Task::regression("sin6x", Target1d::Sin { w: 6.0 }, 500).with_epochs(150 * long),
        Task::regression("abs", Target1d::Abs, 500).with_epochs(150 * long),
        Task::parity(8)?.with_epochs(200 * long),
        Task::digits(format!("{data}/digits8x8.csv.gz"))?.with_epochs(40 * long),
        Task::mnist1d(format!("{data}/mnist1d.csv.gz"))?.with_epochs(40 * long),
    ])
}

fn configs() -> Vec<Config<Act>> {
    use Act::*;
    let four = vec![Relu, Tanh, Sigmoid, Gelu];
    let relu_sin = vec![Relu, Sin];
    vec![
        Config::new(Hidden::Dense(Relu), 2),
        Config::new(Hidden::Dense(Tanh), 2),
        Config::new(Hidden::Dense(Sigmoid), 2),
        Config::new(Hidden::Dense(Gelu), 2),
        Config::new(Hidden::Dense(Sin), 2),
        Config::new(Hidden::Interleaved(four.clone()), 2),
        Config::new(Hidden::Interleaved(relu_sin.clone()), 2),
        Config::new(Hidden::Random(four), 2),
        Config::new(Hidden::Random(relu_sin), 2),
        Config::new(Hidden::Branches(vec![Relu, Tanh]), 2),
        Config::new(Hidden::DeepBranches(vec![Relu, Tanh]), 2),
        Config::new(Hidden::Mixture(vec![Relu, Tanh, Sin, Gelu]), 2),
        Config::new(Hidden::Slope(Tanh), 2),
    ]
}

fn options(mode: Mode, workers: usize) -> SuiteOptions {
    let (seeds, tuning, grid) = match mode {
        Mode::Quick => (5, 0, vec![0.01]),
        Mode::Standard => (20, 3, vec![0.003, 0.01, 0.03]),
        Mode::Full => (50, 5, vec![0.001, 0.003, 0.01, 0.03]),
    };
    suite_options(seeds, tuning, grid, workers)
}

/// Seeds 0.., tuning seeds 1000.., Adam's learning-rate grid, batch 32.
fn suite_options(seeds: u64, tuning: u64, grid: Vec<f64>, workers: usize) -> SuiteOptions {
    SuiteOptions {
        seeds: (0..seeds).collect(),
        tuning_seeds: (1000..1000 + tuning).collect(),
        lr_grid: grid,
        epochs: 100,
        batch_size: 32,
        base_width: 32,
        workers,
    }
}

fn protocol(mode: Mode, opts: &SuiteOptions, tasks: &[Task]) -> String {
    let mode_line = match mode {
        Mode::Quick => "**Quick mode: 5 seeds, fixed learning rate. A smoke test of the pipeline; it makes no claims.** \
Run `cargo run --release --example compare_layouts -- --standard` for the evidence.",
        Mode::Standard => "Standard mode: 20 paired seeds, learning rate tuned per task and configuration on separate validation seeds.",
        Mode::Full => "Full mode: 50 paired seeds, longer training, a wider learning-rate grid tuned on validation seeds.",
    };
    let epochs: Vec<String> = tasks
        .iter()
        .map(|t| format!("{} {}", t.name(), t.epochs().unwrap_or(opts.epochs)))
        .collect();
    format!(
        "{mode_line}\n\n## Protocol\n\n\
- Tasks: two spirals (1.5 turns, noise 0.05), 4 x 4 checkerboard, 1-D regression sin(6x) + |x| with the controls \
sin(6x) and |x| (x in [-2, 2]), 8-bit parity, digits 8x8 and MNIST-1D (shipped under `data/`, see `data/PROVENANCE.md`).\n\
- Networks: inputs -> 2 hidden layers -> linear output; every configuration's hidden width is chosen so its parameter \
count is closest to that of the relu network of width {} (the `params` column states it).\n\
- Paired seeds {:?}: a seed fixes the data split, the batch order and the initial weights (where shapes match).\n\
- Training: Adam, batch {}, epochs per task: {}. Learning rate: {}.\n\
- Metric: test accuracy (classification), test MSE (regression). The decisive comparison is against the best \
homogeneous activation chosen on the validation split, not against relu.\n\
- Statistics: mean ± sd over seeds; paired difference with a 95% bootstrap interval; Wilcoxon signed-rank p-value, \
Holm-corrected across all decisive comparisons; wins / ties / losses across tasks. Wall time per step and parameter \
count are beside every result.",
        opts.base_width,
        (opts.seeds.first().copied().unwrap_or(0), opts.seeds.last().copied().unwrap_or(0)),
        opts.batch_size,
        epochs.join(", "),
        if opts.tuning_seeds.is_empty() {
            format!("fixed at {}", opts.lr_grid[0])
        } else {
            format!("best of {:?} by mean validation score over tuning seeds {:?}", opts.lr_grid, opts.tuning_seeds)
        },
    )
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = <Args as clap::Parser>::parse();
    let mode = args.mode();
    let tasks = match &args.csv {
        Some(_) => vec![csv_task(&args).map_err(|e| e.to_string())?],
        None => tasks(mode).map_err(|e| e.to_string())?,
    };
    let mut opts = options(mode, args.workers as usize);
    if let Some(n) = args.seeds {
        opts.seeds = (0..n).collect();
    }
    let mut protocol_text = protocol(mode, &opts, &tasks);
    if let Some(csv) = &args.csv {
        protocol_text += &format!(
            "\n\nData: {} (target `{}`), split 60 / 20 / 20 per seed (stratified for \
classification), features standardised on each split's training part.",
            csv.display(),
            args.target.as_deref().unwrap_or("")
        );
    }
    ensure_writable_dir(&args.out).map_err(|e| e.to_string())?;
    if let Some(mode) = args.sweep {
        return sweep(&args, mode);
    }
    if !args.merge.is_empty() {
        let report = merge_dirs(&args.merge).map_err(|e| e.to_string())?;
        if !report.duplicates.is_empty() {
            eprintln!(
                "note: {} units found in more than one folder (kept once): {}",
                report.duplicates.len(),
                report.duplicates.join(", ")
            );
        }
        let mut text =
            std::fs::read_to_string(args.merge[0].join("protocol.md")).unwrap_or(protocol_text);
        if !report.missing.is_empty() {
            let list = report.missing.join(", ");
            if !args.allow_partial {
                return Err(format!(
                    "{} units missing (rerun their shards, or pass --allow-partial): {list}",
                    report.missing.len()
                ));
            }
            text = format!(
                "**Partial report: {} units missing ({list}); the verdicts below rest on incomplete data.**\n\n{text}",
                report.missing.len()
            );
        }
        println!(
            "merged {} units, {} runs",
            report.units,
            report.results.runs.len()
        );
        write_results(&args.out, &report.results).map_err(|e| e.to_string())?;
        let merged = report.results;
        let analysis = write_report(&args.out, &merged, &text).map_err(|e| e.to_string())?;
        print_verdicts(&analysis, &args.out);
        return Ok(());
    }
    let mut configs = configs();
    if !args.configs.is_empty() {
        if let Some(bad) = args
            .configs
            .iter()
            .find(|c| !configs.iter().any(|x| &x.name == *c))
        {
            let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "--configs: no configuration named \"{bad}\" (there are: {})",
                names.join(", ")
            ));
        }
        configs.retain(|c| args.configs.contains(&c.name));
        if !configs
            .iter()
            .any(|c| c.family() == mixact::compare::Family::Homogeneous)
        {
            return Err(
                "--configs: keep at least one single-activation configuration (the baseline)"
                    .into(),
            );
        }
    }
    let sharded = shard_of(&args)?;
    let shard = sharded.unwrap_or(Shard::ALL);
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} task x configuration pairs, eta {eta}",
        )
        .map_err(|e| e.to_string())?,
    );
    let start = Instant::now();
    // A shard stores each unit as it finishes, so a killed task loses one unit.
    let unit_dir = sharded.map(|_| args.out.as_path());
    let results = run_suite_into(&tasks, &configs, &opts, shard, unit_dir, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let protocol_path = args.out.join("protocol.md");
    std::fs::write(&protocol_path, &protocol_text)
        .map_err(|e| format!("{}: {e}", protocol_path.display()))?;
    if sharded.is_some() {
        write_results(&args.out, &results).map_err(|e| e.to_string())?;
        println!(
            "shard {}/{}: {} runs in {:.0} s, rows written to {}",
            shard.index,
            shard.count,
            results.runs.len(),
            start.elapsed().as_secs_f64(),
            args.out.display()
        );
        return Ok(());
    }
    let analysis = write_report(&args.out, &results, &protocol_text).map_err(|e| e.to_string())?;
    println!(
        "{} runs in {:.0} s",
        results.runs.len(),
        start.elapsed().as_secs_f64()
    );
    print_verdicts(&analysis, &args.out);
    Ok(())
}

fn print_verdicts(analysis: &mixact::compare::Analysis, out: &std::path::Path) {
    println!(
        "\n{:<40} {:>5} {:>5} {:>7}  verdict",
        "configuration", "wins", "ties", "losses"
    );
    for v in &analysis.verdicts {
        println!(
            "{:<40} {:>5} {:>5} {:>7}  {}",
            v.config, v.wins, v.ties, v.losses, v.verdict
        );
    }
    println!("\nreport: {}", out.join("report.md").display());
}

/// The sweep's grid and protocol for `mode`.
fn sweep_plan(mode: SweepMode) -> mixact::Result<(Vec<Task>, Vec<Act>, SweepOptions)> {
    use Act::*;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let (epochs_2d, epochs_data) = match mode {
        SweepMode::Quick => (60, 20),
        SweepMode::Standard => (150, 40),
    };
    let mut tasks = vec![
        Task::two_spirals(1.5, 0.05, 500).with_epochs(epochs_2d),
        Task::checkerboard(4, 1000).with_epochs(epochs_2d),
        Task::regression("sin6x+abs", Target1d::SinPlusAbs { w: 6.0 }, 500).with_epochs(epochs_2d),
    ];
    let (candidates, widths, depths, seeds, tuning, grid) = match mode {
        SweepMode::Quick => (
            vec![Relu, Tanh, Gelu, Sin],
            vec![8, 32, 128],
            vec![1, 2],
            10,
            0,
            vec![0.01],
        ),
        SweepMode::Standard => {
            tasks.push(Task::digits(format!("{data}/digits8x8.csv.gz"))?.with_epochs(epochs_data));
            tasks.push(Task::mnist1d(format!("{data}/mnist1d.csv.gz"))?.with_epochs(epochs_data));
            (
                vec![Relu, Tanh, Sigmoid, Gelu, Sin],
                vec![8, 16, 32, 64, 128, 256],
                vec![1, 2, 4],
                20,
                3,
                vec![0.003, 0.01, 0.03],
            )
        }
    };
    // The sweep runs its cells on rayon's pool, so `workers` is unused there.
    let suite = suite_options(seeds, tuning, grid, 1);
    Ok((
        tasks,
        candidates,
        SweepOptions {
            widths,
            depths,
            fractions: vec![0.25, 1.0],
            suite,
        },
    ))
}

fn sweep_protocol(
    mode: SweepMode,
    tasks: &[Task],
    candidates: &[Act],
    opts: &SweepOptions,
) -> String {
    let mode_line = match mode {
        SweepMode::Quick => "**Quick sweep: a documented subset (3 tasks, widths 8/32/128, depths 1/2, 4 \
candidate activations, 10 seeds, fixed learning rate 0.01, shorter training). A smoke test of the map; \
its cells have little power.** Run `--sweep standard` for the evidence.",
        SweepMode::Standard => "Standard sweep: 20 paired seeds per cell, learning rate tuned per cell and \
configuration on 3 separate validation seeds.",
    };
    let names: Vec<&str> = candidates.iter().map(|a| a.name()).collect();
    let epochs: Vec<String> = tasks
        .iter()
        .map(|t| format!("{} {}", t.name(), t.epochs().unwrap_or(opts.suite.epochs)))
        .collect();
    format!(
        "{mode_line}\n\n## Protocol\n\n\
- Grid: tasks {}; hidden width {:?} x depth {:?} x training-set fraction {:?} (validation and test sets are \
the same at every fraction).\n\
- In every cell the candidates {} are trained alone; the two best by mean validation score (validation data \
only) form the mixes: interleaved (`mask best2`), as branches (`branches best2`), with the interleaved counts \
arranged at random per seed (`random best2`); `slope best` is the slope-only control on the best candidate, \
`mask all` the interleave of every candidate.\n\
- Equal parameters within a cell: every configuration's width is matched to the parameter count of the {} \
network at the cell's width (the `params` column of results.csv states it).\n\
- Paired seeds {:?}..: a seed fixes the split, the subset, the batch order and the initial weights.\n\
- Training: Adam, batch {}, epochs: {}; learning rate {}.\n\
- Each mix is compared with the cell's best single activation (chosen on validation) on the test metric: \
paired differences, Wilcoxon signed-rank, Holm-corrected over every comparison of the sweep.",
        tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
        opts.widths,
        opts.depths,
        opts.fractions,
        names.join(", "),
        names[0],
        opts.suite.seeds.first().copied().unwrap_or(0),
        opts.suite.batch_size,
        epochs.join(", "),
        if opts.suite.tuning_seeds.is_empty() {
            format!("fixed at {}", opts.suite.lr_grid[0])
        } else {
            format!(
                "best of {:?} by mean validation score over tuning seeds {:?}",
                opts.suite.lr_grid, opts.suite.tuning_seeds
            )
        },
    )
}

fn sweep(args: &Args, mode: SweepMode) -> Result<(), String> {
    let (tasks, candidates, mut opts) = sweep_plan(mode).map_err(|e| e.to_string())?;
    if let Some(n) = args.seeds {
        opts.suite.seeds = (0..n).collect();
    }
    let all_cells = sweep_cells(tasks.len(), &opts);
    let protocol = sweep_protocol(mode, &tasks, &candidates, &opts);
    if !args.merge.is_empty() {
        return merge_sweep(args, &tasks, &all_cells, &protocol);
    }
    // A shard takes every n-th cell (cells of one task and fraction differ in
    // cost by width and depth, so striding spreads them).
    let sharded = shard_of(args)?;
    let shard = sharded.unwrap_or(Shard::ALL);
    let cells: Vec<_> = all_cells
        .iter()
        .enumerate()
        .filter(|(i, _)| i % shard.count == shard.index)
        .map(|(_, c)| c.clone())
        .collect();
    let bar = ProgressBar::new(cells.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} cells, eta {eta}")
            .map_err(|e| e.to_string())?,
    );
    let start = Instant::now();
    // A shard stores each cell as it finishes, so a killed task loses the running cells only.
    let cell_dir = sharded.map(|_| args.out.as_path());
    let records = run_sweep_into(&tasks, &candidates, &opts, &cells, cell_dir, |done, _| {
        bar.set_position(done as u64)
    })
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let protocol = format!(
        "{protocol}\n- Wall time: {seconds:.0} s for {} runs in {} cells on {} threads.",
        records.len(),
        cells.len(),
        rayon_threads()
    );
    if sharded.is_some() {
        let path = args.out.join("results.csv");
        let text = sweep_csv(&records).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "sweep shard {}/{}: {} cells, {} runs in {seconds:.0} s, rows written to {}",
            shard.index,
            shard.count,
            cells.len(),
            records.len(),
            path.display()
        );
        return Ok(());
    }
    let comparisons =
        write_sweep_report(&args.out, &records, &protocol).map_err(|e| e.to_string())?;
    let wins = comparisons
        .iter()
        .filter(|c| c.outcome == Outcome::Win)
        .count();
    let losses = comparisons
        .iter()
        .filter(|c| c.outcome == Outcome::Loss)
        .count();
    println!(
        "{} runs in {} cells in {seconds:.0} s: {wins} wins, {losses} losses of {} comparisons\nreport: {}",
        records.len(),
        cells.len(),
        comparisons.len(),
        args.out.join("report.md").display()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Merges the `results.csv` of sweep shard folders into one report; every
/// cell of the plan must be present (or `--allow-partial`).
fn merge_sweep(
    args: &Args,
    tasks: &[Task],
    cells: &[mixact::compare::sweep::Cell],
    protocol: &str,
) -> Result<(), String> {
    let mut records = Vec::new();
    for dir in &args.merge {
        let path = dir.join("results.csv");
        records.extend(read_sweep_csv(&path).map_err(|e| e.to_string())?);
    }
    let missing: Vec<String> = cells
        .iter()
        .filter(|c| {
            !records.iter().any(|r| {
                r.task == tasks[c.task].name()
                    && r.fraction == c.fraction
                    && r.depth == c.depth
                    && r.cell_width == c.width
            })
        })
        .map(|c| {
            format!(
                "{} {}% w{} d{}",
                tasks[c.task].name(),
                c.fraction * 100.0,
                c.width,
                c.depth
            )
        })
        .collect();
    let mut text = protocol.to_string();
    if !missing.is_empty() {
        if !args.allow_partial {
            return Err(format!(
                "{} cells missing (rerun their shards, or pass --allow-partial): {}",
                missing.len(),
                missing.join(", ")
            ));
        }
        text = format!(
            "**Partial sweep: {} cells missing ({}).**\n\n{text}",
            missing.len(),
            missing.join(", ")
        );
    }
    let comparisons = write_sweep_report(&args.out, &records, &text).map_err(|e| e.to_string())?;
    println!(
        "merged {} runs, {} comparisons\nreport: {}",
        records.len(),
        comparisons.len(),
        args.out.join("report.md").display()
    );
    Ok(())
}
