//! The sweep's effect sizes: per cell and per pre-declared group, the test
//! error ratio of each arm to the cell's best single activation, with a
//! seed-bootstrap interval, a verdict against the margin, and Holm within
//! each family. This is the report's first table; win counts come after.
//!
//! Arms and families (declared before any run, applied here):
//! - **primary**: the best-two mix, its three arrangements (interleaved,
//!   branches, random interleave) pooled per seed into one error (they are
//!   one architecture up to a permutation of hidden units);
//! - **secondary**: each arrangement alone, the slope-only control on the
//!   best activation, and the interleave of every candidate.
//!
//! The baseline of a cell is its best single activation by mean validation
//! score on separate selection seeds when every candidate has one (the
//! current protocol), else over the same seeds that are scored (sweeps run
//! before selection seeds; this favours the baseline slightly). The report
//! says which, from the records.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::effect::{error_of, error_ratio, pool_arrangements, ErrorRatio, PairedCell};
use crate::report::ALPHA;
use crate::stats::holm;
use crate::sweep::{cell_baseline, Role, SweepRecord, HOMOGENEOUS};
use crate::sweep_report::{fraction_label, CellKey};

/// The arms compared with the best single activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arm {
    /// The three arrangements of the best two activations, pooled per seed.
    BestTwoPooled,
    /// The best two interleaved.
    MaskBestTwo,
    /// The best two as concatenated branches.
    BranchesBestTwo,
    /// The best two interleaved in a random order per seed.
    RandomBestTwo,
    /// The slope-only control on the best activation.
    SlopeBest,
    /// The interleave of every candidate.
    MaskAll,
}

impl Arm {
    /// Every arm, in report order.
    pub const ALL: [Arm; 6] = [
        Arm::BestTwoPooled,
        Arm::MaskBestTwo,
        Arm::BranchesBestTwo,
        Arm::RandomBestTwo,
        Arm::SlopeBest,
        Arm::MaskAll,
    ];

    /// The name in reports and CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Arm::BestTwoPooled => "best2 pooled",
            Arm::MaskBestTwo => "mask best2",
            Arm::BranchesBestTwo => "branches best2",
            Arm::RandomBestTwo => "random best2",
            Arm::SlopeBest => "slope best",
            Arm::MaskAll => "mask all",
        }
    }

    /// The sweep roles whose runs make up this arm.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Arm::BestTwoPooled => &[
                Role::MaskBestTwo,
                Role::BranchesBestTwo,
                Role::RandomBestTwo,
            ],
            Arm::MaskBestTwo => &[Role::MaskBestTwo],
            Arm::BranchesBestTwo => &[Role::BranchesBestTwo],
            Arm::RandomBestTwo => &[Role::RandomBestTwo],
            Arm::SlopeBest => &[Role::SlopeBest],
            Arm::MaskAll => &[Role::MaskAll],
        }
    }

    /// Whether the arm is the primary family (Holm over its cells alone).
    pub fn is_primary(self) -> bool {
        self == Arm::BestTwoPooled
    }
}

/// One arm in one cell against the cell's best single activation.
#[derive(Debug, Clone, PartialEq)]
pub struct CellEffect {
    /// The cell.
    pub cell: CellKey,
    /// The arm.
    pub arm: Arm,
    /// The cell's best single activation.
    pub baseline: String,
    /// The configurations that played the arm.
    pub configs: String,
    /// The error ratio and its interval.
    pub effect: ErrorRatio,
    /// Holm-adjusted p within the arm's family (all cells of the arm).
    pub p_holm: f64,
}

/// One arm pooled over a group of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEffect {
    /// "all cells", "task sin6x+abs", "depth 4", ...
    pub group: String,
    /// The arm.
    pub arm: Arm,
    /// The error ratio over the group's cells, seeds resampled jointly.
    pub effect: ErrorRatio,
}

/// One cell's baseline configuration and, per arm, its paired errors and
/// the configurations it pools.
pub(crate) type CellArms = (String, Vec<(Arm, PairedCell, String)>);

/// The paired errors of every arm in every cell.
pub(crate) fn paired(records: &[SweepRecord]) -> BTreeMap<CellKey, CellArms> {
    let mut cells: BTreeMap<CellKey, Vec<&SweepRecord>> = BTreeMap::new();
    for r in records {
        let key = (
            r.task.clone(),
            (r.fraction * 1000.0).round() as u32,
            r.depth,
            r.cell_width,
        );
        cells.entry(key).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (key, rs) in cells {
        let owned: Vec<SweepRecord> = rs.iter().map(|r| (*r).clone()).collect();
        let Some(baseline) = cell_baseline(&owned) else {
            continue;
        };
        let base: BTreeMap<u64, f64> = rs
            .iter()
            .filter(|r| r.role == HOMOGENEOUS && r.config == baseline)
            .map(|r| (r.seed, error_of(r.metric, r.test_metric)))
            .collect();
        let role_cell = |role: Role| -> (PairedCell, String) {
            let mut c = PairedCell::default();
            let mut config = String::new();
            for r in rs.iter().filter(|r| r.role == role) {
                if let Some(&b) = base.get(&r.seed) {
                    c.seeds.push(r.seed);
                    c.layout.push(error_of(r.metric, r.test_metric));
                    c.baseline.push(b);
                    config.clone_from(&r.config);
                }
            }
            (c, config)
        };
        let mut arms = Vec::new();
        for arm in Arm::ALL {
            let parts: Vec<(PairedCell, String)> =
                arm.roles().iter().map(|&r| role_cell(r)).collect();
            if parts.iter().any(|(c, _)| c.seeds.is_empty()) {
                continue;
            }
            let cell = if parts.len() == 1 {
                parts[0].0.clone()
            } else {
                pool_arrangements(&parts.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>())
            };
            let configs = parts
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(" | ");
            arms.push((arm, cell, configs));
        }
        out.insert(key, (baseline, arms));
    }
    out
}

/// Every arm in every cell, Holm within each arm's family.
pub fn cell_effects(records: &[SweepRecord]) -> Vec<CellEffect> {
    let mut out = Vec::new();
    for (key, (baseline, arms)) in paired(records) {
        for (arm, cell, configs) in arms {
            if let Some(effect) = error_ratio(std::slice::from_ref(&cell), ALPHA, 17) {
                out.push(CellEffect {
                    cell: key.clone(),
                    arm,
                    baseline: baseline.clone(),
                    configs,
                    effect,
                    p_holm: 1.0,
                });
            }
        }
    }
    for arm in Arm::ALL {
        let idx: Vec<usize> = (0..out.len()).filter(|&i| out[i].arm == arm).collect();
        let adjusted = holm(&idx.iter().map(|&i| out[i].effect.p).collect::<Vec<_>>());
        for (&i, p) in idx.iter().zip(adjusted) {
            out[i].p_holm = p;
        }
    }
    out
}

/// Each arm pooled over the pre-declared groups: all cells, each task, each
/// depth, each data fraction, and each task at each depth.
pub fn group_effects(records: &[SweepRecord]) -> Vec<GroupEffect> {
    let cells = paired(records);
    let mut groups: BTreeMap<(usize, String), Vec<&CellKey>> = BTreeMap::new();
    for key in cells.keys() {
        groups.entry((0, "all cells".into())).or_default().push(key);
        groups
            .entry((1, format!("task {}", key.0)))
            .or_default()
            .push(key);
        groups
            .entry((2, format!("depth {}", key.2)))
            .or_default()
            .push(key);
        groups
            .entry((3, format!("data {}", fraction_label(key.1))))
            .or_default()
            .push(key);
        groups
            .entry((4, format!("{} depth {}", key.0, key.2)))
            .or_default()
            .push(key);
    }
    let mut out = Vec::new();
    for arm in Arm::ALL {
        for ((_, name), keys) in &groups {
            let members: Vec<PairedCell> = keys
                .iter()
                .filter_map(|k| {
                    cells[*k]
                        .1
                        .iter()
                        .find(|(a, _, _)| *a == arm)
                        .map(|(_, c, _)| c.clone())
                })
                .collect();
            if let Some(effect) = error_ratio(&members, ALPHA, 23) {
                out.push(GroupEffect {
                    group: name.clone(),
                    arm,
                    effect,
                });
            }
        }
    }
    out
}

/// `0.950 [0.905, 0.991]`.
pub fn ratio_text(e: &ErrorRatio) -> String {
    format!("{:.3} [{:.3}, {:.3}]", e.ratio, e.low, e.high)
}

/// Two significant digits, and "< 1e-4" below what 10 000 resamples or an
/// exact small-sample test can resolve honestly.
pub fn p_text(p: f64) -> String {
    if p < 1e-4 {
        "< 1e-4".to_string()
    } else if p < 0.01 {
        format!("{p:.1e}")
    } else {
        format!("{p:.2}")
    }
}

/// The effect-size table of one arm's groups, for the report's first screen.
pub fn group_table(groups: &[GroupEffect], arm: Arm, margin: f64) -> String {
    let mut s = String::from(
        "| group | cells | seeds | error ratio [95% CI] | verdict | p | detectable (80%) |\n\
|---|---|---|---|---|---|---|\n",
    );
    for g in groups.iter().filter(|g| g.arm == arm) {
        let e = &g.effect;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.3} |",
            g.group,
            e.cells,
            e.seeds,
            ratio_text(e),
            e.verdict(margin).label(),
            p_text(e.p),
            e.mde_ratio
        );
    }
    s
}

/// Every comparison as CSV: cell, arm, family, configurations, baseline, n,
/// ratio, interval, p, Holm p, minimum detectable ratio at the family's
/// first Holm step, verdict.
pub fn comparisons_csv(effects: &[CellEffect], margin: f64) -> String {
    let mut family_size: BTreeMap<Arm, usize> = BTreeMap::new();
    for e in effects {
        *family_size.entry(e.arm).or_default() += 1;
    }
    let mut s = String::from(
        "task,fraction,depth,width,arm,family,configs,baseline,n,ratio,ci_low,ci_high,p,p_holm,mde_ratio_holm,verdict,diverged_layout,diverged_baseline\n",
    );
    for e in effects {
        let m = family_size[&e.arm].max(1);
        // The detectable ratio at the first Holm step (alpha / m).
        let z = crate::stats::normal_quantile(1.0 - ALPHA / (2.0 * m as f64))
            + crate::stats::normal_quantile(0.8);
        let z0 =
            crate::stats::normal_quantile(1.0 - ALPHA / 2.0) + crate::stats::normal_quantile(0.8);
        let mde = e.effect.mde_ratio.ln() * z / z0;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},\"{}\",{},{},{:.5},{:.5},{:.5},{:.4e},{:.4e},{:.4},{},{},{}",
            e.cell.0,
            e.cell.1 as f64 / 1000.0,
            e.cell.2,
            e.cell.3,
            e.arm.name(),
            if e.arm.is_primary() {
                "primary"
            } else {
                "secondary"
            },
            e.configs.replace('"', "\"\""),
            e.baseline,
            e.effect.seeds,
            e.effect.ratio,
            e.effect.low,
            e.effect.high,
            e.effect.p,
            e.p_holm,
            mde.exp(),
            e.effect.verdict(margin).label(),
            e.effect.diverged.0,
            e.effect.diverged.1
        );
    }
    s
}

/// The opening of the report: the answer, in effect sizes, written from the data.
pub fn answer(
    groups: &[GroupEffect],
    cells: &[CellEffect],
    margin: f64,
    baseline: BaselineSource,
) -> String {
    let mut s = String::from("## The answer, in effect sizes\n\n");
    let find = |name: &str| {
        groups
            .iter()
            .find(|g| g.arm == Arm::BestTwoPooled && g.group == name)
    };
    if let Some(all) = find("all cells") {
        let _ = writeln!(
            s,
            "Over every cell, the best-two mix (its three arrangements pooled per seed) has **{}x** \
the test error of the cell's best single activation (geometric mean over {} seeds, 95% seed-bootstrap \
interval; below 1 means less error). Against an equivalence margin of ±{:.0}%, that is **{}**.",
            ratio_text(&all.effect),
            all.effect.seeds,
            margin * 100.0,
            all.effect.verdict(margin).label()
        );
    }
    let primary: Vec<&CellEffect> = cells.iter().filter(|c| c.arm.is_primary()).collect();
    let count = |v: crate::effect::EffectVerdict| {
        primary
            .iter()
            .filter(|c| c.effect.verdict(margin) == v)
            .count()
    };
    use crate::effect::EffectVerdict as V;
    let _ = writeln!(
        s,
        "\nPer cell (the primary family, {} cells): the interval says better in {}, worse in {}, \
equivalent in {}, inconclusive in {}; {} cells survive Holm at α = {ALPHA} (better: {}, worse: {}).",
        primary.len(),
        count(V::Better),
        count(V::Worse),
        count(V::Equivalent),
        count(V::Inconclusive),
        primary.iter().filter(|c| c.p_holm < ALPHA).count(),
        primary
            .iter()
            .filter(|c| c.p_holm < ALPHA && c.effect.ratio < 1.0)
            .count(),
        primary
            .iter()
            .filter(|c| c.p_holm < ALPHA && c.effect.ratio > 1.0)
            .count(),
    );
    let mut mdes: Vec<f64> = primary.iter().map(|c| c.effect.mde_ratio).collect();
    mdes.sort_by(f64::total_cmp);
    if let Some(&median) = mdes.get(mdes.len() / 2) {
        let _ = writeln!(
            s,
            "A single cell detects (80% power, two-sided α = 0.05, before Holm) a ratio of about \
{median:.2} or lower (median over cells): \"inconclusive\" there means the cell cannot see effects smaller \
than that, not that there are none."
        );
    }
    s += "\n### The best-two mix, by group\n\n";
    s += &group_table(groups, Arm::BestTwoPooled, margin);
    s += "\n### The controls and each arrangement, over all cells\n\n";
    s += "| arm | error ratio [95% CI] | verdict |\n|---|---|---|\n";
    for g in groups.iter().filter(|g| g.group == "all cells") {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            g.arm.name(),
            ratio_text(&g.effect),
            g.effect.verdict(margin).label()
        );
    }
    s += match baseline {
        BaselineSource::SelectionSeeds => {
            "\nThe baseline of each cell is its best single activation by mean validation score on the \
selection seeds, which are never scored: no winner's curse in the baseline's favour.\n"
        }
        BaselineSource::ScoredSeeds => {
            "\nThe baseline of each cell is its best single activation by mean validation score on the \
scored seeds (no separate selection seeds in this sweep): a small winner's curse in the baseline's favour.\n"
        }
    };
    s
}

/// Where the cells' baselines were chosen, as the records show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineSource {
    /// Every single-activation record carries a selection-seed score.
    SelectionSeeds,
    /// Some do not (a sweep from before selection seeds): the scored seeds' validation split.
    ScoredSeeds,
}

impl BaselineSource {
    /// Reads it off the records: selection seeds only when every
    /// single-activation record has a selection score, as `baseline::choose` requires.
    pub fn of(records: &[SweepRecord]) -> Self {
        let all_scored = records
            .iter()
            .filter(|r| r.role == HOMOGENEOUS)
            .all(|r| !r.selection_score.is_nan());
        if all_scored {
            BaselineSource::SelectionSeeds
        } else {
            BaselineSource::ScoredSeeds
        }
    }
}
