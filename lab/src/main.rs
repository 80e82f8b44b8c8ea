//! `mixact-lab`: is mixing activations better? Trains layouts side by side
//! over paired seeds and writes a report.
//!
//! ```text
//! mixact-lab suite                      # quick: 5 seeds, fixed lr, < 3 min, no claims
//! mixact-lab suite standard             # 20 seeds, lr tuned on validation seeds
//! mixact-lab suite full                 # 50 seeds, longer training
//! mixact-lab suite standard --shard 0/4 --out shard0
//! mixact-lab merge shard0 shard1 shard2 shard3 --out report
//! mixact-lab suite --csv data/digits8x8.csv.gz --target label
//! mixact-lab sweep                      # width x depth x data map, quick
//! mixact-lab sweep standard             # the full map (hours on 2 cores)
//! mixact-lab confirm                    # the pre-registered H1/H2 confirmation
//! mixact-lab inr|laaf|symbolic|midscale # a published claim, tested head-on (--quick: minutes)
//! ```
//! From the repository: `cargo run --release -p mixact-lab -- suite`; installed:
//! `cargo install --path lab`. `mixact-lab COMMAND --help` lists every option.
//! The report is `DIR/report.md`, with `results.csv` and PNG plots beside it.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mixact::data::Target1d;
use mixact::{Act, ActivationSet};
use mixact_lab::study::{read_cells, run_study, write_study_report, Study};
use mixact_lab::sweep::{run_sweep_into, sweep_cells, SweepOptions};
use mixact_lab::sweep_report::{dedup_sweep_records, read_sweep_dir, sweep_csv};
use mixact_lab::units::{assign, merge_dirs, shard_from_env, WorkUnit};
use mixact_lab::{
    ensure_writable_dir, run_suite_into, write_confirm_report, write_report, write_results,
    write_sweep_report, Config, Hidden, Outcome, Shard, SuiteOptions, Task, TaskKind,
};

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
    /// The pre-registered confirmation (`mixact-lab confirm`): a sweep-shaped
    /// grid, its own seeds, its own report.
    #[value(skip)]
    Confirm,
    /// `mixact-lab confirm --quick`: the same code on a documented subset.
    #[value(skip)]
    ConfirmQuick,
}

impl SweepMode {
    fn is_confirm(self) -> bool {
        matches!(self, SweepMode::Confirm | SweepMode::ConfirmQuick)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum Kind {
    Classification,
    Regression,
}

/// Is mixing activations better? The mixact lab trains layouts side by side over paired seeds
/// and writes a report (report.md, results.csv, plots) into --out.
#[derive(Debug, clap::Parser)]
#[command(name = "mixact-lab", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// The layout-comparison suite: every layout on every task over paired seeds.
    Suite(SuiteArgs),
    /// Hidden width x depth x training-data fraction, the best-two mix against the best single.
    Sweep(SweepArgs),
    /// The pre-registered confirmation of the sweep's two strongest signals (H1: depth-1 losses
    /// are a training artefact; H2: deep mixes help on sin(6x)+|x|), decided by rules fixed in code.
    Confirm(ConfirmArgs),
    /// Symbolic formulas (KAN's one winning setting): per-neuron mixes of sin, tanh, relu, x² and
    /// identity against the best single activation at equal parameters; docs/symbolic-report/.
    Symbolic(StudyArgs),
    /// Locally adaptive activations (Jagtap et al.): layer- and neuron-wise adaptive tanh, with and
    /// without slope recovery, against the best fixed activation, in steps to a training-loss
    /// threshold; docs/laaf-report/.
    Laaf(StudyArgs),
    /// Implicit neural representations: relu, Fourier features, gelu, SIREN and sine/relu mixes fitting
    /// a 1-D signal and two 64x64 images from coordinates, scored by PSNR; docs/inr-report/.
    Inr(StudyArgs),
    /// Mid-scale: MNIST-1D regenerated at 40 000 samples, MLP 2 x 256, the best-two mix, the learned
    /// mixture and a learned slope against the best single on test log-loss; docs/midscale-report/.
    Midscale(StudyArgs),
    /// Merge the shard folders of a suite, a sweep, a confirmation or a study into one report (no
    /// training).
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
struct StudyArgs {
    /// A documented smaller version (fewer cells, seeds and epochs): the same code in a few
    /// minutes, no claims.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    common: Common,
}

/// The literature studies, by subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StudyKind {
    Symbolic,
    Laaf,
    Inr,
    Midscale,
}

impl StudyKind {
    const ALL: [StudyKind; 4] = [
        StudyKind::Inr,
        StudyKind::Laaf,
        StudyKind::Symbolic,
        StudyKind::Midscale,
    ];

    fn name(self) -> &'static str {
        match self {
            StudyKind::Symbolic => "symbolic",
            StudyKind::Laaf => "laaf",
            StudyKind::Inr => "inr",
            StudyKind::Midscale => "midscale",
        }
    }

    fn build(self, quick: bool) -> Box<dyn Study> {
        match self {
            StudyKind::Symbolic => Box::new(mixact_lab::study::symbolic::Symbolic { quick }),
            StudyKind::Laaf => Box::new(mixact_lab::study::laaf::Laaf { quick }),
            StudyKind::Inr => Box::new(mixact_lab::study::inr::Inr { quick }),
            StudyKind::Midscale => Box::new(mixact_lab::study::midscale::Midscale { quick }),
        }
    }
}

/// What every training mode takes.
#[derive(Debug, clap::Args)]
struct Common {
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
    /// Number of paired seeds [default: the mode's], 1 to 10000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    seeds: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct SuiteArgs {
    /// quick: 5 seeds, fixed learning rate, a smoke test; standard: 20 paired seeds, learning
    /// rates tuned on validation seeds; full: 50 seeds, longer training, a wider grid.
    #[arg(value_enum, default_value = "quick")]
    mode: Mode,
    #[command(flatten)]
    common: Common,
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
    /// Epochs for a --csv task, at least 1.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    epochs: u64,
}

#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// quick: a documented subset, minutes; standard: the whole grid, 20 seeds (hours).
    #[arg(value_enum, default_value = "quick")]
    mode: SweepMode,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, clap::Args)]
struct ConfirmArgs {
    /// A documented smaller version (widths 8 and 32, all the data, 8 seeds, shorter budgets):
    /// the same code in a few minutes, no claims.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The shard folders.
    #[arg(required = true, num_args = 1..)]
    dirs: Vec<PathBuf>,
    /// Folder for the merged report.
    #[arg(long, default_value = "target/mixact-report")]
    out: PathBuf,
    /// Write the report even if units are missing, marked as partial.
    #[arg(long)]
    allow_partial: bool,
}

/// One flat view of a command's settings, for the functions below.
#[derive(Debug, Default)]
struct Args {
    mode: Option<Mode>,
    sweep: Option<SweepMode>,
    out: PathBuf,
    workers: u64,
    shard: Option<String>,
    shards: Option<usize>,
    merge: Vec<PathBuf>,
    allow_partial: bool,
    csv: Option<PathBuf>,
    target: Option<String>,
    kind: Option<Kind>,
    classes: Option<usize>,
    configs: Vec<String>,
    seeds: Option<u64>,
    epochs: usize,
}

/// The file a training mode leaves in its --out folder, so `merge` knows
/// whether it merges a suite or a sweep, and which plan.
const PLAN_FILE: &str = "lab-plan.txt";

/// Paired seeds a `--csv` task runs unless `--seeds` says otherwise: enough
/// for the paired tests to reach a verdict (at least 6 are needed).
const CSV_SEEDS: u64 = 20;

impl Args {
    fn from_common(c: Common) -> Self {
        Args {
            out: c.out,
            workers: c.workers,
            shard: c.shard,
            shards: c.shards,
            seeds: c.seeds,
            epochs: 40,
            ..Args::default()
        }
    }

    fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Quick)
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
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");
    // Epochs are a budget: validation early stopping (patience per task)
    // ends a run when it stops improving and keeps its best weights.
    let long = if mode == Mode::Quick { 1 } else { 2 };
    Ok(vec![
        Task::two_spirals(1.5, 0.05, 500)
            .with_epochs(150 * long)
            .with_patience(30),
        Task::checkerboard(4, 1000)
            .with_epochs(150 * long)
            .with_patience(30),
        Task::regression("sin6x+abs", Target1d::SinPlusAbs { w: 6.0 }, 500)
            .with_epochs(150 * long)
            .with_patience(30),
        Task::regression("sin6x", Target1d::Sin { w: 6.0 }, 500)
            .with_epochs(150 * long)
            .with_patience(30),
        Task::regression("abs", Target1d::Abs, 500)
            .with_epochs(150 * long)
            .with_patience(30),
        Task::parity(8)?.with_epochs(200 * long).with_patience(40),
        Task::digits(format!("{data}/digits8x8.csv.gz"))?
            .with_epochs(40 * long)
            .with_patience(10),
        Task::mnist1d(format!("{data}/mnist1d.csv.gz"))?
            .with_epochs(40 * long)
            .with_patience(10),
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
    let (seeds, selection, grid, extensions) = match mode {
        Mode::Quick => (5, 2, vec![0.003, 0.01, 0.03], 1),
        Mode::Standard => (20, 5, vec![0.001, 0.003, 0.01, 0.03, 0.1], 2),
        Mode::Full => (50, 5, vec![0.0003, 0.001, 0.003, 0.01, 0.03, 0.1], 3),
    };
    suite_options(seeds, selection, grid, extensions, workers)
}

/// Seeds 0.., selection (tuning) seeds 1000.., Adam's learning-rate grid
/// (grown by up to `extensions` steps per side when the best rate is at an
/// edge), batch 32, validation early stopping with patience 20 unless a task
/// sets its own.
fn suite_options(
    seeds: u64,
    selection: u64,
    grid: Vec<f64>,
    extensions: usize,
    workers: usize,
) -> SuiteOptions {
    SuiteOptions {
        seeds: (0..seeds).collect(),
        tuning_seeds: (1000..1000 + selection).collect(),
        lr_grid: grid,
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 100,
        patience: Some(20),
        lr_extensions: extensions,
        batch_size: 32,
        base_width: 32,
        workers,
    }
}

/// "best of [..] (grown by up to N steps per side while the best rate is at
/// an edge) by mean validation score over selection seeds [..]".
fn lr_text(opts: &SuiteOptions) -> String {
    if opts.tuning_seeds.is_empty() || opts.lr_grid.len() < 2 {
        format!("fixed at {}", opts.lr_grid[0])
    } else {
        format!(
            "best of {:?} (the grid grows by up to {} steps per side while the best rate is at its edge) \
by mean validation score over selection seeds {:?}",
            opts.lr_grid, opts.lr_extensions, opts.tuning_seeds
        )
    }
}

fn patience_text(tasks: &[Task], opts: &SuiteOptions) -> Vec<String> {
    tasks
        .iter()
        .map(|t| match t.patience().or(opts.patience) {
            Some(p) => format!("{} {p}", t.name()),
            None => format!("{} none", t.name()),
        })
        .collect()
}

fn protocol(mode: Mode, opts: &SuiteOptions, tasks: &[Task]) -> String {
    let (n, m) = (opts.seeds.len(), opts.tuning_seeds.len());
    let mode_line = match mode {
        Mode::Quick if n < 6 => format!(
            "**Quick mode: {n} scored seeds, {m} selection seeds, a {}-rate grid. A smoke test of the pipeline; \
its intervals are wide and it makes no claims.** Run `mixact-lab suite standard` for the evidence.",
            opts.lr_grid.len()
        ),
        Mode::Quick => format!(
            "Quick mode with {n} scored seeds: {m} selection seeds, a {}-rate grid, the quick epoch budget.",
            opts.lr_grid.len()
        ),
        Mode::Standard => format!(
            "Standard mode: {n} scored seeds; learning rate and baselines chosen on {m} separate selection seeds."
        ),
        Mode::Full => format!(
            "Full mode: {n} scored seeds, a wider learning-rate grid; learning rate and baselines chosen on {m} \
separate selection seeds."
        ),
    };
    let epochs: Vec<String> = tasks
        .iter()
        .map(|t| format!("{} {}", t.name(), t.epochs().unwrap_or(opts.epochs)))
        .collect();
    let patience = patience_text(tasks, opts);
    format!(
        "{mode_line}\n\n## Protocol\n\n\
- Tasks: two spirals (1.5 turns, noise 0.05), 4 x 4 checkerboard, 1-D regression sin(6x) + |x| with the controls \
sin(6x) and |x| (x in [-2, 2]), 8-bit parity, digits 8x8 and MNIST-1D (shipped under `data/`, see `data/PROVENANCE.md`).\n\
- Networks: inputs -> 2 hidden layers -> linear output; every configuration's hidden width is chosen so its parameter \
count is closest to that of the relu network of width {} (the `params` column states it).\n\
- Paired seeds {:?}: a seed fixes the data split, the batch order and the initial weights (where shapes match).\n\
- Training: {}, batch {}, epoch budget per task: {}; validation early stopping (patience per task: {}; the \
best epoch's weights are kept). Learning rate: {}.\n\
- Metric: test error (1 - accuracy, or MSE) and test loss. The decisive comparison is against the best \
homogeneous activation by mean validation score on the selection seeds (never on the scored seeds), not against relu.\n\
- Statistics: first the test-error ratio to the baseline (geometric mean over paired seeds, 95% seed-bootstrap \
interval, verdict against a ±5% equivalence margin); then the paired difference with a 95% bootstrap interval, \
Wilcoxon signed-rank p-value, Holm-corrected across all decisive comparisons; wins / ties / losses across tasks. Wall \
time per step and parameter count are beside every result.",
        opts.base_width,
        (opts.seeds.first().copied().unwrap_or(0), opts.seeds.last().copied().unwrap_or(0)),
        opts.optimiser.describe(),
        opts.batch_size,
        epochs.join(", "),
        patience.join(", "),
        lr_text(opts),
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
    let args = match <Cli as clap::Parser>::parse().command {
        Command::Suite(a) => Args {
            mode: Some(a.mode),
            csv: a.csv,
            target: a.target,
            kind: a.kind,
            classes: a.classes,
            configs: a.configs,
            epochs: usize::try_from(a.epochs).unwrap_or(usize::MAX),
            ..Args::from_common(a.common)
        },
        Command::Sweep(a) => Args {
            sweep: Some(a.mode),
            ..Args::from_common(a.common)
        },
        Command::Confirm(a) => Args {
            sweep: Some(if a.quick {
                SweepMode::ConfirmQuick
            } else {
                SweepMode::Confirm
            }),
            ..Args::from_common(a.common)
        },
        Command::Symbolic(a) => return study_command(StudyKind::Symbolic, a),
        Command::Laaf(a) => return study_command(StudyKind::Laaf, a),
        Command::Inr(a) => return study_command(StudyKind::Inr, a),
        Command::Midscale(a) => return study_command(StudyKind::Midscale, a),
        Command::Merge(a) => {
            ensure_writable_dir(&a.out).map_err(|e| e.to_string())?;
            let plan = read_plan(&a.dirs)?;
            let args = Args {
                out: a.out,
                merge: a.dirs,
                allow_partial: a.allow_partial,
                workers: 1,
                ..Args::default()
            };
            return match plan {
                Some(Plan::Study(kind, quick)) => merge_study(&args, kind.build(quick).as_ref()),
                Some(Plan::Sweep(mode)) => sweep(&args, mode),
                Some(Plan::Suite(mode)) => merge_suite(&args, Some(mode)),
                None => merge_suite(&args, None),
            };
        }
    };
    let mode = args.mode();
    let tasks = match &args.csv {
        Some(_) => vec![csv_task(&args).map_err(|e| e.to_string())?],
        None => tasks(mode).map_err(|e| e.to_string())?,
    };
    let mut opts = options(mode, args.workers as usize);
    if let Some(n) = args.seeds {
        opts.seeds = (0..n).collect();
    } else if args.csv.is_some() && opts.seeds.len() < CSV_SEEDS as usize {
        // A user's own data should get an answer, not a smoke test.
        opts.seeds = (0..CSV_SEEDS).collect();
        eprintln!(
            "note: a --csv task runs {CSV_SEEDS} paired seeds by default (pass --seeds N to change it)"
        );
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
        write_plan(&args.out, Plan::Sweep(mode))?;
        return sweep(&args, mode);
    }
    write_plan(&args.out, Plan::Suite(mode))?;
    if opts.seeds.len() < 6 {
        eprintln!(
            "note: with {} seeds no paired test can reach p < 0.05 and intervals are wide; \
pass --seeds 20 (at least 6) for a verdict",
            opts.seeds.len()
        );
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
            .any(|c| c.family() == mixact_lab::Family::Homogeneous)
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

/// What a shard folder was made by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    Suite(Mode),
    Sweep(SweepMode),
    /// A literature study, and whether it is the quick version.
    Study(StudyKind, bool),
}

impl Plan {
    fn text(self) -> String {
        use clap::ValueEnum;
        let name = |v: Option<clap::builder::PossibleValue>| {
            v.map_or(String::new(), |v| v.get_name().to_string())
        };
        match self {
            Plan::Suite(m) => format!("suite {}", name(m.to_possible_value())),
            Plan::Sweep(SweepMode::Confirm) => "confirm standard".into(),
            Plan::Sweep(SweepMode::ConfirmQuick) => "confirm quick".into(),
            Plan::Sweep(m) => format!("sweep {}", name(m.to_possible_value())),
            Plan::Study(k, quick) => {
                format!("{} {}", k.name(), if quick { "quick" } else { "full" })
            }
        }
    }

    fn parse(text: &str) -> Option<Plan> {
        use clap::ValueEnum;
        let (kind, mode) = text.trim().split_once(' ')?;
        match kind {
            "suite" => Mode::from_str(mode, false).ok().map(Plan::Suite),
            "sweep" => SweepMode::from_str(mode, false).ok().map(Plan::Sweep),
            "confirm" => match mode {
                "standard" => Some(Plan::Sweep(SweepMode::Confirm)),
                "quick" => Some(Plan::Sweep(SweepMode::ConfirmQuick)),
                _ => None,
            },
            other => {
                let kind = StudyKind::ALL.into_iter().find(|k| k.name() == other)?;
                match mode {
                    "quick" => Some(Plan::Study(kind, true)),
                    "full" => Some(Plan::Study(kind, false)),
                    _ => None,
                }
            }
        }
    }
}

/// Runs a literature study (its cells of `--shard`, resuming from the
/// cells stored in `--out`) and writes its report from every cell stored
/// there, marked partial while cells are missing.
fn study_command(kind: StudyKind, a: StudyArgs) -> Result<(), String> {
    let args = Args::from_common(a.common);
    if args.seeds.is_some() {
        return Err(format!(
            "--seeds: the {} study's seeds are part of its declared protocol (selection and scored \
             seeds are printed in its report); run it without --seeds",
            kind.name()
        ));
    }
    let study = kind.build(a.quick);
    ensure_writable_dir(&args.out).map_err(|e| e.to_string())?;
    write_plan(&args.out, Plan::Study(kind, a.quick))?;
    let shard = shard_of(&args)?.unwrap_or(Shard::ALL);
    let workers = args.workers as usize;
    let start = Instant::now();
    let (_, ran) = run_study(
        study.as_ref(),
        &args.out,
        shard,
        workers,
        &|name, done, total| {
            eprintln!(
                "[{done}/{total}] {name} ({:.0} s)",
                start.elapsed().as_secs_f64()
            )
        },
    )
    .map_err(|e| e.to_string())?;
    let (records, missing) =
        read_cells(study.as_ref(), std::slice::from_ref(&args.out)).map_err(|e| e.to_string())?;
    // A call that only loaded stored cells has no wall time worth stating.
    let wall = (ran > 0).then(|| (start.elapsed().as_secs_f64(), workers));
    let lines = write_study_report(&args.out, study.as_ref(), &records, &missing, wall)
        .map_err(|e| e.to_string())?;
    print!("{lines}");
    println!(
        "report: {} ({:.0} s)",
        args.out.join("report.md").display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Merges a study's shard folders into one report.
fn merge_study(args: &Args, study: &dyn Study) -> Result<(), String> {
    let (records, missing) = read_cells(study, &args.merge).map_err(|e| e.to_string())?;
    if !missing.is_empty() && !args.allow_partial {
        return Err(format!(
            "{} of {} cells are missing ({}): pass --allow-partial to write a partial report",
            missing.len(),
            study.cells().len(),
            missing.join(", ")
        ));
    }
    let lines = write_study_report(&args.out, study, &records, &missing, None)
        .map_err(|e| e.to_string())?;
    print!("{lines}");
    println!("report: {}", args.out.join("report.md").display());
    Ok(())
}

fn write_plan(out: &std::path::Path, plan: Plan) -> Result<(), String> {
    let path = out.join(PLAN_FILE);
    std::fs::write(&path, plan.text() + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The most a plan file may hold: one line such as "sweep standard".
const PLAN_FILE_MAX_BYTES: u64 = 4096;

/// The most a `protocol.md` may hold; the lab writes a few kilobytes.
const PROTOCOL_MAX_BYTES: u64 = 1 << 20;

/// The `protocol.md` of the first of `dirs` that has one (`None` when none
/// does); a file that exists but cannot be read, or is too large, is an error.
fn read_protocol(dirs: &[PathBuf]) -> Result<Option<String>, String> {
    for d in dirs {
        let path = d.join("protocol.md");
        match mixact_lab::read_text_bounded(&path, PROTOCOL_MAX_BYTES) {
            Ok(text) => return Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(None)
}

/// The plan every folder was made by (they must agree); `None` when no
/// folder has a plan file (older runs, a results.csv alone), which merge as
/// a suite of unknown mode, unless they hold a sweep's `cells/`.
fn read_plan(dirs: &[PathBuf]) -> Result<Option<Plan>, String> {
    let mut plan: Option<(Plan, &PathBuf)> = None;
    for d in dirs {
        let path = d.join(PLAN_FILE);
        let this = match mixact_lab::read_text_bounded(&path, PLAN_FILE_MAX_BYTES) {
            Ok(text) => Plan::parse(&text)
                .ok_or_else(|| format!("{}: not a plan (\"{}\")", path.display(), text.trim()))?,
            // A sweep's stored cells without their plan would be read as
            // a suite and fail on every row: say what is missing instead.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && d.join("cells").is_dir() => {
                return Err(format!(
                    "{} holds sweep cells but no {PLAN_FILE}: write \"sweep standard\" (or \"sweep quick\") into it",
                    d.display()
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        match plan {
            Some((p, first)) if p != this => {
                return Err(format!(
                    "{} holds a {} shard, {} a {} shard: merge shards of one plan",
                    d.display(),
                    this.text(),
                    first.display(),
                    p.text()
                ))
            }
            _ => plan = Some((this, d)),
        }
    }
    Ok(plan.map(|(p, _)| p))
}

/// Merges suite shard folders into one report. Without a known mode (no
/// plan file) and no `protocol.md` beside the results, the report says the
/// protocol was not recorded rather than describing one it cannot know.
fn merge_suite(args: &Args, mode: Option<Mode>) -> Result<(), String> {
    let protocol_text = match mode {
        Some(mode) => protocol(mode, &options(mode, 1), &[]),
        None => format!(
            "## Protocol\n\nNot recorded: the merged folders hold no {PLAN_FILE} and no protocol.md, \
             so this report does not know how their runs were made (seeds, epochs, learning rates). \
             Every number below comes from their results."
        ),
    };
    let report = merge_dirs(&args.merge).map_err(|e| e.to_string())?;
    if !report.duplicates.is_empty() {
        eprintln!(
            "note: {} units found in more than one folder (kept once): {}",
            report.duplicates.len(),
            report.duplicates.join(", ")
        );
    }
    let mut text = read_protocol(&args.merge[..1])?.unwrap_or(protocol_text);
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
    Ok(())
}

fn print_verdicts(analysis: &mixact_lab::Analysis, out: &std::path::Path) {
    use mixact_lab::effect::DEFAULT_MARGIN;
    println!(
        "\n{:<40} {:>26}  verdict (±{:.0}% margin)",
        "configuration, all tasks",
        "error ratio [95% CI]",
        DEFAULT_MARGIN * 100.0
    );
    for e in analysis
        .effects
        .iter()
        .filter(|e| e.task == mixact_lab::suite_effects::ALL_TASKS)
    {
        println!(
            "{:<40} {:>26}  {}",
            e.config,
            format!(
                "{:.3} [{:.3}, {:.3}]",
                e.effect.ratio, e.effect.low, e.effect.high
            ),
            e.effect.verdict(DEFAULT_MARGIN).label()
        );
    }
    println!(
        "\n{:<40} {:>5} {:>5} {:>7}  verdict",
        "configuration", "wins", "ties", "losses"
    );
    for v in &analysis.verdicts {
        println!(
            "{:<40} {:>5} {:>5} {:>7}  {}",
            v.config,
            v.wins,
            v.ties,
            v.losses,
            v.verdict.label()
        );
    }
    println!("\nreport: {}", out.join("report.md").display());
}

/// The sweep's grid and protocol for `mode`.
fn sweep_plan(mode: SweepMode) -> mixact::Result<(Vec<Task>, Vec<Act>, SweepOptions)> {
    use Act::*;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");
    // Epoch budgets; validation early stopping ends runs that stop improving.
    if mode.is_confirm() {
        return confirm_plan(mode == SweepMode::ConfirmQuick);
    }
    let (epochs_2d, epochs_data) = match mode {
        SweepMode::Quick => (60, 20),
        _ => (300, 80),
    };
    let mut tasks = vec![
        Task::two_spirals(1.5, 0.05, 500).with_epochs(epochs_2d),
        Task::checkerboard(4, 1000).with_epochs(epochs_2d),
        Task::regression("sin6x+abs", Target1d::SinPlusAbs { w: 6.0 }, 500).with_epochs(epochs_2d),
    ];
    let (candidates, widths, depths, seeds, selection, grid, extensions) = match mode {
        SweepMode::Quick => (
            vec![Relu, Tanh, Gelu, Sin],
            vec![8, 32, 128],
            vec![1, 2],
            10,
            2,
            vec![0.003, 0.01, 0.03],
            1,
        ),
        _ => {
            tasks.push(
                Task::digits(format!("{data}/digits8x8.csv.gz"))?
                    .with_epochs(epochs_data)
                    .with_patience(10),
            );
            tasks.push(
                Task::mnist1d(format!("{data}/mnist1d.csv.gz"))?
                    .with_epochs(epochs_data)
                    .with_patience(10),
            );
            (
                vec![Relu, Tanh, Sigmoid, Gelu, Sin],
                vec![8, 16, 32, 64, 128, 256],
                vec![1, 2, 4],
                20,
                5,
                vec![0.001, 0.003, 0.01, 0.03, 0.1],
                2,
            )
        }
    };
    // The sweep runs its cells on rayon's pool, so `workers` is unused there.
    let suite = suite_options(seeds, selection, grid, extensions, 1);
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

/// The confirmation's design, as issue "Research III" fixed it before the
/// run: sin(6x)+|x| and the 4x4 checkerboard x depth {1, 4} x width {8, 16,
/// 32, 64} x data {25%, 100%}; 40 scored seeds, 5 selection seeds, a 5-rate
/// grid grown at its edge, early stopping; test sets of 10 000 points.
fn confirm_plan(quick: bool) -> mixact::Result<(Vec<Task>, Vec<Act>, SweepOptions)> {
    use Act::*;
    let (budget, patience) = if quick { (60, 10) } else { (300, 30) };
    let tasks = vec![
        Task::regression("sin6x+abs", Target1d::SinPlusAbs { w: 6.0 }, 500)
            .with_epochs(budget)
            .with_patience(patience),
        Task::checkerboard(4, 1000)
            .with_epochs(budget)
            .with_patience(patience),
    ];
    let (widths, fractions, seeds, selection, grid, extensions) = if quick {
        (vec![8, 32], vec![1.0], 8, 2, vec![0.003, 0.01, 0.03], 1)
    } else {
        (
            vec![8, 16, 32, 64],
            vec![0.25, 1.0],
            40,
            5,
            vec![0.001, 0.003, 0.01, 0.03, 0.1],
            2,
        )
    };
    let suite = suite_options(seeds, selection, grid, extensions, 1);
    Ok((
        tasks,
        vec![Relu, Tanh, Sigmoid, Gelu, Sin],
        SweepOptions {
            widths,
            depths: vec![1, 4],
            fractions,
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
        SweepMode::Quick => {
            "**Quick sweep: a documented subset (3 tasks, widths 8/32/128, depths 1/2, 4 \
candidate activations, 10 seeds, 2 selection seeds, shorter training). A smoke test of the map; \
its cells have little power.** Run `mixact-lab sweep standard` for the evidence."
        }
        SweepMode::Standard => {
            "Standard sweep: 20 paired seeds per cell; learning rate, baselines and the best \
two chosen per cell and configuration on 5 separate selection seeds."
        }
        SweepMode::Confirm => {
            "The confirmation (`mixact-lab confirm`): 40 scored seeds per cell; learning rate, baselines \
and the best two chosen per cell and configuration on 5 separate selection seeds."
        }
        SweepMode::ConfirmQuick => {
            "**Quick confirmation (`mixact-lab confirm --quick`): widths 8 and 32, all the data, 8 seeds, 2 \
selection seeds, 60-epoch budgets. It exercises the code; its outcomes are not evidence.**"
        }
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
- In every cell the candidates {} are trained alone; the two best by mean validation score on the selection seeds \
(never the scored seeds) form the mixes: interleaved (`mask best2`), as branches (`branches best2`), with the interleaved counts \
arranged at random per seed (`random best2`); `slope best` is the slope-only control on the best candidate, \
`mask all` the interleave of every candidate.\n\
- Equal parameters within a cell: every configuration's width is matched to the parameter count of the {} \
network at the cell's width (the `params` column of results.csv states it).\n\
- Paired seeds {:?}..: a seed fixes the split, the subset, the batch order and the initial weights.\n\
- Training: {}, batch {}, epoch budget: {}; validation early stopping (patience: {}; the best epoch's weights \
are kept); learning rate {}.\n\
- Each mix is compared with the cell's best single activation (chosen on the selection seeds) on the test error: \
error ratio with a seed-bootstrap interval first; then paired differences, Wilcoxon signed-rank, Holm-corrected over \
every comparison of the sweep.",
        tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
        opts.widths,
        opts.depths,
        opts.fractions,
        names.join(", "),
        names[0],
        opts.suite.seeds.first().copied().unwrap_or(0),
        opts.suite.optimiser.describe(),
        opts.suite.batch_size,
        epochs.join(", "),
        patience_text(tasks, &opts.suite).join(", "),
        lr_text(&opts.suite),
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
        return merge_sweep(args, &tasks, &all_cells, &protocol, mode.is_confirm());
    }
    // Shards balance estimated cost with the suite's splitter (longest
    // first, to the least loaded shard): cells differ in cost by orders of
    // magnitude across width, depth and data fraction.
    let sharded = shard_of(args)?;
    let shard = sharded.unwrap_or(Shard::ALL);
    let plan: Vec<WorkUnit> = all_cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let task = &tasks[c.task];
            WorkUnit {
                id: c.file_name(task.name()),
                task: c.task,
                config: i,
                cost: c.cost(task.epochs().unwrap_or(opts.suite.epochs)),
            }
        })
        .collect();
    let shard_of_cell = assign(&plan, shard.count);
    let cells: Vec<_> = all_cells
        .iter()
        .zip(&shard_of_cell)
        .filter(|(_, &s)| s == shard.index)
        .map(|(c, _)| c.clone())
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
        // The protocol travels with the cells, so a merge states how they
        // were made even after the lab's defaults change.
        let path = args.out.join("protocol.md");
        std::fs::write(&path, &protocol).map_err(|e| format!("{}: {e}", path.display()))?;
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
    if mode.is_confirm() {
        let decisions =
            write_confirm_report(&args.out, &records, &protocol).map_err(|e| e.to_string())?;
        print_decisions(&decisions, &args.out);
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

fn print_decisions(decisions: &[mixact_lab::confirm::Decision], out: &std::path::Path) {
    for d in decisions {
        let ratio = d.effect.map_or("no data".into(), |e| {
            format!("{:.3} [{:.3}, {:.3}]", e.ratio, e.low, e.high)
        });
        println!(
            "{}: {ratio}, p (Holm) {:.4}: {}",
            d.name,
            d.p_holm,
            d.outcome.label()
        );
    }
    println!(
        "H1: {}\nreport: {}",
        mixact_lab::confirm::h1_outcome(decisions).label(),
        out.join("report.md").display()
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Merges the `results.csv` of sweep shard folders into one report; every
/// cell of the plan must be present (or `--allow-partial`).
fn merge_sweep(
    args: &Args,
    tasks: &[Task],
    cells: &[mixact_lab::sweep::Cell],
    protocol: &str,
    confirm: bool,
) -> Result<(), String> {
    let mut records = Vec::new();
    for dir in &args.merge {
        records.extend(read_sweep_dir(dir).map_err(|e| e.to_string())?);
    }
    let records = dedup_sweep_records(records).map_err(|e| e.to_string())?;
    // Grid order (as one process writes it), whatever order the folders and
    // their cell files came in; rows keep their order within a cell.
    let mut records = records;
    let position = |r: &mixact_lab::sweep::SweepRecord| {
        cells
            .iter()
            .position(|c| {
                r.task == tasks[c.task].name()
                    && r.fraction == c.fraction
                    && r.depth == c.depth
                    && r.cell_width == c.width
            })
            .unwrap_or(usize::MAX)
    };
    records.sort_by_cached_key(position);
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
    // The protocol the shards wrote, when they did: the cells were made by
    // it, whatever this build's defaults say.
    let mut text = read_protocol(&args.merge)?.unwrap_or_else(|| protocol.to_string());
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
    if confirm {
        let decisions =
            write_confirm_report(&args.out, &records, &text).map_err(|e| e.to_string())?;
        println!("merged {} runs", records.len());
        print_decisions(&decisions, &args.out);
        return Ok(());
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
