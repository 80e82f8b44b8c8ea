//! Runs a study's cells (selection, then scoring) and stores each cell as
//! soon as it is done; reads stored cells back.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mixact::{Error, Result};

use super::{RunScore, Study};
use crate::store::{execute, resume_or_run};
use crate::Shard;

/// Which part of the protocol a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Selection seeds: choosing rates and the baseline.
    Selection,
    /// Scored seeds: the comparison.
    Scored,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Selection => "selection",
            Stage::Scored => "scored",
        }
    }
}

/// One training run of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Selection or scored.
    pub stage: Stage,
    /// The arm's name.
    pub arm: String,
    /// Its learning rate.
    pub lr: f64,
    /// The seed.
    pub seed: u64,
    /// What it scored.
    pub score: RunScore,
    /// Wall time of the run, seconds.
    pub seconds: f64,
}

/// A finished cell: every run, in a fixed order.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRecord {
    /// The cell's index in [`Study::cells`].
    pub index: usize,
    /// Its name.
    pub cell: String,
    /// The runs.
    pub rows: Vec<RunRow>,
}

impl CellRecord {
    /// Per arm, the rate with the lowest mean selection score over the
    /// selection seeds (a failed run scores +inf; ties to the smaller rate).
    pub fn chosen_rates(&self) -> BTreeMap<String, f64> {
        let mut by: BTreeMap<(String, u64), (f64, usize)> = BTreeMap::new();
        for r in self.rows.iter().filter(|r| r.stage == Stage::Selection) {
            let v = if r.score.select.is_finite() {
                r.score.select
            } else {
                f64::INFINITY
            };
            let e = by
                .entry((r.arm.clone(), r.lr.to_bits()))
                .or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
        let mut best: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for ((arm, lr), (sum, n)) in by {
            let (lr, mean) = (f64::from_bits(lr), sum / n as f64);
            let e = best.entry(arm).or_insert((f64::INFINITY, f64::NAN));
            let better = mean < e.0 || (mean == e.0 && (e.1.is_nan() || lr < e.1));
            if better {
                *e = (mean, lr);
            }
        }
        best.into_iter().map(|(a, (_, lr))| (a, lr)).collect()
    }

    /// The mean selection score of `arm` at its chosen rate.
    pub fn selection_score(&self, arm: &str) -> f64 {
        let Some(&lr) = self.chosen_rates().get(arm) else {
            return f64::INFINITY;
        };
        let v: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.stage == Stage::Selection && r.arm == arm && r.lr == lr)
            .map(|r| {
                if r.score.select.is_finite() {
                    r.score.select
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// `singles` ranked by selection score, best first (ties keep their order).
    pub fn ranking(&self, singles: &[String]) -> Vec<String> {
        let mut r: Vec<(f64, usize)> = singles
            .iter()
            .enumerate()
            .map(|(i, a)| (self.selection_score(a), i))
            .collect();
        r.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        r.into_iter().map(|(_, i)| singles[i].clone()).collect()
    }

    /// The scored runs of `arm`, in seed order.
    pub fn scored(&self, arm: &str) -> Vec<&RunRow> {
        let mut v: Vec<&RunRow> = self
            .rows
            .iter()
            .filter(|r| r.stage == Stage::Scored && r.arm == arm)
            .collect();
        v.sort_by_key(|r| r.seed);
        v
    }

    /// The arms with scored runs, in first-seen order.
    pub fn scored_arms(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.stage == Stage::Scored) {
            if !v.contains(&r.arm) {
                v.push(r.arm.clone());
            }
        }
        v
    }
}

/// The header line that ties a stored cell to the study and its seeds: a
/// folder can outlive a change of protocol, and a stale cell must be an
/// error, never silently mixed in.
fn fingerprint(study: &dyn Study, cell: &str) -> String {
    format!(
        "# mixact-lab {} cell={} selection={:?} scored={:?}",
        study.name(),
        cell,
        study.selection_seeds(),
        study.scored_seeds()
    )
}

const COLUMNS: &str = "stage,arm,lr,seed,select,endpoint,secondary1,secondary2,seconds";

fn cell_path(dir: &Path, index: usize, cell: &str) -> PathBuf {
    dir.join("cells")
        .join(format!("{index:03}-{}.csv", crate::plot::slug(cell)))
}

fn save(path: &Path, study: &dyn Study, rec: &CellRecord) -> Result<()> {
    assert!(
        rec.rows.iter().all(|r| !r.arm.contains(',')),
        "a study's arm names are fixed in code and hold no comma"
    );
    let mut s = fingerprint(study, &rec.cell);
    s.push('\n');
    s += COLUMNS;
    s.push('\n');
    for r in &rec.rows {
        let _ = writeln!(
            s,
            "{},{},{:e},{},{:e},{:e},{:e},{:e},{:.3}",
            r.stage.label(),
            r.arm,
            r.lr,
            r.seed,
            r.score.select,
            r.score.endpoint,
            r.score.secondary[0],
            r.score.secondary[1],
            r.seconds
        );
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, s).map_err(|e| crate::io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| crate::io_error(path, e))
}

fn load(path: &Path, study: &dyn Study, index: usize, cell: &str) -> Result<CellRecord> {
    let text = crate::files::read_text_limited(path, mixact::limits::DEFAULT_MAX_CSV_BYTES)?;
    let bad = |line: usize, message: String| Error::Format {
        location: format!("{}:{}", path.display(), line + 1),
        message,
    };
    let mut lines = text.lines();
    let head = lines.next().unwrap_or_default();
    let want = fingerprint(study, cell);
    if head != want {
        return Err(bad(
            0,
            format!(
                "stored cell is from another protocol (\"{head}\", this run is \"{want}\"): use \
                 another --out folder, or remove the stored cells"
            ),
        ));
    }
    if lines.next() != Some(COLUMNS) {
        return Err(bad(1, format!("expected the columns \"{COLUMNS}\"")));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 9 {
            return Err(bad(i + 2, format!("expected 9 fields, found {}", f.len())));
        }
        let num = |k: usize| -> Result<f64> {
            f[k].parse::<f64>().map_err(|_| {
                bad(
                    i + 2,
                    format!("field {} is not a number: \"{}\"", k + 1, f[k]),
                )
            })
        };
        let stage = match f[0] {
            "selection" => Stage::Selection,
            "scored" => Stage::Scored,
            other => return Err(bad(i + 2, format!("unknown stage \"{other}\""))),
        };
        rows.push(RunRow {
            stage,
            arm: f[1].to_string(),
            lr: num(2)?,
            seed: f[3]
                .parse()
                .map_err(|_| bad(i + 2, format!("seed is not an integer: \"{}\"", f[3])))?,
            score: RunScore {
                select: num(4)?,
                endpoint: num(5)?,
                secondary: [num(6)?, num(7)?],
            },
            seconds: num(8)?,
        });
        let row = rows.last().expect("a row was just pushed");
        check_row(study, row).map_err(|m| bad(i + 2, m))?;
    }
    let rec = CellRecord {
        index,
        cell: cell.to_string(),
        rows,
    };
    check_runs(study, &rec).map_err(|m| Error::Format {
        location: path.display().to_string(),
        message: format!("the stored runs are not this protocol's: {m}"),
    })?;
    Ok(rec)
}

/// One stored run's values within what a run can produce: a finite positive
/// rate, scores that are NaN (a failed run) or finite, a log-scale endpoint
/// (an error, a loss, a step count) not below 0, a finite run time.
fn check_row(study: &dyn Study, r: &RunRow) -> std::result::Result<(), String> {
    if !(r.lr.is_finite() && r.lr > 0.0) {
        return Err(format!("learning rate {} is not finite and > 0", r.lr));
    }
    let s = &r.score;
    for (what, v) in [
        ("selection score", s.select),
        ("endpoint", s.endpoint),
        ("first secondary endpoint", s.secondary[0]),
        ("second secondary endpoint", s.secondary[1]),
    ] {
        if v.is_infinite() {
            return Err(format!("{what} {v} is infinite"));
        }
    }
    if study.endpoint().scale == super::Scale::Log && s.endpoint < 0.0 {
        return Err(format!(
            "endpoint {} is negative ({} cannot be)",
            s.endpoint,
            study.endpoint().name
        ));
    }
    if !(r.seconds.is_finite() && r.seconds >= 0.0) {
        return Err(format!("run time {} s is out of range", r.seconds));
    }
    Ok(())
}

/// The runs of `rec` are exactly those the protocol makes for its cell, each
/// once: every arm's selection over its rate grid and the selection seeds
/// (the derived arms as its own ranking gives them), then every arm at its
/// chosen rate over the scored seeds. A stored cell with a run missing,
/// repeated or foreign would be scored as if it were whole.
fn check_runs(study: &dyn Study, rec: &CellRecord) -> std::result::Result<(), String> {
    type Key = (Stage, String, u64, u64);
    let k = rec.index;
    let singles = study.singles(k);
    let mut first = singles.clone();
    first.extend(study.fixed(k));
    let derived = study.derived(k, &rec.ranking(&singles));
    let mut expected: Vec<Key> = selection_jobs(study, k, &first)
        .into_iter()
        .chain(selection_jobs(study, k, &derived))
        .map(|(arm, lr, seed)| (Stage::Selection, arm, lr.to_bits(), seed))
        .collect();
    let rates = rec.chosen_rates();
    for arm in first.iter().chain(&derived) {
        let Some(&lr) = rates.get(arm) else {
            return Err(format!("arm {arm} has no selection run"));
        };
        for &seed in &study.scored_seeds() {
            expected.push((Stage::Scored, arm.clone(), lr.to_bits(), seed));
        }
    }
    let mut got: Vec<Key> = rec
        .rows
        .iter()
        .map(|r| (r.stage, r.arm.clone(), r.lr.to_bits(), r.seed))
        .collect();
    expected.sort();
    got.sort();
    let describe = |(stage, arm, lr, seed): &Key| {
        format!(
            "the {} run of arm {arm} at rate {:e}, seed {seed}",
            stage.label(),
            f64::from_bits(*lr)
        )
    };
    if let Some(w) = got.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("{} appears twice", describe(&w[0])));
    }
    if let Some(x) = expected.iter().find(|x| got.binary_search(x).is_err()) {
        return Err(format!("{} is missing", describe(x)));
    }
    if let Some(x) = got.iter().find(|x| expected.binary_search(x).is_err()) {
        return Err(format!("{} is not one of its runs", describe(x)));
    }
    Ok(())
}

/// Runs `jobs` (arm, rate, seed) of `stage` on `workers` threads.
fn run_jobs(
    study: &dyn Study,
    cell: usize,
    stage: Stage,
    jobs: &[(String, f64, u64)],
    workers: usize,
) -> Result<Vec<RunRow>> {
    execute(jobs, workers, &|_, _| {}, |(arm, lr, seed)| {
        let t = Instant::now();
        // Stored as NaN, a non-finite score keeps the cell one that `load`
        // accepts (it refuses infinities, which no run stores).
        use crate::run::finite_or_nan;
        let raw = study.run(cell, arm, *lr, *seed)?;
        let score = RunScore {
            select: finite_or_nan(raw.select),
            endpoint: finite_or_nan(raw.endpoint),
            secondary: raw.secondary.map(finite_or_nan),
        };
        Ok(RunRow {
            stage,
            arm: arm.clone(),
            lr: *lr,
            seed: *seed,
            score,
            seconds: t.elapsed().as_secs_f64(),
        })
    })
    .into_iter()
    .collect()
}

fn selection_jobs(study: &dyn Study, cell: usize, arms: &[String]) -> Vec<(String, f64, u64)> {
    let mut jobs = Vec::new();
    for arm in arms {
        for lr in study.lr_grid(cell, arm) {
            for &seed in &study.selection_seeds() {
                jobs.push((arm.clone(), lr, seed));
            }
        }
    }
    jobs
}

/// Runs one cell's protocol (see the module page).
fn run_cell(study: &dyn Study, index: usize, workers: usize) -> Result<CellRecord> {
    let cell = study.cells()[index].clone();
    let singles = study.singles(index);
    let mut first: Vec<String> = singles.clone();
    first.extend(study.fixed(index));
    let mut rec = CellRecord {
        index,
        cell,
        rows: run_jobs(
            study,
            index,
            Stage::Selection,
            &selection_jobs(study, index, &first),
            workers,
        )?,
    };
    let derived = study.derived(index, &rec.ranking(&singles));
    let more = run_jobs(
        study,
        index,
        Stage::Selection,
        &selection_jobs(study, index, &derived),
        workers,
    )?;
    rec.rows.extend(more);
    let rates = rec.chosen_rates();
    let mut jobs = Vec::new();
    for arm in first.iter().chain(&derived) {
        // Every arm ran its selection; an empty rate grid leaves it none.
        let lr = *rates.get(arm).ok_or(Error::Empty {
            what: "a learning-rate grid (a study arm has no rate to choose from)",
        })?;
        for &seed in &study.scored_seeds() {
            jobs.push((arm.clone(), lr, seed));
        }
    }
    let scored = run_jobs(study, index, Stage::Scored, &jobs, workers)?;
    rec.rows.extend(scored);
    Ok(rec)
}

/// Runs the cells of `shard` (cell `k` belongs to shard `k mod n`), each
/// loaded from `dir/cells/` when stored there and otherwise run and stored
/// at once; `progress(cell name, done, total)` after each. Returns the
/// cells and how many of them this call trained (the rest were loaded).
///
/// # Errors
/// [`Error::Io`] when `dir` cannot be written; [`Error::Format`] for a
/// stored cell of another protocol; a study's set-up errors.
pub fn run_study(
    study: &dyn Study,
    dir: &Path,
    shard: Shard,
    workers: usize,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<(Vec<CellRecord>, usize)> {
    let cells_dir = dir.join("cells");
    std::fs::create_dir_all(&cells_dir).map_err(|e| crate::io_error(&cells_dir, e))?;
    let mine: Vec<usize> = (0..study.cells().len())
        .filter(|k| k % shard.count == shard.index)
        .collect();
    let mut out = Vec::with_capacity(mine.len());
    let mut ran = 0;
    for (done, &k) in mine.iter().enumerate() {
        let name = study.cells()[k].clone();
        let path = cell_path(dir, k, &name);
        ran += usize::from(!path.exists());
        let rec = resume_or_run(
            Some(&path),
            |p| load(p, study, k, &name),
            || run_cell(study, k, workers),
            |p, r| save(p, study, r),
        )?;
        progress(&name, done + 1, mine.len());
        out.push(rec);
    }
    Ok((out, ran))
}

/// The cells stored in the `dirs` (shard folders, or one folder), in cell
/// order; a cell stored nowhere is missing, and named in the second list.
///
/// # Errors
/// As [`run_study`] for unreadable or stale cells.
pub fn read_cells(study: &dyn Study, dirs: &[PathBuf]) -> Result<(Vec<CellRecord>, Vec<String>)> {
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for (k, name) in study.cells().iter().enumerate() {
        match dirs
            .iter()
            .map(|d| cell_path(d, k, name))
            .find(|p| p.exists())
        {
            Some(p) => found.push(load(&p, study, k, name)?),
            None => missing.push(name.clone()),
        }
    }
    Ok((found, missing))
}
