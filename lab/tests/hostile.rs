//! Hostile input to the lab: shard names, output folders, results files
//! and the folders a merge is given. Each must be a clear error naming the
//! file (or a correct result), never a panic or a silently wrong report.

use mixact::data::Target1d;
use mixact::{Act, Error};
use mixact_lab::units::merge_dirs;
use mixact_lab::{Config, Hidden, Shard, SuiteOptions, Task};
use std::path::{Path, PathBuf};

/// A fresh folder under the system's temporary folder, removed when the
/// guard drops (also when the test fails), so runs leave nothing behind.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("mixact-lab-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

#[test]
fn shard_errors_quote_the_input() {
    let e = mixact_lab::Shard::parse("a/b").unwrap_err();
    assert!(e.to_string().contains("\"a/b\""), "{e}");
}

#[test]
fn an_unwritable_output_folder_is_reported_with_its_path_before_any_work() {
    let e = mixact_lab::ensure_writable_dir(std::path::Path::new("/proc/mixact-nope")).unwrap_err();
    assert!(e.to_string().contains("/proc/mixact-nope"), "{e}");
}

#[test]
fn merging_a_folder_with_only_results_csv_works() {
    let dir = temp_dir("merge");
    std::fs::copy(
        "../docs/standard-report/results.csv",
        dir.join("results.csv"),
    )
    .unwrap();
    let r = mixact_lab::read_results(&dir).unwrap();
    assert!(!r.runs.is_empty());
    assert!(r.groups.is_empty());
}

#[test]
fn a_manifest_cannot_point_outside_its_units_folder() {
    let dir = temp_dir("manifest");
    std::fs::write(
        dir.join("manifest.csv"),
        "id,file,shard,cost\n\"t/c\",../../etc,0,1\n",
    )
    .unwrap();
    let e = mixact_lab::units::merge_dirs(std::slice::from_ref(&dir)).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
}

#[test]
fn a_malformed_sweep_results_file_is_an_error_naming_the_line() {
    use mixact_lab::sweep_report::{parse_sweep_csv, SWEEP_HEADER};
    assert!(matches!(
        parse_sweep_csv("a,b\n"),
        Err(Error::Format { .. })
    ));
    let short = format!("{SWEEP_HEADER}\nspirals,accuracy,1,8\n");
    let e = parse_sweep_csv(&short).unwrap_err();
    assert!(format!("{e}").contains("line 2"), "{e}");
    let bad_number =
        format!("{SWEEP_HEADER}\nt,accuracy,x,8,1,homogeneous,relu,0,0.01,8,33,0.5,0.5\n");
    assert!(matches!(
        parse_sweep_csv(&bad_number),
        Err(Error::Format { .. })
    ));
    let bad_metric =
        format!("{SWEEP_HEADER}\nt,bogus,1,8,1,homogeneous,relu,0,0.01,8,33,0.5,0.5\n");
    assert!(matches!(
        parse_sweep_csv(&bad_metric),
        Err(Error::Format { .. })
    ));
}

#[test]
fn a_sweep_refuses_a_task_name_with_a_comma_before_training_anything() {
    use mixact_lab::sweep::{run_sweep, sweep_cells, SweepOptions};
    use mixact_lab::{SuiteOptions, Task};
    let tasks = vec![Task::regression("sin,abs", Target1d::Abs, 40).with_epochs(1)];
    let opts = SweepOptions {
        widths: vec![8],
        depths: vec![1],
        fractions: vec![1.0],
        suite: SuiteOptions {
            seeds: vec![0],
            tuning_seeds: vec![],
            lr_grid: vec![0.01],
            optimiser: mixact_lab::Optimiser::Adam,
            epochs: 1,
            patience: None,
            lr_extensions: 0,
            batch_size: 8,
            base_width: 8,
            workers: 1,
        },
    };
    let cells = sweep_cells(1, &opts);
    let started = std::sync::atomic::AtomicBool::new(false);
    let e = run_sweep(&tasks, &[Act::Relu, Act::Tanh], &opts, &cells, |_, _| {
        started.store(true, std::sync::atomic::Ordering::SeqCst)
    })
    .unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(format!("{e}").contains("sin,abs"), "{e}");
    assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn sweep_rows_refuse_a_configuration_name_with_a_comma() {
    use mixact_lab::sweep::SweepRecord;
    use mixact_lab::sweep_report::sweep_csv;
    use mixact_lab::Metric;
    let record = SweepRecord {
        task: "t".into(),
        metric: Metric::Mse,
        fraction: 1.0,
        cell_width: 8,
        depth: 1,
        role: mixact_lab::role::Role::Homogeneous,
        config: "relu,tanh".into(),
        seed: 0,
        lr: 0.01,
        width: 8,
        params: 33,
        valid_metric: 0.5,
        test_metric: 0.5,
        test_loss: f64::NAN,
        epochs_used: 0,
        lr_at_edge: false,
        selection_score: f64::NAN,
    };
    assert!(matches!(sweep_csv(&[record]), Err(Error::Format { .. })));
}

#[test]
fn reading_a_sweep_results_file_that_is_a_folder_is_an_io_error() {
    use mixact_lab::sweep_report::read_sweep_csv;
    let e = read_sweep_csv(&std::env::temp_dir()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

// ---- merging checks what it merges ------------------------------------------

/// A complete one-shard suite (3 units of 2 seeds each) stored in `dir`.
fn stored_suite(dir: &Path) {
    let tasks = vec![Task::two_spirals(1.0, 0.05, 40)];
    let configs = vec![
        Config::new(Hidden::Dense(Act::Relu), 1),
        Config::new(Hidden::Dense(Act::Tanh), 1),
        Config::new(Hidden::Interleaved(vec![Act::Relu, Act::Tanh]), 1),
    ];
    let opts = SuiteOptions {
        seeds: vec![0, 1],
        tuning_seeds: vec![],
        lr_grid: vec![0.01],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 2,
        patience: None,
        lr_extensions: 0,
        batch_size: 16,
        base_width: 8,
        workers: 1,
    };
    mixact_lab::run_suite_into(&tasks, &configs, &opts, Shard::ALL, Some(dir), &|_, _| {}).unwrap();
}

/// The results.csv of the first stored unit, and its text.
fn first_unit(dir: &Path) -> (PathBuf, String) {
    let mut units: Vec<PathBuf> = std::fs::read_dir(dir.join("units"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    units.sort();
    let path = units[0].join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// Merging `dir` after `edit` changed its first unit's rows fails with an
/// error that names that unit's file and says `what`.
fn merge_fails_after(name: &str, edit: impl Fn(&[&str]) -> Vec<String>, what: &str) {
    let dir = temp_dir(name);
    stored_suite(&dir);
    assert!(
        merge_dirs(std::slice::from_ref(&dir)).is_ok(),
        "the untouched suite merges"
    );
    let (path, text) = first_unit(&dir);
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, edit(&lines).join("\n") + "\n").unwrap();
    let e = merge_dirs(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    let unit = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(e.contains(&unit), "{name}: the error names the unit: {e}");
    assert!(e.contains(what), "{name}: {e}");
}

/// Replaces field `index` of data row `row` (1-based after the header).
fn set_field(lines: &[&str], row: usize, index: usize, value: &str) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut fields: Vec<String> = out[row].split(',').map(String::from).collect();
    fields[index] = value.into();
    out[row] = fields.join(",");
    out
}

#[test]
fn a_unit_with_an_accuracy_of_99_is_refused() {
    merge_fails_after("acc99", |l| set_field(l, 1, 8, "99.0"), "out of range");
}

#[test]
fn a_unit_with_a_nan_learning_rate_is_refused() {
    merge_fails_after("nanlr", |l| set_field(l, 1, 5, "NaN"), "learning rate");
}

#[test]
fn a_unit_with_a_repeated_row_is_refused() {
    merge_fails_after(
        "repeat",
        |l| {
            let mut v: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            v.push(l[1].to_string());
            v
        },
        "twice",
    );
}

#[test]
fn a_unit_with_a_deleted_row_is_refused() {
    merge_fails_after(
        "delete",
        |l| l.iter().take(l.len() - 1).map(|s| s.to_string()).collect(),
        "missing",
    );
}

#[test]
fn a_unit_with_a_row_of_another_task_is_refused() {
    merge_fails_after(
        "other",
        |l| set_field(l, 1, 0, "checkerboard"),
        "checkerboard",
    );
}

#[test]
fn a_folder_given_twice_is_refused() {
    let dir = temp_dir("twice");
    std::fs::copy(
        "../docs/standard-report/results.csv",
        dir.join("results.csv"),
    )
    .unwrap();
    let e = merge_dirs(&[dir.clone(), dir.join("../").join(dir.file_name().unwrap())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("given twice"), "{e}");
}

#[test]
fn a_merge_of_nothing_is_an_error() {
    assert!(merge_dirs(&[]).is_err());
    let dir = temp_dir("empty");
    let header = std::fs::read_to_string("../docs/standard-report/results.csv").unwrap();
    let header = header.lines().next().unwrap();
    std::fs::write(dir.join("results.csv"), format!("{header}\n")).unwrap();
    let e = merge_dirs(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no"), "{e}");
}

#[test]
fn the_command_line_refuses_a_seed_count_beyond_10000() {
    let out_dir = temp_dir("seeds");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .args(["suite", "--seeds", "18446744073709551615", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error, not a crash");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--seeds"), "{err}");
}

#[test]
fn the_command_line_lists_its_modes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for mode in [
        "suite", "sweep", "confirm", "merge", "inr", "laaf", "symbolic", "midscale",
    ] {
        assert!(help.contains(mode), "{help}");
    }
}

const SWEEP_ROWS: &str = "task,metric,fraction,cell_width,depth,role,config,seed,lr,width,params,valid_metric,test_metric
checker4x4,accuracy,1,16,1,homogeneous,relu,0,0.03,16,65,0.772,0.728
checker4x4,accuracy,1,16,1,homogeneous,relu,1,0.03,16,65,0.75,0.7
";

#[test]
fn a_sweep_folder_with_only_stored_cells_is_read_from_its_cells() {
    let d = temp_dir("cells-only");
    std::fs::create_dir_all(d.join("cells")).unwrap();
    std::fs::write(d.join("cells/a.csv"), SWEEP_ROWS).unwrap();
    let rows = mixact_lab::sweep_report::read_sweep_dir(&d).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].seed, 1);
}

#[test]
fn a_run_held_twice_with_the_same_result_is_kept_once() {
    let rows = mixact_lab::sweep_report::parse_sweep_csv(SWEEP_ROWS).unwrap();
    let doubled: Vec<_> = rows.iter().chain(rows.iter()).cloned().collect();
    let kept = mixact_lab::sweep_report::dedup_sweep_records(doubled).unwrap();
    assert_eq!(kept.len(), 2);
}

#[test]
fn a_run_held_twice_with_different_results_is_refused() {
    let rows = mixact_lab::sweep_report::parse_sweep_csv(SWEEP_ROWS).unwrap();
    let mut other = rows[0].clone();
    other.test_metric = 0.9;
    let e =
        mixact_lab::sweep_report::dedup_sweep_records(vec![rows[0].clone(), other]).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains("seed 0"), "{e}");
}

#[test]
fn merging_sweep_cells_without_their_plan_file_names_the_missing_file() {
    let d = temp_dir("no-plan");
    std::fs::create_dir_all(d.join("cells")).unwrap();
    std::fs::write(d.join("cells/a.csv"), SWEEP_ROWS).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .arg("merge")
        .arg(&d)
        .arg("--out")
        .arg(d.join("report"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lab-plan.txt"), "{err}");
}

#[test]
fn a_sweep_row_with_an_unknown_role_is_refused_naming_the_line() {
    let text = SWEEP_ROWS.replace(",homogeneous,relu,1,", ",homogenous,relu,1,");
    let e = mixact_lab::sweep_report::parse_sweep_csv(&text).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(
        e.to_string().contains("line 3") && e.to_string().contains("role"),
        "{e}"
    );
}

#[test]
fn a_study_refuses_seeds_that_would_change_its_declared_protocol() {
    let out_dir = temp_dir("study-seeds");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .args(["symbolic", "--quick", "--seeds", "3", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a clean error, not a crash");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--seeds") && err.contains("declared protocol"),
        "{err}"
    );
}

#[test]
fn merging_a_study_with_missing_cells_needs_allow_partial() {
    let d = temp_dir("study-partial");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("lab-plan.txt"), "laaf quick\n").unwrap();
    let out_dir = temp_dir("study-partial-out");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .arg("merge")
        .arg(&d)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 of 2 cells are missing") && err.contains("--allow-partial"),
        "{err}"
    );
}

#[test]
fn a_task_with_zero_epochs_is_refused_before_training_anything() {
    let tasks = vec![Task::regression("abs", Target1d::Abs, 40).with_epochs(0)];
    let configs = vec![Config::new(Hidden::Dense(Act::Relu), 1)];
    let opts = SuiteOptions {
        seeds: vec![0],
        tuning_seeds: vec![],
        lr_grid: vec![0.01],
        optimiser: mixact_lab::Optimiser::Adam,
        epochs: 5,
        patience: None,
        lr_extensions: 0,
        batch_size: 8,
        base_width: 8,
        workers: 1,
    };
    let started = std::sync::atomic::AtomicBool::new(false);
    let e = mixact_lab::run_suite(&tasks, &configs, &opts, Shard::ALL, &|_, _| {
        started.store(true, std::sync::atomic::Ordering::SeqCst)
    })
    .unwrap_err();
    assert_eq!(e, Error::ZeroWidth { what: "epochs" });
    assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn a_merged_task_whose_rows_name_two_metrics_is_refused() {
    let dir = temp_dir("two-metrics");
    let text = std::fs::read_to_string("../docs/standard-report/results.csv").unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let row = lines
        .iter()
        .position(|l| l.contains(",accuracy,"))
        .expect("the standard suite has a classification task");
    lines[row] = lines[row].replacen(",accuracy,", ",mse,", 1);
    std::fs::write(dir.join("results.csv"), lines.join("\n") + "\n").unwrap();
    let e = merge_dirs(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is scored by mse") && e.contains("by accuracy"),
        "{e}"
    );
}

/// One sweep row of task `t` with `metric` and `test` as its test metric.
fn sweep_row(metric: &str, seed: u64, test: &str) -> String {
    format!("t,{metric},1,8,1,homogeneous,relu,{seed},0.01,8,33,0.5,{test},0.7,3,0,0.5")
}

#[test]
fn a_sweep_row_with_a_negative_mse_is_refused_naming_the_line() {
    use mixact_lab::sweep_report::{parse_sweep_csv, SWEEP_HEADER};
    let good = format!("{SWEEP_HEADER}\n{}\n", sweep_row("mse", 0, "0.25"));
    assert!(parse_sweep_csv(&good).is_ok());
    let bad = format!(
        "{SWEEP_HEADER}\n{}\n{}\n",
        sweep_row("mse", 0, "0.25"),
        sweep_row("mse", 1, "-1")
    );
    let e = parse_sweep_csv(&bad).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("test mse -1"), "{e}");
}

#[test]
fn a_sweep_row_with_an_accuracy_above_one_is_refused() {
    use mixact_lab::sweep_report::{parse_sweep_csv, SWEEP_HEADER};
    let bad = format!("{SWEEP_HEADER}\n{}\n", sweep_row("accuracy", 0, "1.5"));
    let e = parse_sweep_csv(&bad).unwrap_err().to_string();
    assert!(e.contains("test accuracy 1.5"), "{e}");
}

#[test]
fn merged_sweep_rows_of_one_task_naming_two_metrics_are_refused() {
    use mixact_lab::sweep_report::{dedup_sweep_records, parse_sweep_csv, SWEEP_HEADER};
    let text = format!(
        "{SWEEP_HEADER}\n{}\n{}\n",
        sweep_row("mse", 0, "0.25"),
        sweep_row("accuracy", 1, "0.25")
    );
    let records = parse_sweep_csv(&text).unwrap();
    let e = dedup_sweep_records(records).unwrap_err().to_string();
    assert!(
        e.contains("scored by mse") && e.contains("by accuracy"),
        "{e}"
    );
}

/// `merge` of a suite folder whose `name` is a symlink to /dev/zero (an
/// endless file) fails at once, naming that file, instead of filling memory.
#[cfg(unix)]
fn merge_refuses_an_endless(name: &str) {
    let d = temp_dir(&format!("endless-{name}"));
    std::fs::copy("../docs/standard-report/results.csv", d.join("results.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.join(name)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixact-lab"))
        .arg("merge")
        .arg(&d)
        .arg("--out")
        .arg(d.join("report"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an error, not a crash");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(name) && err.contains("larger than"), "{err}");
}

#[cfg(unix)]
#[test]
fn merge_refuses_an_endless_plan_file() {
    merge_refuses_an_endless("lab-plan.txt");
}

#[cfg(unix)]
#[test]
fn merge_refuses_an_endless_protocol_file() {
    merge_refuses_an_endless("protocol.md");
}

#[test]
fn merged_sweep_rows_of_a_cell_whose_configurations_ran_different_seeds_are_refused() {
    use mixact_lab::sweep_report::{dedup_sweep_records, parse_sweep_csv, SWEEP_HEADER};
    let row = |config: &str, seed: u64| {
        format!("t,mse,1,8,1,homogeneous,{config},{seed},0.01,8,33,0.5,0.25,0.25,3,0,0.5")
    };
    let whole = [
        row("relu", 0),
        row("relu", 1),
        row("tanh", 0),
        row("tanh", 1),
    ];
    let text = format!("{SWEEP_HEADER}\n{}\n", whole.join("\n"));
    assert!(dedup_sweep_records(parse_sweep_csv(&text).unwrap()).is_ok());
    let text = format!("{SWEEP_HEADER}\n{}\n", whole[..3].join("\n"));
    let e = dedup_sweep_records(parse_sweep_csv(&text).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tanh ran seeds [0]") && e.contains("relu ran [0, 1]"),
        "{e}"
    );
}

/// Merging a stored suite after `edit` changed `file` of its first unit (the
/// mixed configuration's, which has activation groups) fails naming that
/// file and saying `what`.
fn merge_fails_after_editing(
    name: &str,
    file: &str,
    edit: impl Fn(&[&str]) -> Vec<String>,
    what: &str,
) {
    let dir = temp_dir(name);
    stored_suite(&dir);
    let (results, _) = first_unit(&dir);
    let path = results.with_file_name(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 1, "{file} has rows to damage");
    std::fs::write(&path, edit(&lines).join("\n") + "\n").unwrap();
    let e = merge_dirs(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(e.contains(file) && e.contains(what), "{name}: {e}");
}

#[test]
fn a_unit_with_a_flat_fraction_above_one_is_refused() {
    merge_fails_after_editing(
        "flat5",
        "groups.csv",
        |l| set_field(l, 1, 6, "5"),
        "flat fraction 5",
    );
}

#[test]
fn a_unit_with_a_group_larger_than_its_network_is_refused() {
    merge_fails_after_editing(
        "bigroup",
        "groups.csv",
        |l| set_field(l, 1, 5, "99999999999999"),
        "99999999999999 neurons",
    );
}

#[test]
fn a_unit_with_a_curve_point_of_another_configuration_is_refused() {
    merge_fails_after_editing(
        "othercurve",
        "curves.csv",
        |l| set_field(l, 1, 1, "relu"),
        "a point of",
    );
}

#[test]
fn a_unit_with_a_curve_epoch_beyond_any_budget_is_refused() {
    merge_fails_after_editing(
        "epoch",
        "curves.csv",
        |l| set_field(l, 1, 3, "999999999999999999"),
        "epoch 999999999999999999",
    );
}

#[test]
fn a_results_folder_whose_group_rows_name_no_run_is_refused() {
    let dir = temp_dir("orphan-groups");
    for file in ["results.csv", "groups.csv"] {
        std::fs::copy(format!("../docs/standard-report/{file}"), dir.join(file)).unwrap();
    }
    assert!(
        merge_dirs(std::slice::from_ref(&dir)).is_ok(),
        "the report as published merges"
    );
    let text = std::fs::read_to_string(dir.join("groups.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        dir.join("groups.csv"),
        set_field(&lines, 1, 2, "4000").join("\n") + "\n",
    )
    .unwrap();
    let e = merge_dirs(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("groups.csv") && e.contains("seed 4000 without its run"),
        "{e}"
    );
}
