//! Work units: the suite's work as a list of (task, configuration) units,
//! each with a stable id and a cost estimate; a balanced share per shard;
//! each unit's rows stored as soon as it finishes, so a crash loses one unit
//! and a rerun skips what is done; and a merge that checks the set.
//!
//! A unit is one task × configuration pair: its learning-rate tuning runs
//! (on the tuning seeds) and its runs on every paired seed. The tuning is
//! what the seed runs of a pair share, so splitting a pair across machines
//! would repeat it.
//!
//! Files in a shard's output folder: `manifest.csv` (every unit of the
//! suite, its cost and the shard it belongs to), and `units/<file>/`, one
//! folder of result CSVs per finished unit, renamed into place only when
//! complete.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::files::{read_results, write_results};
use super::results::Results;
use super::run::Shard;
use mixact::{Error, Result};

/// One unit of the suite's work.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkUnit {
    /// Stable id: `task/configuration`.
    pub id: String,
    /// Index of the task in the suite's task list.
    pub task: usize,
    /// Index of the configuration.
    pub config: usize,
    /// Relative cost estimate (samples × epochs × runs × parameter budget).
    pub cost: f64,
}

impl WorkUnit {
    /// The unit's folder name: its id made file-safe, plus a hash of the id
    /// so that two ids that sanitise alike never share a folder.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.id.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        format!("{safe}-{h:016x}")
    }
}

/// Assigns units to `count` shards, balancing estimated cost: longest
/// first, each to the least loaded shard (ties to the lower index). The
/// result depends only on the units, so every shard computes the same plan.
///
/// Shards beyond the number of units get nothing, so only that many loads
/// are kept: the plan is the same (the `t`-th unit placed can only reach
/// one of the first `t` shards, as ties go to the lower index), and a shard
/// count of 10^14 from a job's environment costs nothing instead of
/// aborting on an 800 TB allocation.
pub fn assign(units: &[WorkUnit], count: usize) -> Vec<usize> {
    let count = count.clamp(1, units.len().max(1));
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| {
        units[b]
            .cost
            .total_cmp(&units[a].cost)
            .then_with(|| units[a].id.cmp(&units[b].id))
    });
    let mut load = vec![0.0f64; count];
    let mut shard_of = vec![0; units.len()];
    for k in order {
        let (best, _) =
            load.iter().enumerate().fold(
                (0, f64::INFINITY),
                |acc, (i, &l)| if l < acc.1 { (i, l) } else { acc },
            );
        shard_of[k] = best;
        load[best] += units[k].cost;
    }
    shard_of
}

const MANIFEST: &str = "manifest.csv";
const UNITS: &str = "units";

/// Writes the manifest of the whole suite (every unit, its cost and shard) into `dir`.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_manifest(dir: &Path, units: &[WorkUnit], shard_of: &[usize]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::io_error(dir, e))?;
    let mut text = String::from("id,file,shard,cost\n");
    for (u, s) in units.iter().zip(shard_of) {
        let _ = writeln!(
            text,
            "\"{}\",{},{s},{}",
            u.id.replace('"', "\"\""),
            u.file_name(),
            u.cost
        );
    }
    let path = dir.join(MANIFEST);
    std::fs::write(&path, text).map_err(|e| crate::io_error(&path, e))
}

/// The unit ids and folder names listed in `dir/manifest.csv`, if there is one.
///
/// # Errors
/// [`Error::Io`] / [`Error::Format`] for an unreadable or malformed manifest.
pub fn read_manifest(dir: &Path) -> Result<Option<Vec<(String, String)>>> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::files::read_text_limited(&path, mixact::limits::DEFAULT_MAX_CSV_BYTES)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let bad = || Error::Format {
            location: format!("{}:{}", path.display(), n + 1),
            message: "expected \"id\",file,shard,cost".into(),
        };
        let rest = line.strip_prefix('"').ok_or_else(bad)?;
        let end = rest.rfind("\",").ok_or_else(bad)?;
        let id = rest[..end].replace("\"\"", "\"");
        let file = rest[end + 2..]
            .split(',')
            .next()
            .ok_or_else(bad)?
            .to_string();
        // A unit folder name, never a path: a manifest cannot point outside `dir/units`.
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if file.is_empty() || !file.chars().all(safe) {
            return Err(bad());
        }
        out.push((id, file));
    }
    Ok(Some(out))
}

/// Where unit `u`'s results live under `dir`.
pub fn unit_dir(dir: &Path, u: &WorkUnit) -> PathBuf {
    dir.join(UNITS).join(u.file_name())
}

/// Stores a finished unit's results in the folder `target` (see
/// [`unit_dir`]), atomically: written to a temporary folder, then renamed
/// into place, so a killed process leaves either the whole unit or none of it.
///
/// # Errors
/// [`Error::Io`] naming the folder.
pub fn store_unit(target: &Path, results: &Results) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| crate::io_error(parent, e))?;
    let name = target
        .file_name()
        .map_or_else(|| "unit".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    write_results(&tmp, results)?;
    std::fs::rename(&tmp, target).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        crate::io_error(target, e)
    })
}

/// What merging shard folders found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeReport {
    /// All results, each unit counted once.
    pub results: Results,
    /// Units listed in a manifest with no results anywhere.
    pub missing: Vec<String>,
    /// Units whose results were found in more than one folder (kept once).
    pub duplicates: Vec<String>,
    /// Units found.
    pub units: usize,
}

/// Merges shard folders unit by unit (folders without a manifest are read
/// whole, as [`read_results`] does), reporting missing and duplicate units by id.
///
/// # Errors
/// As [`read_results`] and [`read_manifest`].
pub fn merge_dirs(dirs: &[PathBuf]) -> Result<MergeReport> {
    if dirs.is_empty() {
        return Err(Error::Empty {
            what: "folders to merge",
        });
    }
    let mut seen_dirs: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for d in dirs {
        let canonical = std::fs::canonicalize(d).map_err(|e| crate::io_error(d, e))?;
        if let Some((_, first)) = seen_dirs.iter().find(|(c, _)| *c == canonical) {
            return Err(Error::Format {
                location: d.display().to_string(),
                message: format!(
                    "the same folder as {} (given twice, its rows would count twice)",
                    first.display()
                ),
            });
        }
        seen_dirs.push((canonical, d));
    }
    let mut expected: BTreeMap<String, ()> = BTreeMap::new();
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let mut report = MergeReport::default();
    // Every unit holds one row per seed; the first complete unit read fixes
    // which seeds those are, so a unit with rows deleted or repeated shows.
    let mut seeds: Option<(Vec<u64>, PathBuf)> = None;
    for d in dirs {
        match read_manifest(d)? {
            None => {
                let results = read_results(d)?;
                check_values(d, &results)?;
                check_side_rows(d, None, &results)?;
                report.results.merge(results);
            }
            Some(list) => {
                for (id, file) in list {
                    expected.insert(id.clone(), ());
                    let unit = d.join(UNITS).join(&file);
                    if unit.is_dir() {
                        let n = found.entry(id.clone()).or_insert(0);
                        *n += 1;
                        if *n == 1 {
                            let results = read_results(&unit)?;
                            check_values(&unit, &results)?;
                            check_unit(&unit, &id, &results, &mut seeds)?;
                            report.results.merge(results);
                        }
                    }
                }
            }
        }
    }
    if report.results.runs.is_empty() {
        return Err(Error::Empty {
            what: "runs in the merged folders (no results.csv rows and no stored units)",
        });
    }
    let mut keys: Vec<(&str, &str, u64)> = report
        .results
        .runs
        .iter()
        .map(|r| (r.task.as_str(), r.config.as_str(), r.seed))
        .collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Format {
            location: "merge".into(),
            message: format!(
                "task \"{}\", configuration \"{}\", seed {} appears in more than one row",
                w[0].0, w[0].1, w[0].2
            ),
        });
    }
    let mixed = crate::metric::mixed_metric(&report.results.runs, |r: &crate::RunRecord| {
        let label = format!("configuration \"{}\", seed {}", r.config, r.seed);
        (r.task.as_str(), r.metric, label)
    });
    if let Some(message) = mixed {
        return Err(Error::Format {
            location: "merge".into(),
            message,
        });
    }
    report.units = found.len();
    report.missing = expected
        .keys()
        .filter(|id| !found.contains_key(*id))
        .cloned()
        .collect();
    report.duplicates = found
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    report.results.sort();
    Ok(report)
}

/// The shard this process is, from the scheduler's environment: Slurm job
/// arrays (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
/// `SLURM_ARRAY_TASK_MIN`) or a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, with the shard count given as `shards`).
///
/// # Errors
/// [`Error::Format`] naming the variables when neither is set or a value is not a number.
pub fn shard_from_env(
    get: impl Fn(&str) -> Option<String>,
    shards: Option<usize>,
) -> Result<Shard> {
    let num = |name: &str| -> Result<Option<usize>> {
        match get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| Error::Format {
                location: name.into(),
                message: format!("\"{v}\" is not a whole number"),
            }),
        }
    };
    let shard =
        |index: usize, count: usize| -> Result<Shard> { Shard::parse(&format!("{index}/{count}")) };
    if let (Some(id), Some(count)) = (num("SLURM_ARRAY_TASK_ID")?, num("SLURM_ARRAY_TASK_COUNT")?) {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        return shard(
            id.checked_sub(min).ok_or_else(|| Error::Format {
                location: "SLURM_ARRAY_TASK_ID".into(),
                message: format!("{id} is below SLURM_ARRAY_TASK_MIN {min}"),
            })?,
            count,
        );
    }
    if let Some(index) = num("JOB_COMPLETION_INDEX")? {
        let count = shards.ok_or_else(|| Error::Format {
            location: "--shard auto".into(),
            message: "JOB_COMPLETION_INDEX is set: give the number of shards with --shards N"
                .into(),
        })?;
        return shard(index, count);
    }
    Err(Error::Format {
        location: "--shard auto".into(),
        message: "neither SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array) nor \
                  JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set"
            .into(),
    })
}

/// Every value of every run within its range: the metrics as
/// [`Metric::admits`](crate::Metric::admits), a finite positive learning rate,
/// finite non-negative timings.
fn check_values(dir: &Path, results: &Results) -> Result<()> {
    for r in &results.runs {
        let bad = |what: &str, v: f64| Error::Format {
            location: dir.join("results.csv").display().to_string(),
            message: format!(
                "{what} {v} of task \"{}\", configuration \"{}\", seed {} is out of range",
                r.task, r.config, r.seed
            ),
        };
        for (what, v) in [("test", r.test_metric), ("validation", r.valid_metric)] {
            if !r.metric.admits(v) {
                return Err(bad(&format!("{what} {}", r.metric.name()), v));
            }
        }
        if !(r.lr.is_finite() && r.lr > 0.0) {
            return Err(bad("learning rate", r.lr));
        }
        if !(r.us_per_step.is_finite() && r.us_per_step >= 0.0) {
            return Err(bad("time per step", r.us_per_step));
        }
    }
    Ok(())
}

/// The most epochs a curve point may name: far beyond any budget the lab
/// sets, far below what would make a plot axis meaningless.
const MAX_CURVE_EPOCH: usize = 10_000_000;

/// A folder's (or with `id`, a unit's) curve, surface and group rows
/// belong to its runs (and to the unit) and are in range: they go into the
/// report's plots and group table, where a damaged value (a flat fraction
/// of 5, a group of 10^14 neurons in a network of 32) would be printed as
/// if measured.
fn check_side_rows(dir: &Path, id: Option<&str>, results: &Results) -> Result<()> {
    let bad = |file: &str, message: String| Error::Format {
        location: dir.join(file).display().to_string(),
        message,
    };
    let own = |task: &str, config: &str| id.is_none_or(|id| format!("{task}/{config}") == id);
    // Indexed: a suite's folder holds hundreds of thousands of curve points.
    let mut by_run: HashMap<(&str, &str, u64), usize> = HashMap::new();
    let mut by_config: HashMap<(&str, &str), usize> = HashMap::new();
    for r in &results.runs {
        by_run.insert((&r.task, &r.config, r.seed), r.width);
        by_config.insert((&r.task, &r.config), r.width);
    }
    let width_of = |task: &str, config: &str, seed: Option<u64>| match seed {
        Some(seed) => by_run.get(&(task, config, seed)).copied(),
        None => by_config.get(&(task, config)).copied(),
    };
    let whose = id.map_or(String::new(), |id| format!(" in unit \"{id}\""));
    for c in &results.curves {
        if !own(&c.task, &c.config) || width_of(&c.task, &c.config, Some(c.seed)).is_none() {
            return Err(bad(
                "curves.csv",
                format!(
                    "a point of {}/{} seed {} without its run{whose}",
                    c.task, c.config, c.seed
                ),
            ));
        }
        if c.epoch > MAX_CURVE_EPOCH || c.loss < 0.0 {
            return Err(bad(
                "curves.csv",
                format!(
                    "epoch {} or loss {} of seed {} is out of range",
                    c.epoch, c.loss, c.seed
                ),
            ));
        }
    }
    for p in &results.surfaces {
        if !own(&p.task, &p.config) || width_of(&p.task, &p.config, None).is_none() {
            return Err(bad(
                "surfaces.csv",
                format!("a point of {}/{} without its runs{whose}", p.task, p.config),
            ));
        }
        if !(p.x.is_finite() && p.y.is_finite()) || p.value.is_infinite() {
            return Err(bad(
                "surfaces.csv",
                format!(
                    "point ({}, {}) with output {} is out of range",
                    p.x, p.y, p.value
                ),
            ));
        }
    }
    for g in &results.groups {
        let Some(width) =
            width_of(&g.task, &g.config, Some(g.seed)).filter(|_| own(&g.task, &g.config))
        else {
            return Err(bad(
                "groups.csv",
                format!(
                    "a group of {}/{} seed {} without its run{whose}",
                    g.task, g.config, g.seed
                ),
            ));
        };
        let fraction_ok = g.flat_fraction.is_nan() || (0.0..=1.0).contains(&g.flat_fraction);
        if g.neurons == 0 || g.neurons > width || !fraction_ok || g.ablation_drop.is_infinite() {
            return Err(bad(
                "groups.csv",
                format!(
                    "group {} of seed {}: {} neurons (of {width}), flat fraction {}, ablation drop {} \
                     out of range",
                    g.activation, g.seed, g.neurons, g.flat_fraction, g.ablation_drop
                ),
            ));
        }
    }
    Ok(())
}

/// A unit's rows are its own (`task/config` is its id) and one per seed,
/// the same seeds as every other unit.
fn check_unit(
    dir: &Path,
    id: &str,
    results: &Results,
    seeds: &mut Option<(Vec<u64>, PathBuf)>,
) -> Result<()> {
    let bad = |message: String| Error::Format {
        location: dir.join("results.csv").display().to_string(),
        message,
    };
    if let Some(r) = results
        .runs
        .iter()
        .find(|r| format!("{}/{}", r.task, r.config) != id)
    {
        return Err(bad(format!(
            "a row of task \"{}\", configuration \"{}\" in unit \"{id}\"",
            r.task, r.config
        )));
    }
    let mut own: Vec<u64> = results.runs.iter().map(|r| r.seed).collect();
    own.sort_unstable();
    if let Some(w) = own.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("seed {} appears twice in unit \"{id}\"", w[0])));
    }
    match seeds {
        None => *seeds = Some((own, dir.to_path_buf())),
        Some((reference, first)) if *reference != own => {
            return Err(bad(format!(
                "unit \"{id}\" has {} rows for seeds {:?}, unit {} has seeds {:?}: rows missing or added",
                own.len(),
                own,
                first.display(),
                reference
            )));
        }
        Some(_) => {}
    }
    check_side_rows(dir, Some(id), results)
}
