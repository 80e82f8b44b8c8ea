//! The hot loop: one layer's forward + backward, whole training steps, and
//! each activation over a million values. Group and id names are a contract
//! (scripts compare `target/criterion/<group>/<id>/` from run to run).
//!
//! ```text
//! cargo bench                      # everything, under 10 minutes on 2 cores
//! cargo bench -- layer_fwd_bwd     # one group
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mixact::{
    mask, Act, ActivationSet, Dense, Ensemble, FitConfig, LaneEnsemble, Loss, Mixture, Sgd, Trainer,
};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "../workloads.rs"]
mod workloads;
use workloads::{member_batches, mixed4_mask, mlp, random, tiny_members, MIXED4};

const BATCH: usize = 256;
const WIDTH: usize = 1024;

fn layer_fwd_bwd(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = random(BATCH, WIDTH, &mut rng);
    let dy = random(BATCH, WIDTH, &mut rng);
    let mut group = c.benchmark_group("layer_fwd_bwd");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(BATCH as u64));

    let mut layers: Vec<(&str, Dense<Act>)> = vec![];
    for (id, act) in [
        ("dense_relu", Act::Relu),
        ("dense_tanh", Act::Tanh),
        ("dense_sigmoid", Act::Sigmoid),
        ("dense_gelu", Act::Gelu),
    ] {
        layers.push((id, Dense::new(WIDTH, WIDTH, act, &mut rng).unwrap()));
    }
    let mixed = mask::pattern(&MIXED4, WIDTH).unwrap();
    layers.push((
        "mask_mixed4",
        Dense::per_neuron(WIDTH, &mixed, &mut rng).unwrap(),
    ));
    let branches: Vec<(usize, Act)> = MIXED4.iter().map(|&a| (256, a)).collect();
    layers.push((
        "concat_4x256",
        Dense::branches(WIDTH, &branches, &mut rng).unwrap(),
    ));

    let mut boxed: Vec<(&str, mixact::extend::BoxedLayer<Act, f32>)> =
        layers.into_iter().map(|(id, l)| (id, l.into())).collect();
    boxed.push((
        "mixture_k4",
        Mixture::new(WIDTH, WIDTH, &MIXED4, &mut rng)
            .unwrap()
            .into(),
    ));
    for (id, mut layer) in boxed {
        group.bench_function(id, |b| {
            b.iter(|| {
                layer.forward(x.as_view()).unwrap();
                layer.backward(x.as_view(), dy.as_view(), true).unwrap();
                black_box(layer.input_grad()[(0, 0)])
            })
        });
    }

    // The three products of a layer step, nothing else, through the library
    // mixact uses for large products: the floor the layers are held to.
    let w = random(WIDTH, WIDTH, &mut rng);
    let (mut z, mut dw, mut dx) = (
        DMatrix::<f32>::zeros(BATCH, WIDTH),
        DMatrix::<f32>::zeros(WIDTH, WIDTH),
        DMatrix::<f32>::zeros(BATCH, WIDTH),
    );
    group.bench_function("gemm_floor", |b| {
        b.iter(|| {
            let (xf, wf, dyf) = (faer_ref(&x), faer_ref(&w), faer_ref(&dy));
            faer_product(faer_mut(&mut z), xf, wf); // z = x · w
            faer_product(faer_mut(&mut dw), xf.transpose(), dyf); // dw = xᵀ · dy
            faer_product(faer_mut(&mut dx), dyf, wf.transpose()); // dx = dy · wᵀ
            black_box(dx[(0, 0)])
        })
    });
    group.finish();
}

fn faer_ref(m: &DMatrix<f32>) -> faer::MatRef<'_, f32> {
    faer::MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

fn faer_mut(m: &mut DMatrix<f32>) -> faer::MatMut<'_, f32> {
    let (r, c) = m.shape();
    faer::MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// `c = a · b` through faer on rayon's global pool (one thread per core).
fn faer_product(c: faer::MatMut<'_, f32>, a: faer::MatRef<'_, f32>, b: faer::MatRef<'_, f32>) {
    faer_product_par(c, a, b, faer::Par::rayon(0));
}

fn faer_product_par(
    c: faer::MatMut<'_, f32>,
    a: faer::MatRef<'_, f32>,
    b: faer::MatRef<'_, f32>,
    par: faer::Par,
) {
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0, par);
}

/// W0 of `../shared/peers/WORKLOADS.md` (C = A · B, 256 x 1024 x 1024, f32)
/// through each candidate GEMM, in the same run as `gemm_floor`, so that
/// "the floor is three of the fastest products" is checked by the benches
/// themselves. Ids without a suffix use every core (matrixmultiply: its own
/// threads, `MATMUL_NUM_THREADS`; faer and gemm: rayon's global pool);
/// `_1thread` ids run sequentially.
fn peers_w0(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let a = random(BATCH, WIDTH, &mut rng);
    let b = random(WIDTH, WIDTH, &mut rng);
    let mut out = DMatrix::<f32>::zeros(BATCH, WIDTH);
    let (m, k, n) = (BATCH, WIDTH, WIDTH);
    let mut group = c.benchmark_group("peers_w0");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements((2 * m * k * n) as u64));
    group.bench_function("matrixmultiply", |bench| {
        bench.iter(|| unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                1,
                m as isize,
                b.as_ptr(),
                1,
                k as isize,
                0.0,
                out.as_mut_ptr(),
                1,
                m as isize,
            );
            black_box(out[(0, 0)])
        })
    });
    let threads = rayon::current_num_threads();
    for (id, par) in [
        ("gemm", gemm::Parallelism::Rayon(threads)),
        ("gemm_1thread", gemm::Parallelism::None),
    ] {
        group.bench_function(id, |bench| {
            bench.iter(|| unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr(),
                    m as isize,
                    1,
                    false,
                    a.as_ptr(),
                    m as isize,
                    1,
                    b.as_ptr(),
                    k as isize,
                    1,
                    0.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    par,
                );
                black_box(out[(0, 0)])
            })
        });
    }
    for (id, par) in [
        ("faer", faer::Par::rayon(0)),
        ("faer_1thread", faer::Par::Seq),
    ] {
        group.bench_function(id, |bench| {
            bench.iter(|| {
                faer_product_par(faer_mut(&mut out), faer_ref(&a), faer_ref(&b), par);
                black_box(out[(0, 0)])
            })
        });
    }
    group.finish();
}

/// Builds the activation mask of a hidden layer of the given width.
type HiddenMask = fn(usize) -> Vec<Act>;

fn train_step_bench(
    c: &mut Criterion,
    group_name: &str,
    widths: &[usize],
    batch: usize,
    loss: Loss,
    ids: &[(&str, HiddenMask)],
) {
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
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(batch as u64));
    for &(id, hidden) in ids {
        let mut net = mlp(widths, hidden, &mut rng);
        let mut trainer =
            Trainer::new(loss, Sgd::new(0.01).unwrap(), FitConfig::default()).unwrap();
        group.bench_function(id, |b| {
            b.iter(|| black_box(trainer.step(&mut net, x.as_view(), y.as_view()).unwrap()))
        });
    }
    group.finish();
}

fn relu_mask(n: usize) -> Vec<Act> {
    vec![Act::Relu; n]
}

fn mlp_train_step(c: &mut Criterion) {
    train_step_bench(
        c,
        "mlp_train_step",
        &[784, 512, 512, 10],
        128,
        Loss::SoftmaxCrossEntropy,
        &[("relu", relu_mask), ("mixed4", mixed4_mask)],
    );
}

fn tiny_train_step(c: &mut Criterion) {
    train_step_bench(
        c,
        "tiny_train_step",
        &[2, 32, 32, 1],
        32,
        Loss::Mse,
        &[("mixed4", mixed4_mask), ("relu", relu_mask)],
    );
}

/// W4 of `../shared/peers/WORKLOADS.md`: 20 tiny networks (own weights, own
/// batches) trained together for 100 steps in one call, as W4 defines it.
/// `mixed4_x20` trains them in SIMD lanes ([`LaneEnsemble::step_sequence`]:
/// a block of sixteen on one core, the other four solo on the other, each member
/// with its own 100 batches);
/// `mixed4_x20_single_step` makes one lane step per call (the threads meet
/// every step); `mixed4_x20_threads` one [`Ensemble::step`] of solo steps on
/// every core per call. `mixed4_x32` is `mixed4_x20` with 32 members: two
/// full blocks, one per core, the lanes' throughput when they are full (20
/// members leave one core with four solo networks and then idle). Throughput
/// is in member-steps, so criterion's `elem/s` inverts to the time per member-step.
fn ensemble_train_step(c: &mut Criterion) {
    const STEPS: usize = 100;
    let mut group = c.benchmark_group("ensemble_train_step");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for members in [20, 32] {
        let data = member_batches(members, STEPS);
        let views: Vec<Vec<_>> = data
            .iter()
            .map(|seq| {
                seq.iter()
                    .map(|(x, y)| (x.as_view(), y.as_view()))
                    .collect()
            })
            .collect();
        let sequences: Vec<&[_]> = views.iter().map(|v| v.as_slice()).collect();
        let first: Vec<_> = views.iter().map(|v| v[0]).collect();
        let mut losses: Vec<mixact::Result<f32>> = (0..members).map(|_| Ok(0.0)).collect();
        let mut lanes = LaneEnsemble::new(tiny_members(members)).unwrap();
        group.throughput(Throughput::Elements((members * STEPS) as u64));
        group.bench_function(format!("mixed4_x{members}"), |b| {
            b.iter(|| {
                lanes.step_sequence(&sequences, &mut losses).unwrap();
                black_box(losses[0].is_ok())
            })
        });
        if members != 20 {
            continue;
        }
        group.throughput(Throughput::Elements(members as u64));
        let mut lanes = LaneEnsemble::new(tiny_members(members)).unwrap();
        group.bench_function("mixed4_x20_single_step", |b| {
            b.iter(|| {
                lanes.step(&first, &mut losses).unwrap();
                black_box(losses[0].is_ok())
            })
        });
        let mut ensemble = Ensemble::new(tiny_members(members)).unwrap();
        group.bench_function("mixed4_x20_threads", |b| {
            b.iter(|| {
                ensemble.step(&first, &mut losses).unwrap();
                black_box(losses[0].is_ok())
            })
        });
    }
    group.finish();
}

fn activation(c: &mut Criterion) {
    const N: usize = 1 << 20;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let z: Vec<f32> = (0..N).map(|_| rng.random_range(-6.0..6.0)).collect();
    let dy: Vec<f32> = (0..N).map(|_| rng.random_range(-1.0..1.0)).collect();
    let (mut y, mut dz) = (vec![0.0_f32; N], vec![0.0_f32; N]);
    let mut group = c.benchmark_group("activation");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(N as u64));
    for act in Act::ALL {
        group.bench_function(BenchmarkId::from_parameter(act.name()), |b| {
            b.iter(|| {
                act.forward(&z, &mut y);
                act.backward(&z, &y, &dy, &mut dz);
                black_box(dz[N / 2])
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    peers_w0,
    layer_fwd_bwd,
    mlp_train_step,
    tiny_train_step,
    ensemble_train_step,
    activation
);
criterion_main!(benches);
