//! A study's report: the claim, the protocol and the rules first, then the
//! outcomes the rules reached, the effects per cell, the selection, the
//! data (runs.csv, effects.csv) and a forest plot.

use std::fmt::Write as _;
use std::path::Path;

use mixact::Result;

use super::analysis::{cell_effects, CellEffect, Estimate};
use super::{CellRecord, Scale, Stage, Study};
use crate::plot::{forest, ForestRow};

fn estimate_text(e: &Option<Estimate>, scale: Scale) -> String {
    match (e, scale) {
        (None, _) => "no data".into(),
        (Some(e), Scale::Log) => format!("{:.3} [{:.3}, {:.3}]", e.value, e.low, e.high),
        (Some(e), Scale::Linear) => format!("{:+.2} [{:+.2}, {:+.2}]", e.value, e.low, e.high),
    }
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v != 0.0 && (v.abs() < 1e-2 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn effects_table(effects: &[CellEffect], study: &dyn Study) -> String {
    let ep = study.endpoint();
    let unit = match ep.scale {
        Scale::Log => "ratio arm / baseline",
        Scale::Linear => "difference arm - baseline",
    };
    let mut s = format!(
        "| cell | baseline | arm | arm's lr | arm: mean {} | baseline: mean | {unit} [95% CI] | seeds | diverged (arm, baseline) |\n|---|---|---|---|---|---|---|---|---|\n",
        ep.name
    );
    for e in effects {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}, {} |",
            e.cell,
            e.baseline,
            e.arm,
            num(e.lr),
            num(e.arm_mean),
            num(e.baseline_mean),
            estimate_text(&Some(e.estimate), ep.scale),
            e.estimate.seeds,
            e.diverged.0,
            e.diverged.1
        );
    }
    s
}

fn selection_table(records: &[CellRecord], study: &dyn Study) -> String {
    let mut s = String::from(
        "| cell | arm | chosen lr | mean selection score (lower is better) | rank among singles |\n|---|---|---|---|---|\n",
    );
    for rec in records {
        let singles = study.singles(rec.index);
        let ranking = rec.ranking(&singles);
        for (arm, lr) in rec.chosen_rates() {
            let rank = ranking
                .iter()
                .position(|a| *a == arm)
                .map_or("-".to_string(), |k| (k + 1).to_string());
            let _ = writeln!(
                s,
                "| {} | {arm} | {} | {} | {rank} |",
                rec.cell,
                num(lr),
                num(rec.selection_score(&arm))
            );
        }
    }
    s
}

fn runs_csv(records: &[CellRecord]) -> String {
    let mut s =
        String::from("cell,stage,arm,lr,seed,select,endpoint,secondary1,secondary2,seconds\n");
    for rec in records {
        for r in &rec.rows {
            let _ = writeln!(
                s,
                "{},{},{},{:e},{},{:e},{:e},{:e},{:e},{:.3}",
                rec.cell,
                if r.stage == Stage::Selection {
                    "selection"
                } else {
                    "scored"
                },
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
    }
    s
}

fn effects_csv(effects: &[CellEffect]) -> String {
    let mut s = String::from("cell,baseline,arm,lr,arm_mean,baseline_mean,effect,low,high,seeds\n");
    for e in effects {
        let _ = writeln!(
            s,
            "{},{},{},{:e},{:e},{:e},{:e},{:e},{:e},{}",
            e.cell,
            e.baseline,
            e.arm,
            e.lr,
            e.arm_mean,
            e.baseline_mean,
            e.estimate.value,
            e.estimate.low,
            e.estimate.high,
            e.estimate.seeds
        );
    }
    s
}

/// Secondary endpoint `k`'s per-arm means per cell (scored seeds).
fn secondary_table(records: &[CellRecord], k: usize, name: &str) -> String {
    let mut s = format!("| cell | arm | {name}: mean over scored seeds |\n|---|---|---|\n");
    for rec in records {
        for arm in rec.scored_arms() {
            let v: Vec<f64> = rec
                .scored(&arm)
                .iter()
                .map(|r| r.score.secondary[k])
                .filter(|v| v.is_finite())
                .collect();
            let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let _ = writeln!(s, "| {} | {arm} | {} |", rec.cell, num(m));
        }
    }
    s
}

/// Writes report.md, runs.csv, effects.csv and forest.png into `dir` and
/// returns the outcome lines. `missing` names cells not yet run (the report
/// is then marked partial and decides nothing).
///
/// # Errors
/// [`mixact::Error::Io`] when a file cannot be written.
pub fn write_study_report(
    dir: &Path,
    study: &dyn Study,
    records: &[CellRecord],
    missing: &[String],
    wall: Option<(f64, usize)>,
) -> Result<String> {
    std::fs::create_dir_all(dir).map_err(|e| crate::io_error(dir, e))?;
    let effects = cell_effects(study, records);
    let ep = study.endpoint();
    let mut md = format!("# {}\n\n", study.title());
    let _ = writeln!(md, "**The claim.** {}\n", study.claim());
    let _ = writeln!(md, "## Protocol\n\n{}\n", study.protocol());
    let _ = writeln!(
        md,
        "## Endpoint and decision rules (fixed in code before the run, applied by code)\n\n{}\n",
        study.rules()
    );
    md += "## Outcomes\n\n";
    let mut outcome_lines = String::new();
    if missing.is_empty() {
        for o in study.decide(&effects) {
            let _ = writeln!(
                outcome_lines,
                "- {}: **{}** (effect {})",
                o.claim,
                o.outcome,
                estimate_text(&o.estimate, ep.scale)
            );
        }
    } else {
        let _ = writeln!(
            outcome_lines,
            "- PARTIAL: {} of {} cells are missing ({}); no rule is applied until every cell is in.",
            missing.len(),
            study.cells().len(),
            missing.join(", ")
        );
    }
    md += &outcome_lines;
    md += "\n";
    let _ = writeln!(
        md,
        "## Effects per cell\n\nEach arm against its cell's baseline, paired by scored seed; 95% seed-bootstrap \
         intervals. A diverged run counts at its cell's worst finite score.\n\n{}",
        effects_table(&effects, study)
    );
    for (k, name) in study.secondary().into_iter().enumerate() {
        if let Some(name) = name {
            let _ = writeln!(
                md,
                "## Secondary endpoint: {name}\n\n{}",
                secondary_table(records, k, name)
            );
        }
    }
    let _ = writeln!(
        md,
        "## Selection (selection seeds only)\n\n{}",
        selection_table(records, study)
    );
    let runs: usize = records.iter().map(|r| r.rows.len()).sum();
    let cpu: f64 = records
        .iter()
        .flat_map(|r| &r.rows)
        .map(|r| r.seconds)
        .sum();
    let _ = writeln!(
        md,
        "## Cost\n\n{runs} training runs, {:.1} min of training summed over runs{}.\n",
        cpu / 60.0,
        wall.map_or(String::new(), |(w, workers)| format!(
            "; wall time of the last invocation that trained cells: {:.1} min on {workers} worker threads",
            w / 60.0
        ))
    );
    let rows: Vec<Option<ForestRow>> = effects
        .iter()
        .map(|e| {
            let to_ratio = |v: f64| match ep.scale {
                Scale::Log => v,
                // A PSNR gain of d dB is an MSE ratio of 10^(-d/10).
                Scale::Linear => 10f64.powf(-v / 10.0),
            };
            let (a, b) = (to_ratio(e.estimate.low), to_ratio(e.estimate.high));
            Some(ForestRow {
                label: format!("{}: {}", e.cell, e.arm),
                ratio: to_ratio(e.estimate.value),
                low: a.min(b),
                high: a.max(b),
            })
        })
        .collect();
    if !rows.is_empty() {
        let title = match ep.scale {
            Scale::Log => format!("{}: arm / baseline", ep.name),
            Scale::Linear => "test MSE ratio arm / baseline (10^(-dPSNR/10))".to_string(),
        };
        let file = forest(dir, "forest.png", &title, &rows, 0.0)?;
        let _ = writeln!(md, "![forest plot]({file})\n");
    }
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| crate::io_error(&p, e))
    };
    write("report.md", &md)?;
    write("runs.csv", &runs_csv(records))?;
    write("effects.csv", &effects_csv(&effects))?;
    Ok(outcome_lines)
}
