//! A steady-state ensemble step allocates nothing on any thread that runs
//! it: a count of the allocations of every thread of the pool the steps run
//! on, taken while no other test runs. (A count over the whole process also
//! caught the test harness, which allocates whenever a test starts or ends,
//! and the exiting threads of the previous test's pool: three runs in six
//! failed while another process loaded the cores.)
//!
//! The steps run from a thread of a rayon pool of their own. Called from a
//! thread outside any pool, each step's hand-off goes through rayon's global
//! job queue, which takes a new block of memory (1.5 KiB) once every 63
//! hand-offs, at a point that depends on every hand-off before it in the
//! process; that is rayon's, not the step's, and the count would catch it
//! or not by where the tests before left the queue.

use crate::watch::{alone, mark_thread, marked_allocations_during, new_mark};
use mixact::{mask, Act, Adam, Dense, Ensemble, FitConfig, Loss, Network, Trainer};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Runs `f` on a thread of a two-thread rayon pool made for it, whose
/// threads carry the mark `f` is given (their allocations count).
///
/// Each thread first registers with crossbeam's epoch collector, which
/// rayon's deques otherwise do on the thread's first steal: a one-time block
/// per thread, which a loaded machine delays until a counted step when the
/// other thread did all the stealing while the steps warmed up (the count
/// caught it under a concurrent lab run).
fn in_own_pool<R: Send>(f: impl FnOnce(usize) -> R + Send) -> R {
    let mark = new_mark();
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(move |_| {
            drop(crossbeam_epoch::pin());
            mark_thread(mark);
        })
        .build()
        .expect("a rayon pool")
        .install(|| f(mark))
}

#[test]
fn steady_state_ensemble_steps_allocate_nothing_on_any_thread() {
    let _turn = alone();
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu], 32).unwrap();
    let members = (0..20u64)
        .map(|s| {
            let mut r = ChaCha8Rng::seed_from_u64(s);
            let net: Network<Act> = Network::new(vec![
                Dense::per_neuron(2, &m, &mut r).unwrap().into(),
                Dense::per_neuron(32, &m, &mut r).unwrap().into(),
                Dense::new(32, 1, Act::Identity, &mut r).unwrap().into(),
            ])
            .unwrap();
            let t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default());
            (net, t.unwrap())
        })
        .collect();
    let mut ensemble = Ensemble::new(members).unwrap();
    let x = DMatrix::<f32>::from_fn(32, 2, |i, j| (i as f32 * 0.37 + j as f32).sin());
    let y = DMatrix::<f32>::from_fn(32, 1, |i, _| (i % 2) as f32);
    let batches = vec![(x.as_view(), y.as_view()); 20];
    let mut losses: Vec<mixact::Result<f32>> = (0..20).map(|_| Ok(0.0)).collect();
    let n = in_own_pool(|mark| {
        for _ in 0..5 {
            ensemble.step(&batches, &mut losses).unwrap();
        }
        marked_allocations_during(mark, || {
            for _ in 0..20 {
                ensemble.step(&batches, &mut losses).unwrap();
            }
        })
    });
    assert!(losses.iter().all(|l| l.is_ok()));
    assert_eq!(
        n, 0,
        "allocations in 20 steady-state ensemble steps of 20 members"
    );
}

#[test]
fn steady_state_lane_ensemble_steps_allocate_nothing_on_any_thread() {
    let _turn = alone();
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu], 32).unwrap();
    let members = (0..20u64)
        .map(|s| {
            let mut r = ChaCha8Rng::seed_from_u64(s);
            let net: Network<Act> = Network::new(vec![
                Dense::per_neuron(2, &m, &mut r).unwrap().into(),
                Dense::per_neuron(32, &m, &mut r).unwrap().into(),
                Dense::new(32, 1, Act::Identity, &mut r).unwrap().into(),
            ])
            .unwrap();
            let t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default());
            (net, t.unwrap())
        })
        .collect();
    let mut lanes = mixact::LaneEnsemble::new(members).unwrap();
    let x = DMatrix::<f32>::from_fn(32, 2, |i, j| (i as f32 * 0.37 + j as f32).sin());
    let y = DMatrix::<f32>::from_fn(32, 1, |i, _| (i % 2) as f32);
    let batches = vec![(x.as_view(), y.as_view()); 20];
    let mut losses: Vec<mixact::Result<f32>> = (0..20).map(|_| Ok(0.0)).collect();
    let n = in_own_pool(|mark| {
        for _ in 0..5 {
            lanes.step(&batches, &mut losses).unwrap();
        }
        marked_allocations_during(mark, || {
            for _ in 0..20 {
                lanes.step(&batches, &mut losses).unwrap();
            }
        })
    });
    assert!(losses.iter().all(|l| l.is_ok()));
    assert_eq!(
        n, 0,
        "allocations in 20 steady-state lane steps of 20 members"
    );
}
