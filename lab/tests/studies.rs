//! The literature studies: each declared win rule reaches each of its
//! outcomes on synthetic results, stored cells survive a round trip and a
//! stale or corrupt one is refused, and the pooled statistics do what the
//! rules say.

use mixact_lab::study::{
    bootstrap_stat, inr, laaf, midscale, read_cells, symbolic, CellEffect, Estimate, Statistic,
    Study,
};

fn est(value: f64, low: f64, high: f64) -> Estimate {
    Estimate {
        value,
        low,
        high,
        seeds: 20,
        cells: 1,
    }
}

#[test]
fn the_symbolic_rule_reaches_win_no_win_and_loss() {
    assert_eq!(symbolic::win_rule(Some(&est(0.7, 0.6, 0.95))), "win");
    assert_eq!(symbolic::win_rule(Some(&est(0.85, 0.7, 0.95))), "no win");
    assert_eq!(symbolic::win_rule(Some(&est(0.7, 0.5, 1.05))), "no win");
    assert_eq!(symbolic::win_rule(Some(&est(1.2, 1.05, 1.3))), "loss");
    assert_eq!(symbolic::win_rule(None), "no win");
}

#[test]
fn the_laaf_rule_needs_a_one_and_a_half_fold_speed_up_with_an_interval_below_one() {
    assert_eq!(laaf::win_rule(Some(&est(0.6, 0.5, 0.8))), "win");
    assert_eq!(laaf::win_rule(Some(&est(0.7, 0.6, 0.8))), "no win");
    assert_eq!(laaf::win_rule(Some(&est(0.6, 0.4, 1.1))), "no win");
    assert_eq!(laaf::win_rule(Some(&est(1.3, 1.1, 1.5))), "loss");
}

#[test]
fn the_inr_rule_needs_one_decibel_with_an_interval_above_zero() {
    assert_eq!(inr::win_rule(Some(&est(1.5, 0.4, 2.5))), "win");
    assert_eq!(inr::win_rule(Some(&est(0.8, 0.4, 1.2))), "no win");
    assert_eq!(inr::win_rule(Some(&est(1.5, -0.2, 3.0))), "no win");
    assert_eq!(inr::win_rule(Some(&est(-1.0, -1.5, -0.5))), "loss");
}

#[test]
fn the_midscale_rule_needs_an_interval_below_0_97() {
    assert_eq!(midscale::win_rule(Some(&est(0.9, 0.85, 0.96))), "win");
    assert_eq!(midscale::win_rule(Some(&est(0.95, 0.9, 0.98))), "no win");
    assert_eq!(midscale::win_rule(Some(&est(1.05, 1.01, 1.09))), "loss");
}

#[test]
fn a_rule_gives_no_verdict_on_fewer_than_six_seeds() {
    let few = Estimate {
        seeds: 5,
        ..est(0.5, 0.4, 0.6)
    };
    assert_eq!(symbolic::win_rule(Some(&few)), "no win");
    assert_eq!(midscale::win_rule(Some(&few)), "no win");
}

fn effect(cell: &str, arm: &str, paired: Vec<f64>) -> CellEffect {
    CellEffect {
        cell: cell.into(),
        arm: arm.into(),
        baseline: "tanh".into(),
        lr: 1e-3,
        estimate: bootstrap_stat(&[&paired[..]], Statistic::Mean, 1).unwrap(),
        paired,
        arm_mean: 1.0,
        baseline_mean: 1.0,
        diverged: (0, 0),
    }
}

#[test]
fn the_symbolic_decision_takes_the_median_over_formulas() {
    let mix = "mask sin+tanh+relu+square+identity";
    // Two formulas with a 0.5 ratio, one with 2: the median is 0.5.
    let effects: Vec<CellEffect> = [0.5f64, 0.5, 2.0]
        .iter()
        .enumerate()
        .map(|(k, r)| effect(&format!("f{k}"), mix, vec![r.ln(); 10]))
        .collect();
    let study = symbolic::Symbolic { quick: false };
    let d = study.decide(&effects);
    let e = d[0].estimate.unwrap();
    assert!((e.value - 0.5).abs() < 1e-12, "{e:?}");
    assert_eq!(d[0].outcome, "win");
}

#[test]
fn the_inr_decision_reads_siren_against_relu_even_when_relu_is_the_baseline() {
    let study = inr::Inr { quick: true };
    let cells = study.cells();
    let mut effects = Vec::new();
    for c in &cells {
        let mut e = effect(c, "SIREN", vec![2.0; 8]);
        e.baseline = "relu".into();
        effects.push(e);
    }
    let d = study.decide(&effects);
    assert_eq!(d[0].outcome, "reproduced");
    assert!((d[0].estimate.unwrap().value - 2.0).abs() < 1e-12);
}

#[test]
fn every_study_names_its_arms_without_commas_and_has_disjoint_seeds() {
    let studies: Vec<Box<dyn Study>> = vec![
        Box::new(inr::Inr { quick: false }),
        Box::new(laaf::Laaf { quick: false }),
        Box::new(symbolic::Symbolic { quick: false }),
        Box::new(midscale::Midscale { quick: false }),
    ];
    for s in &studies {
        for k in 0..s.cells().len() {
            let mut arms = s.singles(k);
            arms.extend(s.fixed(k));
            let ranking = s.singles(k);
            arms.extend(s.derived(k, &ranking));
            assert!(
                arms.iter().all(|a| !a.contains(',')),
                "{}: {arms:?}",
                s.name()
            );
        }
        let sel = s.selection_seeds();
        assert!(
            s.scored_seeds().iter().all(|x| !sel.contains(x)),
            "{}",
            s.name()
        );
        assert!(s.scored_seeds().len() >= 6, "{}", s.name());
    }
}

#[test]
fn a_stored_cell_of_another_protocol_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("mixact-study-stale-{}", std::process::id()));
    let cells = dir.join("cells");
    std::fs::create_dir_all(&cells).unwrap();
    let study = symbolic::Symbolic { quick: true };
    let name = &study.cells()[0];
    let file = cells.join(format!("000-{}.csv", mixact_lab::plot::slug(name)));
    std::fs::write(
        &file,
        "# mixact-lab symbolic cell=x selection=[1] scored=[2]\n",
    )
    .unwrap();
    let err = read_cells(&study, std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(err.contains("another protocol"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_stored_cell_is_an_error_naming_its_line() {
    let dir = std::env::temp_dir().join(format!("mixact-study-corrupt-{}", std::process::id()));
    let cells = dir.join("cells");
    std::fs::create_dir_all(&cells).unwrap();
    let study = symbolic::Symbolic { quick: true };
    let name = &study.cells()[0];
    let head = format!(
        "# mixact-lab symbolic cell={name} selection={:?} scored={:?}",
        study.selection_seeds(),
        study.scored_seeds()
    );
    let file = cells.join(format!("000-{}.csv", mixact_lab::plot::slug(name)));
    let text = format!(
        "{head}\nstage,arm,lr,seed,select,endpoint,secondary1,secondary2,seconds\nscored,relu,0.001,x,1,1,NaN,NaN,1\n"
    );
    std::fs::write(&file, text).unwrap();
    let err = read_cells(&study, std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3") && err.contains("seed"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_quick_study_runs_end_to_end_and_resumes_from_its_stored_cells() {
    let dir = std::env::temp_dir().join(format!("mixact-study-run-{}", std::process::id()));
    let study = laaf::Laaf { quick: true };
    // One cell of two (shard 1/2 holds the second): enough to exercise
    // selection, derived arms, scoring and the store.
    let shard = mixact_lab::Shard::parse("1/2").unwrap();
    let (first, ran) = mixact_lab::study::run_study(&study, &dir, shard, 2, &|_, _, _| {}).unwrap();
    let (again, ran_again) =
        mixact_lab::study::run_study(&study, &dir, shard, 2, &|_, _, _| {}).unwrap();
    assert_eq!((ran, ran_again), (1, 0));
    // The second call loads what the first stored: the same runs and scores
    // (wall times are stored to the millisecond).
    let key = |r: &Vec<mixact_lab::study::CellRecord>| -> Vec<_> {
        r[0].rows
            .iter()
            .map(|x| {
                let s = x.score;
                let bits =
                    [s.select, s.endpoint, s.secondary[0], s.secondary[1], x.lr].map(f64::to_bits);
                (x.stage, x.arm.clone(), x.seed, bits)
            })
            .collect()
    };
    assert_eq!(key(&first), key(&again));
    let (found, missing) = read_cells(&study, std::slice::from_ref(&dir)).unwrap();
    assert_eq!((found.len(), missing.len()), (1, 1));
    let text = mixact_lab::study::write_study_report(&dir, &study, &found, &missing, None).unwrap();
    assert!(text.contains("PARTIAL"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A whole stored cell 0 of the quick symbolic study as the protocol makes
/// it: every arm's selection over its grid (all scoring alike, so the
/// ranking keeps the singles' order and each arm keeps its smallest rate),
/// then every arm at that rate over the scored seeds.
fn whole_cell_lines(study: &symbolic::Symbolic) -> Vec<String> {
    let name = &study.cells()[0];
    let mut lines = vec![
        format!(
            "# mixact-lab symbolic cell={name} selection={:?} scored={:?}",
            study.selection_seeds(),
            study.scored_seeds()
        ),
        "stage,arm,lr,seed,select,endpoint,secondary1,secondary2,seconds".to_string(),
    ];
    let singles = study.singles(0);
    let mut arms = singles.clone();
    arms.extend(study.fixed(0));
    arms.extend(study.derived(0, &singles));
    for arm in &arms {
        for lr in study.lr_grid(0, arm) {
            for seed in study.selection_seeds() {
                lines.push(format!(
                    "selection,{arm},{lr:e},{seed},1e0,1e0,NaN,NaN,0.100"
                ));
            }
        }
    }
    for arm in &arms {
        let lr = study
            .lr_grid(0, arm)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        for seed in study.scored_seeds() {
            lines.push(format!("scored,{arm},{lr:e},{seed},1e0,1e0,NaN,NaN,0.100"));
        }
    }
    lines
}

/// Reads cell 0 of the quick symbolic study stored as `lines`.
fn read_stored_cell(tag: &str, lines: &[String]) -> mixact::Result<usize> {
    let study = symbolic::Symbolic { quick: true };
    let dir = std::env::temp_dir().join(format!("mixact-study-{tag}-{}", std::process::id()));
    let cells = dir.join("cells");
    std::fs::create_dir_all(&cells).unwrap();
    let name = &study.cells()[0];
    let file = cells.join(format!("000-{}.csv", mixact_lab::plot::slug(name)));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let read = read_cells(&study, std::slice::from_ref(&dir)).map(|(found, _)| found.len());
    std::fs::remove_dir_all(&dir).unwrap();
    read
}

#[test]
fn a_stored_cell_with_every_run_of_the_protocol_is_read() {
    let lines = whole_cell_lines(&symbolic::Symbolic { quick: true });
    assert_eq!(read_stored_cell("whole", &lines).unwrap(), 1);
}

#[test]
fn a_stored_cell_missing_a_scored_run_is_refused() {
    let mut lines = whole_cell_lines(&symbolic::Symbolic { quick: true });
    let gone = lines.pop().unwrap();
    let err = read_stored_cell("missing", &lines).unwrap_err().to_string();
    assert!(err.contains("is missing"), "{err} (removed: {gone})");
}

#[test]
fn a_stored_cell_with_a_run_twice_is_refused() {
    let mut lines = whole_cell_lines(&symbolic::Symbolic { quick: true });
    lines.push(lines[2].clone());
    let err = read_stored_cell("twice", &lines).unwrap_err().to_string();
    assert!(err.contains("appears twice"), "{err}");
}

#[test]
fn a_stored_cell_with_a_run_of_a_seed_it_never_ran_is_refused() {
    let mut lines = whole_cell_lines(&symbolic::Symbolic { quick: true });
    let last = lines.last().unwrap().clone();
    let mut f: Vec<&str> = last.split(',').collect();
    f[3] = "987654";
    lines.push(f.join(","));
    let err = read_stored_cell("foreign", &lines).unwrap_err().to_string();
    assert!(err.contains("seed 987654 is not one of its runs"), "{err}");
}

#[test]
fn a_stored_run_with_a_negative_error_is_refused_naming_its_line() {
    let mut lines = whole_cell_lines(&symbolic::Symbolic { quick: true });
    lines[4] = lines[4].replacen(",1e0,1e0,", ",1e0,-1e0,", 1);
    let err = read_stored_cell("negative", &lines)
        .unwrap_err()
        .to_string();
    assert!(err.contains(":5") && err.contains("negative"), "{err}");
}
