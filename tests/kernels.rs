//! Every activation's forward and backward loops give the same bits on the
//! baseline path and on the CPU's own (AVX2 + FMA where present), over odd
//! lengths, and overwrite NaN-poisoned outputs completely.

use mixact::{force_baseline_kernels, Act, ActivationSet};

fn inputs(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn activation_loops_are_bit_identical_on_both_kernel_paths() {
    for act in Act::ALL {
        for n in [1usize, 7, 8, 9, 15, 16, 17, 31, 33, 64, 257] {
            let z = inputs(n);
            let dy: Vec<f32> = z.iter().map(|v| 0.5 - v * 0.1).collect();
            let mut outs = Vec::new();
            for baseline in [true, false] {
                force_baseline_kernels(baseline);
                let mut y = vec![f32::NAN; n];
                act.forward(&z, &mut y);
                let mut dz = vec![f32::NAN; n];
                act.backward(&z, &y, &dy, &mut dz);
                assert!(
                    y.iter().chain(&dz).all(|v| v.is_finite()),
                    "{} n {n}: a poisoned output survived",
                    act.name()
                );
                outs.push((bits(&y), bits(&dz)));
            }
            force_baseline_kernels(false);
            assert_eq!(outs[0], outs[1], "{} n {n}", act.name());
        }
    }
}
