//! Mask builders: patterns, proportions, seeded random assignments.

use mixact::{mask, Act};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn pattern_repeats_cyclically() {
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin], 7).unwrap();
    assert_eq!(
        m,
        [
            Act::Relu,
            Act::Tanh,
            Act::Sin,
            Act::Relu,
            Act::Tanh,
            Act::Sin,
            Act::Relu
        ]
    );
}

#[test]
fn proportions_give_counts_summing_to_the_width() {
    let m = mask::proportions(&[(Act::Relu, 1.0), (Act::Tanh, 1.0), (Act::Sin, 1.0)], 10).unwrap();
    let count = |a| m.iter().filter(|&&x| x == a).count();
    assert_eq!(
        (count(Act::Relu), count(Act::Tanh), count(Act::Sin)),
        (4, 3, 3)
    );
}

#[test]
fn random_mask_has_the_same_counts_and_repeats_with_the_seed() {
    let props = [(Act::Relu, 0.5), (Act::Gelu, 0.25), (Act::Sin, 0.25)];
    let a = mask::random(&props, 64, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let b = mask::random(&props, 64, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let c = mask::random(&props, 64, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let (mut sorted, mut expected) = (a.clone(), mask::proportions(&props, 64).unwrap());
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
}
