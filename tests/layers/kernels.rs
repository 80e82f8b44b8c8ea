//! Every activation's forward and backward loops give the same bits on every
//! kernel path the CPU has (baseline, AVX2 + FMA, AVX-512), over odd
//! lengths, and overwrite NaN-poisoned outputs completely. Large products
//! agree across the GEMM libraries and repeat bit for bit on each.

use mixact::nalgebra::DMatrix;
use mixact::rand::SeedableRng;
use mixact::rand_chacha::ChaCha8Rng;
use mixact::settings::{kernel_path, set_gemm_backend, set_kernel_limit, GemmBackend, KernelPath};
use mixact::{Act, ActivationSet, Dense, Layer};

/// The kernel cap and the GEMM backend are process-wide settings: the tests
/// that change them take turns, so that one never runs under another's setting.
static SETTINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn settings() -> std::sync::MutexGuard<'static, ()> {
    SETTINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The paths this CPU can run, found independently of mixact's detection.
fn paths_this_cpu_runs() -> Vec<KernelPath> {
    let mut paths = vec![KernelPath::Baseline];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            paths.push(KernelPath::Avx2);
            if is_x86_feature_detected!("avx512f") {
                paths.push(KernelPath::Avx512);
            }
        }
    }
    for missing in [KernelPath::Avx2, KernelPath::Avx512] {
        if !paths.contains(&missing) {
            eprintln!("this CPU cannot run the {missing:?} path: not compared");
        }
    }
    paths
}

fn inputs(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn activation_loops_are_bit_identical_on_every_kernel_path() {
    let _turn = settings();
    let paths = paths_this_cpu_runs();
    for act in Act::ALL {
        for n in [1usize, 7, 8, 9, 15, 16, 17, 31, 33, 64, 257] {
            let z = inputs(n);
            let dy: Vec<f32> = z.iter().map(|v| 0.5 - v * 0.1).collect();
            let mut outs = Vec::new();
            for &path in &paths {
                set_kernel_limit(path);
                assert_eq!(kernel_path(), path);
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
            set_kernel_limit(KernelPath::Avx512);
            for (path, out) in paths.iter().zip(&outs).skip(1) {
                assert_eq!(&outs[0], out, "{} n {n} ({path:?})", act.name());
            }
        }
    }
}

/// One forward + backward of a 1024-wide f64 layer on a batch of 96 (large
/// enough for the library GEMM), returning output, weight gradient and input gradient.
fn large_layer_step(backend: GemmBackend) -> Vec<Vec<f64>> {
    assert!(set_gemm_backend(backend) || !backend.available());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut layer: Dense<Act, f64> = Dense::per_neuron(
        300,
        &mixact::mask::pattern(&Act::ALL, 257).unwrap(),
        &mut rng,
    )
    .unwrap();
    let x = DMatrix::from_fn(96, 300, |i, j| ((i * 31 + j * 17) % 23) as f64 / 11.0 - 1.0);
    let dy = DMatrix::from_fn(96, 257, |i, j| ((i * 7 + j * 13) % 19) as f64 / 9.0 - 1.0);
    layer.forward(x.as_view()).unwrap();
    let y = layer.output().iter().copied().collect();
    layer.backward(x.as_view(), dy.as_view(), true).unwrap();
    let dw = layer.grad_weight().iter().copied().collect();
    let db = layer.grad_bias();
    let dx = layer.input_grad().iter().copied().collect();
    vec![y, dw, db, dx]
}

#[test]
fn large_products_agree_across_gemm_libraries_and_repeat_exactly_on_each() {
    let _turn = settings();
    let reference = large_layer_step(GemmBackend::MatrixMultiply);
    for backend in [GemmBackend::MatrixMultiply, GemmBackend::Faer] {
        if !backend.available() {
            continue;
        }
        let first = large_layer_step(backend);
        let again = large_layer_step(backend);
        for ((a, b), r) in first.iter().zip(&again).zip(&reference) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "{} is not reproducible", backend.name());
            for (x, w) in a.iter().zip(r) {
                assert!(
                    (x - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{}: {x} vs {w}",
                    backend.name()
                );
            }
        }
    }
    set_gemm_backend(GemmBackend::Faer);
}

#[test]
fn each_cap_gives_the_widest_path_the_cpu_runs_within_it() {
    let _turn = settings();
    let paths = paths_this_cpu_runs();
    for cap in [KernelPath::Baseline, KernelPath::Avx2, KernelPath::Avx512] {
        set_kernel_limit(cap);
        let want = *paths.iter().filter(|&&p| p <= cap).max().unwrap();
        assert_eq!(kernel_path(), want, "cap {cap:?}");
    }
    set_kernel_limit(KernelPath::Avx512);
}
