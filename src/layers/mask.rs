//! Ways to build a per-neuron activation list (a *mask*): a repeating pattern,
//! proportions, or a seeded random assignment.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::compute::activation::ActivationSet;
use crate::error::{check_hyper, Error, Result};

/// `pattern` repeated to `width` neurons: neuron i gets `pattern[i % pattern.len()]`.
///
/// ```
/// use mixact::{mask, Act};
/// let m = mask::pattern(&[Act::Relu, Act::Sin], 5)?;
/// assert_eq!(m, [Act::Relu, Act::Sin, Act::Relu, Act::Sin, Act::Relu]);
/// # Ok::<(), mixact::Error>(())
/// ```
///
/// # Errors
/// [`Error::Empty`] for an empty pattern, [`Error::ZeroWidth`] for `width == 0`,
/// [`Error::TooLarge`] beyond [`limits::MAX_ELEMENTS`](crate::limits::MAX_ELEMENTS).
pub fn pattern<A: ActivationSet>(pattern: &[A], width: usize) -> Result<Vec<A>> {
    if pattern.is_empty() {
        return Err(Error::Empty { what: "pattern" });
    }
    if width == 0 {
        return Err(Error::ZeroWidth { what: "mask width" });
    }
    crate::limits::elements("mask width", &[width])?;
    Ok((0..width).map(|i| pattern[i % pattern.len()]).collect())
}

/// Contiguous groups whose sizes follow `proportions` (largest-remainder rounding,
/// so the counts sum to `width` exactly and ties go to the earlier entry).
///
/// ```
/// use mixact::{mask, Act};
/// let m = mask::proportions(&[(Act::Relu, 0.75), (Act::Tanh, 0.25)], 4)?;
/// assert_eq!(m, [Act::Relu, Act::Relu, Act::Relu, Act::Tanh]);
/// # Ok::<(), mixact::Error>(())
/// ```
///
/// # Errors
/// [`Error::Empty`] for no entries, [`Error::ZeroWidth`] for `width == 0`,
/// [`Error::HyperParameter`] for a negative or non-finite proportion or an all-zero list,
/// [`Error::TooLarge`] beyond [`limits::MAX_ELEMENTS`](crate::limits::MAX_ELEMENTS).
pub fn proportions<A: ActivationSet>(proportions: &[(A, f64)], width: usize) -> Result<Vec<A>> {
    let counts = counts(proportions, width)?;
    let mut out = Vec::with_capacity(width);
    for (&(act, _), &c) in proportions.iter().zip(&counts) {
        out.extend(std::iter::repeat_n(act, c));
    }
    Ok(out)
}

/// The counts of [`proportions`], shuffled into a random order by `rng`: the
/// same counts as the contiguous layout, in a seeded random arrangement.
///
/// # Errors
/// As [`proportions`].
pub fn random<A: ActivationSet, R: Rng + ?Sized>(
    proportions: &[(A, f64)],
    width: usize,
    rng: &mut R,
) -> Result<Vec<A>> {
    let mut out = self::proportions(proportions, width)?;
    out.shuffle(rng);
    Ok(out)
}

fn counts<A>(proportions: &[(A, f64)], width: usize) -> Result<Vec<usize>> {
    if proportions.is_empty() {
        return Err(Error::Empty {
            what: "proportions",
        });
    }
    if width == 0 {
        return Err(Error::ZeroWidth { what: "mask width" });
    }
    crate::limits::elements("mask width", &[width])?;
    for &(_, p) in proportions {
        check_hyper("proportion", p, p >= 0.0, "finite and >= 0")?;
    }
    let total: f64 = proportions.iter().map(|&(_, p)| p).sum();
    check_hyper("sum of proportions", total, total > 0.0, "> 0")?;
    let exact: Vec<f64> = proportions
        .iter()
        .map(|&(_, p)| p / total * width as f64)
        .collect();
    // Each floor is at most width, but rounding can make their sum exceed it by a little.
    let mut counts: Vec<usize> = exact
        .iter()
        .map(|e| (e.floor() as usize).min(width))
        .collect();
    while counts.iter().map(|&c| c as u128).sum::<u128>() > width as u128 {
        let big = (0..counts.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
        counts[big] -= 1;
    }
    let mut left = width - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    // Largest remainder first; stable sort keeps earlier entries first on ties.
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra)
    });
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    Ok(counts)
}
