//! The suite's CSV files: what a run writes, and what `--merge` reads back.

use std::fmt::Write as _;
use std::path::Path;

use super::config::Family;
use super::metric::Metric;
use super::results::{CurvePoint, GroupStat, Results, RunRecord, SurfacePoint};
use mixact::{Error, Result};

const RUNS: &str = "results.csv";
const CURVES: &str = "curves.csv";
const SURFACES: &str = "surfaces.csv";
const GROUPS: &str = "groups.csv";

const RUN_HEADER: &str = "task,metric,config,family,seed,lr,width,params,test_metric,valid_metric,final_loss,steps,us_per_step,test_loss,epochs_used,lr_at_edge,selection_score";
/// The header before the training-health columns; such files still load
/// (test loss and selection score NaN, no edge flags).
const RUN_HEADER_V1: &str = "task,metric,config,family,seed,lr,width,params,test_metric,valid_metric,final_loss,steps,us_per_step";

/// Refuses a name that would break a CSV row (the files are written without quoting).
pub(crate) fn check_name(s: &str) -> Result<()> {
    if s.contains([',', '\n', '"']) {
        return Err(Error::Format {
            location: "results".into(),
            message: format!("name \"{s}\" contains a comma, quote or newline"),
        });
    }
    Ok(())
}

/// Writes `results.csv`, `curves.csv`, `surfaces.csv` and `groups.csv` into `dir` (created if needed).
///
/// # Errors
/// [`Error::Io`] when the folder or a file cannot be written; [`Error::Format`]
/// for a task or configuration name containing a comma.
pub fn write_results(dir: &Path, r: &Results) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::io_error(dir, e))?;
    let mut runs = format!("{RUN_HEADER}\n");
    for x in &r.runs {
        check_name(&x.task)?;
        check_name(&x.config)?;
        let _ = writeln!(
            runs,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            x.task,
            x.metric.name(),
            x.config,
            x.family.name(),
            x.seed,
            x.lr,
            x.width,
            x.params,
            x.test_metric,
            x.valid_metric,
            x.final_loss,
            x.steps,
            x.us_per_step,
            x.test_loss,
            x.epochs_used,
            u8::from(x.lr_at_edge),
            x.selection_score
        );
    }
    let mut curves = String::from("task,config,seed,epoch,loss\n");
    for x in &r.curves {
        let _ = writeln!(
            curves,
            "{},{},{},{},{}",
            x.task, x.config, x.seed, x.epoch, x.loss
        );
    }
    let mut surfaces = String::from("task,config,x,y,value\n");
    for x in &r.surfaces {
        let _ = writeln!(
            surfaces,
            "{},{},{},{},{}",
            x.task, x.config, x.x, x.y, x.value
        );
    }
    let mut groups =
        String::from("task,config,seed,layer,activation,neurons,flat_fraction,ablation_drop\n");
    for x in &r.groups {
        let _ = writeln!(
            groups,
            "{},{},{},{},{},{},{},{}",
            x.task,
            x.config,
            x.seed,
            x.layer,
            x.activation,
            x.neurons,
            x.flat_fraction,
            x.ablation_drop
        );
    }
    for (name, text) in [
        (RUNS, runs),
        (CURVES, curves),
        (SURFACES, surfaces),
        (GROUPS, groups),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| crate::io_error(&path, e))?;
    }
    Ok(())
}

/// The text of the file at `path`, refused (`InvalidData`) when it holds
/// more than `limit` bytes, before more is read: the lab reads whole files
/// from folders that may hold anything (a mistaken path, a symlink to
/// `/dev/zero`), and an unbounded read would fill memory. The error keeps
/// its kind, so a caller can treat a missing file as absent.
///
/// # Errors
/// The file cannot be opened or read, is larger than `limit` bytes or is
/// not UTF-8.
pub fn read_text_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than the limit of {limit} bytes for a file the lab reads (see mixact::limits)"
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {e}"),
        )
    })
}

/// [`read_text_bounded`] for a results file, its error an
/// [`Error::Io`] naming the file.
pub(crate) fn read_text_limited(path: &Path, limit: u64) -> Result<String> {
    read_text_bounded(path, limit).map_err(|e| crate::io_error(path, e))
}

/// Rows of an optional file: none when it does not exist.
fn optional_rows(path: &Path, expected_header: &str) -> Result<Vec<Vec<String>>> {
    if path.exists() {
        rows(path, expected_header)
    } else {
        Ok(Vec::new())
    }
}

/// One CSV row: its line number (1-based) and its fields.
pub(crate) type Row<'a> = (usize, Vec<&'a str>);

/// The one reader of the lab's own CSV files (which hold no quoted
/// fields: names are checked to hold no comma, quote or newline before a
/// run): the header must be one of `headers`; returns which one, and each
/// non-empty row's line number (1-based) and fields, checked to be as many
/// as that header's columns.
///
/// # Errors
/// [`Error::Format`] at `location` for another header, or naming the line
/// of a row with the wrong number of fields.
pub(crate) fn split_rows<'a>(
    text: &'a str,
    location: &str,
    headers: &[&str],
) -> Result<(usize, Vec<Row<'a>>)> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let Some(which) = headers.iter().position(|h| *h == header) else {
        return Err(Error::Format {
            location: location.to_string(),
            message: format!(
                "header \"{header}\", expected \"{}\"",
                headers.first().copied().unwrap_or("")
            ),
        });
    };
    let width = headers[which].split(',').count();
    let rows = lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() == width {
                Ok((i + 2, f))
            } else {
                Err(Error::Format {
                    location: format!("{location} line {}", i + 2),
                    message: format!("{} fields, expected {width}", f.len()),
                })
            }
        })
        .collect::<Result<_>>()?;
    Ok((which, rows))
}

/// Header-checked rows of string fields of the file at `path`.
fn rows(path: &Path, expected_header: &str) -> Result<Vec<Vec<String>>> {
    let text = read_text_limited(path, mixact::limits::DEFAULT_MAX_CSV_BYTES)?;
    let (_, rows) = split_rows(&text, &path.display().to_string(), &[expected_header])?;
    Ok(rows
        .into_iter()
        .map(|(_, f)| f.into_iter().map(str::to_string).collect())
        .collect())
}

fn num<T: std::str::FromStr>(path: &Path, field: &str) -> Result<T> {
    field.parse().map_err(|_| Error::Format {
        location: path.display().to_string(),
        message: format!("\"{field}\" is not a number"),
    })
}

/// Creates `dir` (and its parents) if needed and checks that a file can be
/// written in it, so that a run which will write there fails before it
/// starts, not after hours of work.
///
/// # Errors
/// [`Error::Io`] naming `dir` when it cannot be created or written.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::io_error(dir, e))?;
    let probe = dir.join(format!(".mixact-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| crate::io_error(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| crate::io_error(&probe, e))
}

/// Reads the files [`write_results`] wrote. `results.csv` is required; the
/// curve, surface and group files are optional (absent means no rows), so a
/// folder holding only `results.csv` still gives the statistics.
///
/// # Errors
/// [`Error::Io`] for a missing `results.csv` or an unreadable file,
/// [`Error::Format`] for a malformed one.
pub fn read_results(dir: &Path) -> Result<Results> {
    let mut r = Results::default();
    let p = dir.join(RUNS);
    let header = read_text_limited(&p, mixact::limits::DEFAULT_MAX_CSV_BYTES)?
        .lines()
        .next()
        .map(str::to_string)
        .unwrap_or_default();
    let expected = if header == RUN_HEADER_V1 {
        RUN_HEADER_V1
    } else {
        RUN_HEADER
    };
    for f in rows(&p, expected)? {
        let v2 = f.len() > 13;
        r.runs.push(RunRecord {
            task: f[0].clone(),
            metric: Metric::from_name(&f[1]).ok_or_else(|| Error::Format {
                location: p.display().to_string(),
                message: format!("unknown metric \"{}\"", f[1]),
            })?,
            config: f[2].clone(),
            family: Family::from_name(&f[3]).ok_or_else(|| Error::Format {
                location: p.display().to_string(),
                message: format!("unknown family \"{}\"", f[3]),
            })?,
            seed: num(&p, &f[4])?,
            lr: num(&p, &f[5])?,
            width: num(&p, &f[6])?,
            params: num(&p, &f[7])?,
            test_metric: num(&p, &f[8])?,
            valid_metric: num(&p, &f[9])?,
            final_loss: num(&p, &f[10])?,
            steps: num(&p, &f[11])?,
            us_per_step: num(&p, &f[12])?,
            test_loss: if v2 { num(&p, &f[13])? } else { f64::NAN },
            epochs_used: if v2 { num(&p, &f[14])? } else { 0 },
            lr_at_edge: if v2 {
                match f[15].as_str() {
                    "0" => false,
                    "1" => true,
                    other => {
                        return Err(Error::Format {
                            location: p.display().to_string(),
                            message: format!("lr_at_edge \"{other}\" is not 0 or 1"),
                        })
                    }
                }
            } else {
                false
            },
            selection_score: if v2 { num(&p, &f[16])? } else { f64::NAN },
        });
    }
    let p = dir.join(CURVES);
    for f in optional_rows(&p, "task,config,seed,epoch,loss")? {
        r.curves.push(CurvePoint {
            task: f[0].clone(),
            config: f[1].clone(),
            seed: num(&p, &f[2])?,
            epoch: num(&p, &f[3])?,
            loss: num(&p, &f[4])?,
        });
    }
    let p = dir.join(SURFACES);
    for f in optional_rows(&p, "task,config,x,y,value")? {
        r.surfaces.push(SurfacePoint {
            task: f[0].clone(),
            config: f[1].clone(),
            x: num(&p, &f[2])?,
            y: num(&p, &f[3])?,
            value: num(&p, &f[4])?,
        });
    }
    let p = dir.join(GROUPS);
    for f in optional_rows(
        &p,
        "task,config,seed,layer,activation,neurons,flat_fraction,ablation_drop",
    )? {
        r.groups.push(GroupStat {
            task: f[0].clone(),
            config: f[1].clone(),
            seed: num(&p, &f[2])?,
            layer: num(&p, &f[3])?,
            activation: f[4].clone(),
            neurons: num(&p, &f[5])?,
            flat_fraction: num(&p, &f[6])?,
            ablation_drop: num(&p, &f[7])?,
        });
    }
    r.sort();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_results_file_over_the_limit_is_refused_not_read_whole() {
        let path = std::env::temp_dir().join(format!("mixact-limited-{}", std::process::id()));
        std::fs::write(&path, "x".repeat(101)).unwrap();
        let over = read_text_limited(&path, 100);
        let at = read_text_limited(&path, 101);
        let _ = std::fs::remove_file(&path);
        let message = over.unwrap_err().to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("limit of 100 bytes"),
            "{message}"
        );
        assert_eq!(at.unwrap().len(), 101);
    }
}
