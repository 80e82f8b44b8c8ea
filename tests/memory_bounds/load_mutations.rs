//! Thousands of corrupted model files (bit flips, truncations, random headers,
//! spliced bytes): loading each returns `Ok` or an `Err`, never panics, and
//! never allocates more than a small multiple of the file's size at once.

use crate::watch::{shared, thread_largest_during};
use mixact::{mask, Act, Dense, Mixture, Network, Slope};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn model_bytes() -> Vec<u8> {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(
            3,
            &mask::pattern(&[Act::Relu, Act::Sin], 6).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Mixture::new(6, 4, &[Act::Tanh, Act::Gelu], &mut r)
            .unwrap()
            .into(),
        Slope::new(4, 2, Act::Sigmoid, &mut r).unwrap().into(),
    ])
    .unwrap();
    net.to_model_bytes().unwrap()
}

fn mutate(original: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = original.to_vec();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => b.truncate(rng.random_range(0..b.len())),
        2 => {
            // A random header length.
            let n: u64 = match rng.random_range(0..3) {
                0 => rng.random(),
                1 => rng.random_range(0..b.len() as u64 * 2),
                _ => u64::MAX - rng.random_range(0..16),
            };
            b[..8].copy_from_slice(&n.to_le_bytes());
        }
        3 => {
            // Random bytes inside the JSON header.
            let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            for _ in 0..rng.random_range(1..4) {
                let i = 8 + rng.random_range(0..header);
                b[i] = rng.random_range(0x20..0x7f);
            }
        }
        4 => {
            // Digits changed in the JSON header: sizes, versions, widths.
            let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            let digits: Vec<usize> = (8..8 + header).filter(|&i| b[i].is_ascii_digit()).collect();
            let i = digits[rng.random_range(0..digits.len())];
            b[i] = b'0' + rng.random_range(0..10);
        }
        _ => {
            // A spliced-in run of random bytes.
            let at = rng.random_range(0..b.len());
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            b.splice(at..at, junk);
        }
    }
    b
}

#[test]
fn thousands_of_mutated_files_never_panic_nor_allocate_beyond_a_bound() {
    let _turn = shared();
    let original = model_bytes();
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let (mut ok, mut err) = (0, 0);
    for case in 0..4000 {
        let bytes = mutate(&original, &mut rng);
        let (result, largest) = thread_largest_during(|| {
            std::panic::catch_unwind(|| Network::<Act>::from_model_bytes(&bytes))
        });
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("case {case}: loading panicked"),
        }
        assert!(
            largest <= 8 * bytes.len() + (1 << 16),
            "case {case}: one allocation of {largest} bytes for a {}-byte file",
            bytes.len()
        );
    }
    assert!(
        err > 3000,
        "most mutations must be rejected ({ok} loaded, {err} rejected)"
    );
}
