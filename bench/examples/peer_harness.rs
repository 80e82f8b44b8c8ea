//! Times Speed III's target workloads the way `../shared/peers/harness.py`
//! times JAX, so that a ratio compares one statistic with the same
//! statistic: warm up for 0.3 s (at least 3 calls), calibrate on at least 3
//! calls and 0.05 s, pick an iteration count for 1 s per repeat (at least
//! 5, at most 200 000), time every call, and report the best of 3 repeats'
//! medians. Criterion's figure is a regression slope over one run of
//! samples, which a slow phase of a shared host moves more than the best of
//! three medians it moves JAX's; docs/performance.md gives both.
//!
//! ```text
//! cargo run --release -p mixact-bench --example peer_harness            # every workload
//! cargo run --release -p mixact-bench --example peer_harness -- W2b,W4  # some of them
//! ```
//!
//! One JSON line per figure, in `harness.py`'s fields (`system`,
//! `workload`, `variant`, `threads`, `median_s`, `min_s`, `median_spread`,
//! `iters`, `repeats`) plus `bench`, the `hot_loop` bench id timed. Times
//! are per call, as the bench's (W4's `mixed4_x20` call is 2000
//! member-steps). The networks and data are the bench's (`bench/workloads.rs`).

use std::hint::black_box;
use std::time::Instant;

use mixact::{Act, ActivationSet, Dense, FitConfig, LaneEnsemble, Layer, Loss, Sgd, Trainer};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "../workloads.rs"]
mod workloads;
use workloads::{member_batches, mixed4_mask, mlp, random, tiny_members};

/// `harness.py`'s constants (its environment knobs unset).
const WARMUP_S: f64 = 0.3;
const TARGET_S: f64 = 1.0;
const REPEATS: usize = 3;
const MIN_ITERS: usize = 5;
const MAX_ITERS: usize = 200_000;

/// What `harness.py`'s `measure` returns.
struct Timing {
    median_s: f64,
    min_s: f64,
    median_spread: f64,
    iters: usize,
}

/// `harness.py`'s `measure`, step for step.
fn measure(mut f: impl FnMut()) -> Timing {
    let start = Instant::now();
    let mut warm = 0;
    while warm < 3 || start.elapsed().as_secs_f64() < WARMUP_S {
        f();
        warm += 1;
    }
    let calibration = Instant::now();
    let mut calls = 0;
    while calls < 3 || calibration.elapsed().as_secs_f64() < 0.05 {
        f();
        calls += 1;
    }
    let per_call = calibration.elapsed().as_secs_f64() / calls as f64;
    let iters = ((TARGET_S / per_call.max(1e-9)) as usize).clamp(MIN_ITERS, MAX_ITERS);
    let (mut medians, mut mins) = (vec![], vec![]);
    let mut times = vec![0.0_f64; iters];
    for _ in 0..REPEATS {
        for t in times.iter_mut() {
            let call = Instant::now();
            f();
            *t = call.elapsed().as_secs_f64();
        }
        times.sort_by(f64::total_cmp);
        // Python's statistics.median: the mean of the two middle values
        // when their count is even.
        let mid = iters / 2;
        medians.push(if iters % 2 == 1 {
            times[mid]
        } else {
            (times[mid - 1] + times[mid]) / 2.0
        });
        mins.push(times[0]);
    }
    let best = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let worst = medians.iter().copied().fold(0.0, f64::max);
    Timing {
        median_s: best,
        min_s: mins.iter().copied().fold(f64::INFINITY, f64::min),
        median_spread: (worst - best) / best,
        iters,
    }
}

fn emit(workload: &str, bench: &str, timing: Timing) {
    println!(
        "{{\"system\": \"mixact\", \"workload\": \"{workload}\", \"variant\": \"{bench}\", \
         \"bench\": \"{bench}\", \"threads\": {}, \"median_s\": {:e}, \"min_s\": {:e}, \
         \"median_spread\": {:.4}, \"iters\": {}, \"repeats\": {REPEATS}}}",
        rayon::current_num_threads(),
        timing.median_s,
        timing.min_s,
        timing.median_spread,
        timing.iters
    );
}

fn faer_ref(m: &DMatrix<f32>) -> faer::MatRef<'_, f32> {
    faer::MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

fn faer_mut(m: &mut DMatrix<f32>) -> faer::MatMut<'_, f32> {
    let (r, c) = m.shape();
    faer::MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// `c = a · b` through faer on rayon's global pool, as the bench's.
fn faer_product(c: faer::MatMut<'_, f32>, a: faer::MatRef<'_, f32>, b: faer::MatRef<'_, f32>) {
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0, faer::Par::rayon(0));
}

fn w0() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (a, b) = (random(256, 1024, &mut rng), random(1024, 1024, &mut rng));
    let mut out = DMatrix::<f32>::zeros(256, 1024);
    emit(
        "W0",
        "peers_w0/faer",
        measure(|| {
            faer_product(faer_mut(&mut out), faer_ref(&a), faer_ref(&b));
            black_box(out[(0, 0)]);
        }),
    );
}

fn w1c() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = random(256, 1024, &mut rng);
    let dy = random(256, 1024, &mut rng);
    let mut layer = Dense::<Act>::per_neuron(1024, &mixed4_mask(1024), &mut rng).unwrap();
    emit(
        "W1c",
        "layer_fwd_bwd/mask_mixed4",
        measure(|| {
            layer.forward(x.as_view()).unwrap();
            layer.backward(x.as_view(), dy.as_view(), true).unwrap();
            black_box(layer.input_grad()[(0, 0)]);
        }),
    );
    let w = random(1024, 1024, &mut rng);
    let (mut z, mut dw, mut dx) = (
        DMatrix::<f32>::zeros(256, 1024),
        DMatrix::<f32>::zeros(1024, 1024),
        DMatrix::<f32>::zeros(256, 1024),
    );
    emit(
        "gemm_floor",
        "layer_fwd_bwd/gemm_floor",
        measure(|| {
            let (xf, wf, dyf) = (faer_ref(&x), faer_ref(&w), faer_ref(&dy));
            faer_product(faer_mut(&mut z), xf, wf);
            faer_product(faer_mut(&mut dw), xf.transpose(), dyf);
            faer_product(faer_mut(&mut dx), dyf, wf.transpose());
            black_box(dx[(0, 0)]);
        }),
    );
}

/// One training step of an MLP, timed (the bench's `train_step_bench`).
fn train_step(workload: &str, bench: &str, widths: &[usize], batch: usize, loss: Loss) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = random(batch, widths[0], &mut rng);
    let outputs = widths[widths.len() - 1];
    let y = match loss {
        Loss::SoftmaxCrossEntropy => {
            let labels: Vec<usize> = (0..batch).map(|i| i % outputs).collect();
            mixact::data::one_hot::<f32>(&labels, outputs).unwrap()
        }
        _ => random(batch, outputs, &mut rng),
    };
    let mut net = mlp(widths, mixed4_mask, &mut rng);
    let mut trainer = Trainer::new(loss, Sgd::new(0.01).unwrap(), FitConfig::default()).unwrap();
    emit(
        workload,
        bench,
        measure(|| {
            black_box(trainer.step(&mut net, x.as_view(), y.as_view()).unwrap());
        }),
    );
}

fn w4(members: usize) {
    let data = member_batches(members, 100);
    let views: Vec<Vec<_>> = data
        .iter()
        .map(|seq| {
            seq.iter()
                .map(|(x, y)| (x.as_view(), y.as_view()))
                .collect()
        })
        .collect();
    let sequences: Vec<&[_]> = views.iter().map(|v| v.as_slice()).collect();
    let mut losses: Vec<mixact::Result<f32>> = (0..members).map(|_| Ok(0.0)).collect();
    let mut lanes = LaneEnsemble::new(tiny_members(members)).unwrap();
    emit(
        if members == 20 { "W4" } else { "W4x32" },
        &format!("ensemble_train_step/mixed4_x{members}"),
        measure(|| {
            lanes.step_sequence(&sequences, &mut losses).unwrap();
            black_box(losses[0].is_ok());
        }),
    );
}

fn activations() {
    const N: usize = 1 << 20;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let z: Vec<f32> = (0..N).map(|_| rng.random_range(-6.0..6.0)).collect();
    let dy: Vec<f32> = (0..N).map(|_| rng.random_range(-1.0..1.0)).collect();
    let (mut y, mut dz) = (vec![0.0_f32; N], vec![0.0_f32; N]);
    for act in [Act::Sin, Act::Tanh] {
        emit(
            act.name(),
            &format!("activation/{}", act.name()),
            measure(|| {
                act.forward(&z, &mut y);
                act.backward(&z, &y, &dy, &mut dz);
                black_box(dz[N / 2]);
            }),
        );
    }
}

const WORKLOADS: [&str; 7] = ["W0", "W1c", "W2b", "W3s", "W4", "W4x32", "act"];

fn main() {
    let only: Vec<String> = match std::env::args().nth(1) {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => WORKLOADS.iter().map(|w| w.to_string()).collect(),
    };
    if let Some(bad) = only.iter().find(|w| !WORKLOADS.contains(&w.as_str())) {
        eprintln!("unknown workload {bad:?}; the workloads are {WORKLOADS:?}");
        std::process::exit(2);
    }
    let want = |w: &str| only.iter().any(|o| o == w);
    if want("W0") {
        w0();
    }
    if want("W1c") {
        w1c();
    }
    if want("W2b") {
        let sce = Loss::SoftmaxCrossEntropy;
        train_step(
            "W2b",
            "mlp_train_step/mixed4",
            &[784, 512, 512, 10],
            128,
            sce,
        );
    }
    if want("W3s") {
        train_step(
            "W3s",
            "tiny_train_step/mixed4",
            &[2, 32, 32, 1],
            32,
            Loss::Mse,
        );
    }
    if want("W4") {
        w4(20);
    }
    if want("W4x32") {
        w4(32);
    }
    if want("act") {
        activations();
    }
}
