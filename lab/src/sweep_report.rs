//! From sweep records to the map: per-cell paired comparisons against the
//! cell's best homogeneous activation, the verdict rules applied per cell,
//! and the "Where mixing helps" section, written from the data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::files::{check_name, read_text_limited};
use super::metric::Metric;
use super::report::{Outcome, ALPHA};
use super::stats::{holm, wilcoxon_signed_rank};
use super::sweep::{cell_baseline, Role, SweepRecord, HOMOGENEOUS, MIXED_ROLES};
use mixact::{Error, Result};

/// The header of a sweep's `results.csv`.
pub const SWEEP_HEADER: &str =
    "task,metric,fraction,cell_width,depth,role,config,seed,lr,width,params,valid_metric,test_metric,test_loss,epochs_used,lr_at_edge,selection_score";

/// The header before the training-health columns (the first standard
/// sweep); such files still load, with NaN test loss and selection score.
pub const SWEEP_HEADER_V1: &str =
    "task,metric,fraction,cell_width,depth,role,config,seed,lr,width,params,valid_metric,test_metric";

/// A cell's identity: task, fraction (as per mille, for ordering), depth, width.
pub type CellKey = (String, u32, usize, usize);

fn key_of(r: &SweepRecord) -> CellKey {
    (
        r.task.clone(),
        (r.fraction * 1000.0).round() as u32,
        r.depth,
        r.cell_width,
    )
}

/// One mixed layout in one cell against the cell's best homogeneous activation.
#[derive(Debug, Clone, PartialEq)]
pub struct CellComparison {
    /// The cell.
    pub cell: CellKey,
    /// The task's metric.
    pub metric: Metric,
    /// The mixed role.
    pub role: Role,
    /// The configuration that played it.
    pub config: String,
    /// The best homogeneous activation of the cell (by validation score).
    pub baseline: String,
    /// Seeds where both runs finished.
    pub pairs: usize,
    /// Mean paired difference of the test score (positive: the mix is better).
    pub mean_diff: f64,
    /// Wilcoxon signed-rank p-value.
    pub p: f64,
    /// Holm-adjusted over every comparison of the sweep.
    pub p_holm: f64,
    /// Win, tie or loss at α after adjustment.
    pub outcome: Outcome,
}

/// What the rules say about a cell, from its comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellVerdict {
    /// At least one mixed layout wins and none loses.
    MixingHelps,
    /// More losses than wins.
    MixingHurts,
    /// Anything else (no significant difference, or mixed signals).
    NoDifference,
}

impl CellVerdict {
    /// The rule applied to one cell's outcomes.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let wins = outcomes.iter().filter(|o| **o == Outcome::Win).count();
        let losses = outcomes.iter().filter(|o| **o == Outcome::Loss).count();
        if wins > 0 && losses == 0 {
            CellVerdict::MixingHelps
        } else if losses > wins {
            CellVerdict::MixingHurts
        } else {
            CellVerdict::NoDifference
        }
    }

    /// The words in the report.
    pub fn label(self) -> &'static str {
        match self {
            CellVerdict::MixingHelps => "mixing helps",
            CellVerdict::MixingHurts => "mixing hurts",
            CellVerdict::NoDifference => "no difference",
        }
    }
}

/// Every mixed record's cell compared with the cell's best homogeneous
/// activation (chosen by [`cell_baseline`]), Holm-adjusted over all.
pub fn analyse_sweep(records: &[SweepRecord]) -> Vec<CellComparison> {
    let mut cells: BTreeMap<CellKey, Vec<&SweepRecord>> = BTreeMap::new();
    for r in records {
        cells.entry(key_of(r)).or_default().push(r);
    }
    let mut out = Vec::new();
    for (key, rs) in &cells {
        let owned: Vec<SweepRecord> = rs.iter().map(|r| (*r).clone()).collect();
        let Some(baseline) = cell_baseline(&owned) else {
            continue;
        };
        let base: BTreeMap<u64, f64> = rs
            .iter()
            .filter(|r| r.role == HOMOGENEOUS && r.config == baseline)
            .map(|r| (r.seed, r.metric.score(r.test_metric)))
            .collect();
        for role in MIXED_ROLES {
            let runs: Vec<&&SweepRecord> = rs.iter().filter(|r| r.role == role).collect();
            let Some(first) = runs.first() else { continue };
            let diffs: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    let b = base.get(&r.seed)?;
                    let d = r.metric.score(r.test_metric) - b;
                    d.is_finite().then_some(d)
                })
                .collect();
            let mean_diff = if diffs.is_empty() {
                f64::NAN
            } else {
                diffs.iter().sum::<f64>() / diffs.len() as f64
            };
            out.push(CellComparison {
                cell: key.clone(),
                metric: first.metric,
                role,
                config: first.config.clone(),
                baseline: baseline.to_string(),
                pairs: diffs.len(),
                mean_diff,
                p: if diffs.is_empty() {
                    1.0
                } else {
                    wilcoxon_signed_rank(&diffs)
                },
                p_holm: 1.0,
                outcome: Outcome::Tie,
            });
        }
    }
    let adjusted = holm(&out.iter().map(|c| c.p).collect::<Vec<_>>());
    for (c, p) in out.iter_mut().zip(adjusted) {
        c.p_holm = p;
        c.outcome = if p >= ALPHA || c.mean_diff.is_nan() {
            Outcome::Tie
        } else if c.mean_diff > 0.0 {
            Outcome::Win
        } else {
            Outcome::Loss
        };
    }
    out
}

/// The verdict of every cell.
pub fn cell_verdicts(comparisons: &[CellComparison]) -> BTreeMap<CellKey, CellVerdict> {
    let mut outcomes: BTreeMap<CellKey, Vec<Outcome>> = BTreeMap::new();
    for c in comparisons {
        outcomes.entry(c.cell.clone()).or_default().push(c.outcome);
    }
    outcomes
        .into_iter()
        .map(|(k, o)| (k, CellVerdict::of(&o)))
        .collect()
}

/// Spearman's rank correlation of two equally long series (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            for &k in &idx[i..=j] {
                r[k] = (i + j) as f64 / 2.0 + 1.0;
            }
            i = j + 1;
        }
        r
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    if vx == 0.0 || vy == 0.0 {
        0.0
    } else {
        cov / (vx * vy).sqrt()
    }
}

pub(crate) fn fraction_label(per_mille: u32) -> String {
    format!("{}%", per_mille as f64 / 10.0)
}

/// "1 win", "3 wins".
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn cell_label(k: &CellKey) -> String {
    format!(
        "{} at {} data, width {}, depth {}",
        k.0,
        fraction_label(k.1),
        k.3,
        k.2
    )
}

/// The "Where mixing helps" section: counts, the cells with wins and with
/// losses, and the trend of each task's mean difference with width.
pub fn where_mixing_helps(comparisons: &[CellComparison]) -> String {
    let mut s = String::from(
        "## Win counts (Holm over every comparison)\n\n\
These count significant differences, which Holm over the whole sweep makes rare: a \"tie\" \
here is no evidence either way; the effect sizes above say how large a difference could be.\n\n",
    );
    let count = |o: Outcome, role: Option<Role>| {
        comparisons
            .iter()
            .filter(|c| c.outcome == o && role.is_none_or(|r| c.role == r))
            .count()
    };
    let verdicts = cell_verdicts(comparisons);
    let helps = verdicts
        .values()
        .filter(|v| **v == CellVerdict::MixingHelps)
        .count();
    let hurts = verdicts
        .values()
        .filter(|v| **v == CellVerdict::MixingHurts)
        .count();
    let _ = writeln!(
        s,
        "Across {} cells and {} comparisons of a mixed layout with the cell's best single activation \
(chosen on validation), mixing won {}, tied {} and lost {} (Wilcoxon signed-rank, Holm-corrected over \
all comparisons, α = {ALPHA}). By the per-cell rule (helps: a win and no loss; hurts: more losses than \
wins), mixing helps in {helps} cells, hurts in {hurts} and makes no difference in {}.\n",
        verdicts.len(),
        comparisons.len(),
        count(Outcome::Win, None),
        count(Outcome::Tie, None),
        count(Outcome::Loss, None),
        verdicts.len() - helps - hurts,
    );
    for role in MIXED_ROLES {
        let _ = writeln!(
            s,
            "- {role}: {}, {}.",
            counted(count(Outcome::Win, Some(role)), "win", "wins"),
            counted(count(Outcome::Loss, Some(role)), "loss", "losses")
        );
    }
    s.push('\n');
    // Where the wins and losses fall along the data and depth axes.
    let along = |axis: &str, key: &dyn Fn(&CellKey) -> String, order: &dyn Fn(&CellKey) -> u32| {
        let mut groups: BTreeMap<u32, (String, usize, usize, usize)> = BTreeMap::new();
        for c in comparisons {
            let g = groups
                .entry(order(&c.cell))
                .or_insert_with(|| (key(&c.cell), 0, 0, 0));
            g.1 += 1;
            g.2 += usize::from(c.outcome == Outcome::Win);
            g.3 += usize::from(c.outcome == Outcome::Loss);
        }
        let parts: Vec<String> = groups
            .into_values()
            .map(|(label, n, w, l)| {
                format!(
                    "{label}: {}, {} of {n}",
                    counted(w, "win", "wins"),
                    counted(l, "loss", "losses")
                )
            })
            .collect();
        format!("By {axis}: {}.", parts.join("; "))
    };
    let by_fraction = along("training-data fraction", &|k| fraction_label(k.1), &|k| k.1);
    let by_depth = along("depth", &|k| format!("depth {}", k.2), &|k| k.2 as u32);
    let _ = writeln!(s, "{by_fraction} {by_depth}\n");
    for (o, title) in [(Outcome::Win, "wins"), (Outcome::Loss, "losses")] {
        let list: Vec<String> = comparisons
            .iter()
            .filter(|c| c.outcome == o)
            .map(|c| {
                format!(
                    "{} ({} vs {}, {:+.4})",
                    cell_label(&c.cell),
                    c.config,
                    c.baseline,
                    c.mean_diff
                )
            })
            .collect();
        if list.is_empty() {
            let _ = writeln!(s, "Cells with significant {title}: none.\n");
        } else {
            let shown = list.len().min(12);
            let _ = writeln!(
                s,
                "Cells with significant {title} ({}{}): {}.\n",
                list.len(),
                if shown < list.len() {
                    ", first 12 shown"
                } else {
                    ""
                },
                list[..shown].join("; ")
            );
        }
    }
    // The trend with width, per task, of the interleaved best-two mix.
    let role = MIXED_ROLES[0];
    let mut by_task: BTreeMap<&str, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for c in comparisons
        .iter()
        .filter(|c| c.role == role && c.mean_diff.is_finite())
    {
        by_task
            .entry(&c.cell.0)
            .or_default()
            .entry(c.cell.3)
            .or_default()
            .push(c.mean_diff);
    }
    let _ = writeln!(
        s,
        "Trend with width ({role}; mean paired difference over depths and data fractions, score units: \
accuracy, or −MSE):\n"
    );
    for (task, widths) in by_task {
        let (w, d): (Vec<f64>, Vec<f64>) = widths
            .iter()
            .map(|(w, v)| (*w as f64, v.iter().sum::<f64>() / v.len() as f64))
            .unzip();
        let rho = spearman(&w, &d);
        let trend = if w.len() < 3 {
            "too few widths for a trend"
        } else if rho >= 0.8 {
            "the mix fares better as the network widens"
        } else if rho <= -0.8 {
            "the mix fares worse as the network widens"
        } else {
            "no monotone trend with width"
        };
        let values: Vec<String> = widths
            .iter()
            .zip(&d)
            .map(|((w, _), m)| format!("{w}: {m:+.4}"))
            .collect();
        let _ = writeln!(
            s,
            "- {task}: {} (Spearman ρ = {rho:.2}): {trend}.",
            values.join(", ")
        );
    }
    s
}

/// The table of every comparison, one row per cell and role.
pub fn comparison_table(comparisons: &[CellComparison]) -> String {
    let mut s = String::from(
        "| task | data | depth | width | layout | baseline | pairs | mean diff | p (Holm) | outcome |\n\
|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in comparisons {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:+.4} | {:.3} | {:?} |",
            c.cell.0,
            fraction_label(c.cell.1),
            c.cell.2,
            c.cell.3,
            c.config,
            c.baseline,
            c.pairs,
            c.mean_diff,
            c.p_holm,
            c.outcome
        );
    }
    s
}

/// The sweep's records as CSV (one row per run).
///
/// # Errors
/// [`Error::Format`] for a task, role or configuration name holding a comma,
/// quote or newline (the rows are not quoted, so such a name would shift the
/// columns of every reader).
pub fn sweep_csv(records: &[SweepRecord]) -> Result<String> {
    let mut s = format!("{SWEEP_HEADER}\n");
    for r in records {
        for name in [&r.task, &r.config] {
            check_name(name)?;
        }
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.task,
            r.metric.name(),
            r.fraction,
            r.cell_width,
            r.depth,
            r.role,
            r.config,
            r.seed,
            r.lr,
            r.width,
            r.params,
            r.valid_metric,
            r.test_metric,
            r.test_loss,
            r.epochs_used,
            u8::from(r.lr_at_edge),
            r.selection_score
        );
    }
    Ok(s)
}

/// Reads the sweep results file `path` (as [`sweep_csv`] writes it), refusing
/// a file over [`DEFAULT_MAX_CSV_BYTES`](mixact::limits::DEFAULT_MAX_CSV_BYTES)
/// before it fills memory.
///
/// # Errors
/// [`Error::Io`] when it cannot be read or is past the limit,
/// [`Error::Format`] as [`parse_sweep_csv`] (the location names the file).
pub fn read_sweep_csv(path: &Path) -> Result<Vec<SweepRecord>> {
    let text = read_text_limited(path, mixact::limits::DEFAULT_MAX_CSV_BYTES)?;
    parse_sweep_csv(&text).map_err(|e| match e {
        Error::Format { location, message } => Error::Format {
            location: format!("{}: {location}", path.display()),
            message,
        },
        other => other,
    })
}

/// Reads one shard folder of a sweep: its `results.csv` if it has one, else
/// every stored cell in `cells/` (the file a shard writes as each cell
/// finishes), so a run stopped before its report can still be merged.
///
/// # Errors
/// As [`read_sweep_csv`] for each file; [`Error::Io`] when the folder has
/// neither.
pub fn read_sweep_dir(dir: &Path) -> Result<Vec<SweepRecord>> {
    let results = dir.join("results.csv");
    let cells = dir.join("cells");
    if results.exists() || !cells.is_dir() {
        return read_sweep_csv(&results);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&cells)
        .map_err(|e| super::errors::io_error(&cells, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        out.extend(read_sweep_csv(f)?);
    }
    Ok(out)
}

/// Keeps one copy of rows that several shard folders hold (a cell rerun
/// elsewhere), and refuses two different results for one run: a merge must
/// not pick one silently.
///
/// # Errors
/// [`Error::Format`] naming the run whose copies differ.
pub fn dedup_sweep_records(records: Vec<SweepRecord>) -> Result<Vec<SweepRecord>> {
    type RunKey = (String, u64, usize, usize, Role, String, u64);
    let key = |r: &SweepRecord| -> RunKey {
        (
            r.task.clone(),
            r.fraction.to_bits(),
            r.cell_width,
            r.depth,
            r.role,
            r.config.clone(),
            r.seed,
        )
    };
    let same = |a: &SweepRecord, b: &SweepRecord| {
        let bits = |r: &SweepRecord| {
            (
                r.lr.to_bits(),
                r.width,
                r.params,
                r.valid_metric.to_bits(),
                r.test_metric.to_bits(),
                r.metric,
            )
        };
        bits(a) == bits(b)
    };
    let mut seen: BTreeMap<RunKey, usize> = BTreeMap::new();
    let mut out: Vec<SweepRecord> = Vec::with_capacity(records.len());
    for r in records {
        match seen.get(&key(&r)) {
            Some(&i) if same(&out[i], &r) => {}
            Some(_) => {
                return Err(Error::Format {
                    location: format!(
                        "sweep run {} {}% w{} d{} {} seed {}",
                        r.task,
                        r.fraction * 100.0,
                        r.cell_width,
                        r.depth,
                        r.config,
                        r.seed
                    ),
                    message: "two different results for one run in the merged folders".into(),
                })
            }
            None => {
                seen.insert(key(&r), out.len());
                out.push(r);
            }
        }
    }
    check_cells_whole(&out).map_err(|message| Error::Format {
        location: "merged sweep rows".into(),
        message,
    })?;
    let mixed = crate::metric::mixed_metric(&out, |r: &SweepRecord| {
        (
            r.task.as_str(),
            r.metric,
            format!("{} seed {}", r.config, r.seed),
        )
    });
    if let Some(message) = mixed {
        return Err(Error::Format {
            location: "merged sweep rows".into(),
            message,
        });
    }
    Ok(out)
}

/// Every configuration of a cell ran the same seeds, each once: a cell
/// stores all its runs at once, so a configuration with a seed fewer or
/// twice is a damaged file, and its effect would be computed over other
/// pairs than the rest of the cell's.
pub(crate) fn check_cells_whole(records: &[SweepRecord]) -> std::result::Result<(), String> {
    type CellKey<'a> = (&'a str, u64, usize, usize);
    let mut cells: BTreeMap<CellKey<'_>, BTreeMap<(Role, &str), Vec<u64>>> = BTreeMap::new();
    for r in records {
        cells
            .entry((r.task.as_str(), r.fraction.to_bits(), r.depth, r.cell_width))
            .or_default()
            .entry((r.role, r.config.as_str()))
            .or_default()
            .push(r.seed);
    }
    for ((task, fraction, depth, width), groups) in &mut cells {
        let cell = format!(
            "cell {task} at fraction {}, depth {depth}, width {width}",
            f64::from_bits(*fraction)
        );
        let mut first: Option<(&str, Vec<u64>)> = None;
        for ((_, config), seeds) in groups.iter_mut() {
            seeds.sort_unstable();
            if let Some(w) = seeds.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("{cell}: {config} has seed {} twice", w[0]));
            }
            match &first {
                None => first = Some((config, seeds.clone())),
                Some((other, want)) if want != seeds => {
                    return Err(format!(
                        "{cell}: {config} ran seeds {seeds:?}, {other} ran {want:?}; every \
                         configuration of a cell runs the same seeds"
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Reads a sweep's `results.csv` (as [`sweep_csv`] writes it).
///
/// # Errors
/// [`Error::Format`] naming the line when a row does not have the columns
/// and types of the header.
pub fn parse_sweep_csv(text: &str) -> Result<Vec<SweepRecord>> {
    let (which, rows) =
        crate::files::split_rows(text, "sweep results.csv", &[SWEEP_HEADER, SWEEP_HEADER_V1])?;
    let v2 = which == 0;
    let mut out = Vec::new();
    for (line, f) in rows {
        let bad = |m: &str| Error::Format {
            location: format!("sweep results.csv line {line}"),
            message: m.to_string(),
        };
        let num = |k: usize| {
            f[k].parse::<f64>()
                .map_err(|_| bad(&format!("field {} is not a number", k + 1)))
        };
        let int = |k: usize| {
            f[k].parse::<usize>()
                .map_err(|_| bad(&format!("field {} is not a count", k + 1)))
        };
        out.push(SweepRecord {
            task: f[0].to_string(),
            metric: Metric::from_name(f[1]).ok_or_else(|| bad("unknown metric"))?,
            fraction: num(2)?,
            cell_width: int(3)?,
            depth: int(4)?,
            role: Role::from_name(f[5]).ok_or_else(|| bad("unknown role"))?,
            config: f[6].to_string(),
            seed: f[7].parse().map_err(|_| bad("field 8 is not a seed"))?,
            lr: num(8)?,
            width: int(9)?,
            params: int(10)?,
            valid_metric: num(11)?,
            test_metric: num(12)?,
            test_loss: if v2 { num(13)? } else { f64::NAN },
            epochs_used: if v2 { int(14)? } else { 0 },
            lr_at_edge: if v2 {
                match f[15] {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad("field 16 (lr_at_edge) is not 0 or 1")),
                }
            } else {
                false
            },
            selection_score: if v2 { num(16)? } else { f64::NAN },
        });
        check_sweep_values(out.last().expect("a record was just pushed")).map_err(|m| bad(&m))?;
    }
    Ok(out)
}

/// Every value of a sweep row within its range, as the suite's merge checks
/// its rows: the metrics as [`Metric::admits`], a finite positive learning
/// rate, a data fraction in (0, 1], a test loss that is NaN or finite and
/// non-negative. A value outside would enter the statistics unseen.
fn check_sweep_values(r: &SweepRecord) -> std::result::Result<(), String> {
    for (what, v) in [("validation", r.valid_metric), ("test", r.test_metric)] {
        if !r.metric.admits(v) {
            return Err(format!("{what} {} {v} is out of range", r.metric.name()));
        }
    }
    if !(r.lr.is_finite() && r.lr > 0.0) {
        return Err(format!("learning rate {} is out of range", r.lr));
    }
    if !(r.fraction > 0.0 && r.fraction <= 1.0) {
        return Err(format!("data fraction {} is not in (0, 1]", r.fraction));
    }
    if !(r.test_loss.is_nan() || (r.test_loss.is_finite() && r.test_loss >= 0.0)) {
        return Err(format!("test loss {} is out of range", r.test_loss));
    }
    Ok(())
}
