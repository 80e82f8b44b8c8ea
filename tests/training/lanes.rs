//! A lane ensemble trains each member exactly as its solo trainer would (bit
//! for bit: parameters, histories, errors, optimiser state), whatever the
//! number of members, the kernel path, or a member that diverges, stops
//! early or gets a batch of another shape; and it refuses members that
//! cannot share lanes, naming the member.

use mixact::data::Dataset;
use mixact::settings::{set_kernel_limit, KernelPath};
use mixact::{
    mask, Act, Adam, Dense, Dropout, EarlyStopping, EpochStats, Error, FitConfig, LaneEnsemble,
    Layer, Loss, Monitor, Network, Optimizer, Sgd, StepDecay, Trainer,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn net(seed: u64, hidden: usize) -> Network<Act> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], hidden).unwrap();
    Network::new(vec![
        Dense::per_neuron(2, &m, &mut r).unwrap().into(),
        Dense::per_neuron(hidden, &m, &mut r).unwrap().into(),
        Dense::new(hidden, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

fn config(seed: u64, epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        seed,
        shuffle: true,
    }
}

/// sin(3x) + |y| on 90 points whose layout depends on the seed.
fn task(seed: u64, scale: f32) -> Dataset<f32> {
    let x = DMatrix::<f32>::from_fn(90, 2, |i, j| {
        ((i * 13 + j * 7 + seed as usize * 3) % 29) as f32 / 14.5 - 1.0
    });
    let y = DMatrix::<f32>::from_fn(90, 1, |i, _| {
        scale * ((3.0 * x[(i, 0)]).sin() + x[(i, 1)].abs())
    });
    Dataset::new(x, y).unwrap()
}

fn params(net: &mut Network<Act>) -> Vec<u32> {
    let mut bits = Vec::new();
    net.visit_params(&mut |p| bits.extend(p.value.iter().map(|v| v.to_bits())));
    bits
}

fn history_bits(h: &[EpochStats]) -> Vec<(u64, Option<u64>)> {
    h.iter()
        .map(|s| (s.train.loss.to_bits(), s.valid.map(|v| v.loss.to_bits())))
        .collect()
}

/// A trainer with validation and early stopping (patience 3, best weights kept).
fn stopping_trainer(seed: u64) -> Trainer<f32, Adam<f32>> {
    Trainer::new(Loss::Mse, Adam::new(0.03).unwrap(), config(seed, 60))
        .unwrap()
        .with_validation(task(seed + 100, 1.0))
        .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 3))
}

#[test]
fn twenty_members_fit_in_lanes_exactly_as_their_solo_fits_including_early_stops() {
    let seeds: Vec<u64> = (0..20).collect();
    let data: Vec<Dataset<f32>> = seeds.iter().map(|&s| task(s, 1.0)).collect();
    let members = seeds
        .iter()
        .map(|&s| (net(s, 12), stopping_trainer(s)))
        .collect();
    let mut lanes = LaneEnsemble::new(members).unwrap();
    let refs: Vec<&Dataset<f32>> = data.iter().collect();
    let outcomes = lanes.fit_each(&refs).unwrap();
    let mut lengths = Vec::new();
    for (i, &seed) in seeds.iter().enumerate() {
        let mut solo = net(seed, 12);
        let solo_history = stopping_trainer(seed).fit(&mut solo, &data[i]).unwrap();
        let history = outcomes[i].as_ref().unwrap();
        assert_eq!(
            history_bits(history),
            history_bits(&solo_history),
            "seed {seed}"
        );
        let mut member = lanes.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo), "seed {seed}");
        assert_eq!(lanes.in_lanes(i), Some(false), "a finished member has left");
        lengths.push(history.len());
    }
    lengths.sort_unstable();
    lengths.dedup();
    assert!(
        lengths.len() >= 3 && lengths[0] < 60,
        "members must stop early and at different epochs: {lengths:?}"
    );
}

#[test]
fn a_member_that_diverges_in_lanes_ends_as_its_solo_fit_and_leaves_the_others_exact() {
    // Member 3's targets are a million times larger: plain SGD blows up on it.
    let scale = |s: u64| if s == 3 { 1e6 } else { 1.0 };
    let sgd = |s: u64| Trainer::new(Loss::Mse, Sgd::new(0.2).unwrap(), config(s, 20)).unwrap();
    let seeds: Vec<u64> = (0..7).collect();
    let data: Vec<Dataset<f32>> = seeds.iter().map(|&s| task(s, scale(s))).collect();
    let mut lanes =
        LaneEnsemble::new(seeds.iter().map(|&s| (net(s, 8), sgd(s))).collect()).unwrap();
    let refs: Vec<&Dataset<f32>> = data.iter().collect();
    let outcomes = lanes.fit_each(&refs).unwrap();
    for (i, &seed) in seeds.iter().enumerate() {
        let mut solo = net(seed, 8);
        let solo_outcome = sgd(seed).fit(&mut solo, &data[i]);
        let mut member = lanes.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo), "seed {seed}");
        match (&outcomes[i], &solo_outcome) {
            (Ok(h), Ok(s)) => assert_eq!(history_bits(h), history_bits(s), "seed {seed}"),
            (Err(e), Err(s)) => assert_eq!(e.to_string(), s.to_string(), "seed {seed}"),
            (a, b) => panic!("seed {seed}: lanes {a:?}, solo {b:?}"),
        }
        assert_eq!(
            matches!(outcomes[i], Err(Error::Diverged { .. })),
            seed == 3,
            "only seed 3 diverges"
        );
    }
}

type Member = (Network<Act>, Trainer<f32, Adam<f32>>);

/// Each member's loss bits per step (None for an error) and final parameter bits.
type Trace = (Vec<Option<u32>>, Vec<u32>);

/// Steps `members` in lanes `lane_steps` times, takes them out, steps them
/// `solo_steps` more times alone; returns each member's trace.
fn lane_then_solo(
    members: Vec<Member>,
    batches: &[(DMatrix<f32>, DMatrix<f32>)],
    lane_steps: usize,
    solo_steps: usize,
) -> Vec<Trace> {
    let k = members.len();
    let mut lanes = LaneEnsemble::new(members).unwrap();
    let views: Vec<_> = batches
        .iter()
        .map(|(x, y)| (x.as_view(), y.as_view()))
        .collect();
    let mut losses: Vec<mixact::Result<f32>> = (0..k).map(|_| Ok(0.0)).collect();
    let mut seen = vec![Vec::new(); k];
    for _ in 0..lane_steps {
        lanes.step(&views, &mut losses).unwrap();
        for (s, l) in seen.iter_mut().zip(&losses) {
            s.push(l.as_ref().ok().map(|v| v.to_bits()));
        }
    }
    lanes
        .into_members()
        .into_iter()
        .zip(batches)
        .zip(seen)
        .map(|(((mut net, mut trainer), (x, y)), mut seen)| {
            for _ in 0..solo_steps {
                let l = trainer.step(&mut net, x.as_view(), y.as_view());
                seen.push(l.ok().map(|v| v.to_bits()));
            }
            (seen, params(&mut net))
        })
        .collect()
}

fn adam(seed: u64) -> Trainer<f32, Adam<f32>> {
    Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), config(seed, 1)).unwrap()
}

fn batches(k: usize, rows: usize) -> Vec<(DMatrix<f32>, DMatrix<f32>)> {
    (0..k)
        .map(|m| {
            let x = DMatrix::from_fn(rows, 2, |i, j| ((i * 7 + j * 3 + m) as f32 * 0.37).sin());
            let y = DMatrix::from_fn(rows, 1, |i, _| ((i + m) % 3) as f32 - 1.0);
            (x, y)
        })
        .collect()
}

#[test]
fn lane_steps_then_solo_steps_equal_solo_steps_throughout_on_every_kernel_path() {
    // 37 members: three blocks (13, 12, 12), none full.
    let k = 37;
    let data = batches(k, 32);
    let solo: Vec<Trace> = (0..k as u64)
        .map(|s| {
            let (mut n, mut t) = (net(s, 16), adam(s));
            let (x, y) = &data[s as usize];
            let losses = (0..5)
                .map(|_| {
                    t.step(&mut n, x.as_view(), y.as_view())
                        .ok()
                        .map(|v| v.to_bits())
                })
                .collect();
            (losses, params(&mut n))
        })
        .collect();
    for path in [KernelPath::Baseline, KernelPath::Avx2, KernelPath::Avx512] {
        set_kernel_limit(path);
        let members = (0..k as u64).map(|s| (net(s, 16), adam(s))).collect();
        let got = lane_then_solo(members, &data, 3, 2);
        assert_eq!(got, solo, "{path:?}");
    }
    set_kernel_limit(KernelPath::Avx512);
}

#[test]
fn batches_given_as_strided_views_train_lanes_as_their_contiguous_copies() {
    // Each member's batch is a block of rows and columns of a larger matrix
    // (a view whose columns are not adjacent in memory), and its targets
    // part of a column of a wider one: the lanes read such views value by
    // value, contiguous ones as slices.
    let k = 5;
    let wide: Vec<(DMatrix<f32>, DMatrix<f32>)> = (0..k)
        .map(|m| {
            let x = DMatrix::from_fn(64, 3, |i, j| ((i * 5 + j * 11 + m) as f32 * 0.23).sin());
            let y = DMatrix::from_fn(64, 2, |i, j| ((i + j + m) % 3) as f32 - 1.0);
            (x, y)
        })
        .collect();
    let strided: Vec<(nalgebra::DMatrixView<f32>, nalgebra::DMatrixView<f32>)> = wide
        .iter()
        .map(|(x, y)| (x.view((16, 1), (32, 2)), y.view((5, 1), (32, 1))))
        .collect();
    let copies: Vec<_> = strided
        .iter()
        .map(|(x, y)| (x.clone_owned(), y.clone_owned()))
        .collect();
    let trained = |views: Vec<(_, _)>| {
        let members = (0..k as u64).map(|s| (net(s, 16), adam(s))).collect();
        let mut lanes = LaneEnsemble::new(members).unwrap();
        let mut losses: Vec<mixact::Result<f32>> = (0..k).map(|_| Ok(0.0)).collect();
        let mut seen = Vec::new();
        for _ in 0..3 {
            lanes.step(&views, &mut losses).unwrap();
            seen.push(
                losses
                    .iter()
                    .map(|l| l.as_ref().unwrap().to_bits())
                    .collect::<Vec<_>>(),
            );
        }
        let finals: Vec<_> = lanes
            .into_members()
            .into_iter()
            .map(|(mut n, _)| params(&mut n))
            .collect();
        (seen, finals)
    };
    let from_views = trained(
        strided
            .iter()
            .map(|(x, y)| (x.as_view(), y.as_view()))
            .collect(),
    );
    let from_copies = trained(
        copies
            .iter()
            .map(|(x, y)| (x.as_view(), y.as_view()))
            .collect(),
    );
    assert_eq!(from_views, from_copies);
}

#[test]
fn lane_tiles_with_leftover_rows_neurons_and_inputs_match_solo_steps_on_every_kernel_path() {
    // 13 hidden neurons (a wide tile of 8 and 5 left over), 31 rows (odd:
    // a row left after the 2-row tiles, 7 after the 8-row ones), 16 members.
    for rows in [31, 1] {
        let k = 16;
        let data = batches(k, rows);
        let solo: Vec<Trace> = (0..k as u64)
            .map(|s| {
                let (mut n, mut t) = (net(s, 13), adam(s));
                let (x, y) = &data[s as usize];
                let losses = (0..4)
                    .map(|_| {
                        t.step(&mut n, x.as_view(), y.as_view())
                            .ok()
                            .map(|v| v.to_bits())
                    })
                    .collect();
                (losses, params(&mut n))
            })
            .collect();
        for path in [KernelPath::Baseline, KernelPath::Avx2, KernelPath::Avx512] {
            set_kernel_limit(path);
            let members = (0..k as u64).map(|s| (net(s, 13), adam(s))).collect();
            let got = lane_then_solo(members, &data, 3, 1);
            assert_eq!(got, solo, "{path:?}, {rows} rows");
        }
        set_kernel_limit(KernelPath::Avx512);
    }
}

#[test]
fn a_member_given_a_batch_of_another_size_steps_alone_and_the_rest_stay_exact() {
    let k = 5;
    let mut data = batches(k, 32);
    data[2] = batches(3, 20).remove(2);
    let members = (0..k as u64).map(|s| (net(s, 8), adam(s))).collect();
    let got = lane_then_solo(members, &data, 3, 1);
    for (s, (losses, p)) in got.iter().enumerate() {
        let (mut n, mut t) = (net(s as u64, 8), adam(s as u64));
        let (x, y) = &data[s];
        let want: Vec<Option<u32>> = (0..4)
            .map(|_| {
                t.step(&mut n, x.as_view(), y.as_view())
                    .ok()
                    .map(|v| v.to_bits())
            })
            .collect();
        assert_eq!(losses, &want, "member {s}");
        assert_eq!(p, &params(&mut n), "member {s}");
    }
}

#[test]
fn softmax_members_in_lanes_match_their_solo_steps() {
    let mk = |s: u64| {
        let mut r = ChaCha8Rng::seed_from_u64(s);
        let m = mask::pattern(&[Act::Sigmoid, Act::Relu], 10).unwrap();
        let n: Network<Act> = Network::new(vec![
            Dense::per_neuron(4, &m, &mut r).unwrap().into(),
            Dense::new(10, 3, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        let t = Trainer::new(
            Loss::SoftmaxCrossEntropy,
            Sgd::new(0.1).unwrap(),
            config(s, 1),
        );
        (n, t.unwrap())
    };
    let x = DMatrix::<f32>::from_fn(24, 4, |i, j| ((i * 5 + j) as f32 * 0.21).cos());
    let labels: Vec<usize> = (0..24).map(|i| i % 3).collect();
    let y = mixact::data::one_hot::<f32>(&labels, 3).unwrap();
    let mut lanes = LaneEnsemble::new((0..3).map(mk).collect()).unwrap();
    let views = vec![(x.as_view(), y.as_view()); 3];
    let mut losses: Vec<mixact::Result<f32>> = (0..3).map(|_| Ok(0.0)).collect();
    for _ in 0..4 {
        lanes.step(&views, &mut losses).unwrap();
    }
    for (s, got) in lanes.into_members().into_iter().enumerate() {
        let (mut n, mut t) = mk(s as u64);
        let mut last = 0.0;
        for _ in 0..4 {
            last = t.step(&mut n, x.as_view(), y.as_view()).unwrap();
        }
        assert_eq!(losses[s].as_ref().unwrap().to_bits(), last.to_bits());
        let (mut got_net, _) = got;
        assert_eq!(params(&mut got_net), params(&mut n));
    }
}

#[test]
fn f64_members_in_lanes_match_their_solo_fits() {
    let mk = |s: u64| {
        let mut r = ChaCha8Rng::seed_from_u64(s);
        let n: Network<Act, f64> = Network::new(vec![
            Dense::new(2, 6, Act::Tanh, &mut r).unwrap().into(),
            Dense::new(6, 1, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        (
            n,
            Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), config(s, 5)).unwrap(),
        )
    };
    let x = DMatrix::<f64>::from_fn(40, 2, |i, j| ((i * 3 + j) as f64 * 0.1).sin());
    let y = DMatrix::<f64>::from_fn(40, 1, |i, _| (i as f64 * 0.2).cos());
    let data = Dataset::new(x, y).unwrap();
    let mut lanes = LaneEnsemble::new((0..4).map(mk).collect()).unwrap();
    let outcomes = lanes.fit_each(&[&data; 4]).unwrap();
    for (s, ((mut got, _), outcome)) in lanes.into_members().into_iter().zip(outcomes).enumerate() {
        let (mut n, mut t) = mk(s as u64);
        let want = t.fit(&mut n, &data).unwrap();
        let h = outcome.unwrap();
        assert_eq!(
            h.last().unwrap().train.loss,
            want.last().unwrap().train.loss
        );
        let bits = |net: &mut Network<Act, f64>| {
            let mut b = Vec::new();
            net.visit_params(&mut |p| b.extend(p.value.iter().map(|v| v.to_bits())));
            b
        };
        assert_eq!(bits(&mut got), bits(&mut n), "member {s}");
    }
}

fn refusal<O: Optimizer<f32>>(members: Vec<(Network<Act>, Trainer<f32, O>)>) -> String {
    match LaneEnsemble::new(members) {
        Err(Error::Incompatible { reason, .. }) => reason,
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn members_that_cannot_share_lanes_are_refused_naming_the_member() {
    let other_lr = vec![
        (net(0, 8), adam(0)),
        (net(1, 8), {
            Trainer::new(Loss::Mse, Adam::new(0.02).unwrap(), config(1, 1)).unwrap()
        }),
    ];
    assert!(refusal(other_lr).contains("member 1"));
    let other_width = vec![
        (net(0, 8), adam(0)),
        (net(1, 8), adam(1)),
        (net(2, 9), adam(2)),
    ];
    assert!(refusal(other_width).contains("member 2"));
    let mut r = ChaCha8Rng::seed_from_u64(0);
    let with_dropout: Network<Act> = Network::new(vec![
        Dense::new(2, 8, Act::Relu, &mut r).unwrap().into(),
        Dropout::new(8, 0.1, 0).unwrap().into(),
        Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    assert!(refusal(vec![(with_dropout, adam(0))]).contains("not a Dense layer"));
    let scheduled = adam(1).with_schedule(StepDecay::new(5, 0.5).unwrap());
    assert!(refusal(vec![(net(0, 8), adam(0)), (net(1, 8), scheduled)]).contains("schedule"));
    assert!(matches!(
        LaneEnsemble::<Act, f32, Adam<f32>>::new(Vec::new()),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn a_wrong_number_of_batches_or_data_sets_is_an_error() {
    let mut lanes = LaneEnsemble::new(vec![(net(0, 8), adam(0)), (net(1, 8), adam(1))]).unwrap();
    let data = batches(1, 8);
    let views = vec![(data[0].0.as_view(), data[0].1.as_view())];
    let mut losses: Vec<mixact::Result<f32>> = vec![Ok(0.0), Ok(0.0)];
    assert!(matches!(
        lanes.step(&views, &mut losses),
        Err(Error::Length { .. })
    ));
    let d = task(0, 1.0);
    assert!(matches!(lanes.fit_each(&[&d]), Err(Error::Length { .. })));
}

/// Member `m`'s sequence of `steps` batches of 16 rows; the members in
/// `failing` get targets that explode under plain SGD after a few steps.
fn sequence(m: usize, steps: usize, failing: &[usize]) -> Vec<(DMatrix<f32>, DMatrix<f32>)> {
    (0..steps)
        .map(|t| {
            let x = DMatrix::from_fn(16, 2, |i, j| ((i * 5 + j + t * 3 + m) as f32 * 0.31).sin());
            let scale = if failing.contains(&m) { 1e7 } else { 1.0 };
            let y = DMatrix::from_fn(16, 1, |i, _| scale * (((i + t) % 3) as f32 - 1.0));
            (x, y)
        })
        .collect()
}

/// Runs a step sequence of `k` members `hidden` wide (plain SGD at `lr`)
/// on a pool of `threads` threads and checks every member against its solo steps: the
/// same parameters and last loss, and only the `failing` members fail.
fn check_step_sequence(k: usize, hidden: usize, lr: f32, failing: &[usize], threads: usize) {
    let steps = 24;
    let seqs: Vec<_> = (0..k).map(|m| sequence(m, steps, failing)).collect();
    let sgd = |s: u64| Trainer::new(Loss::Mse, Sgd::new(lr).unwrap(), config(s, 1)).unwrap();
    let mut lanes =
        LaneEnsemble::new((0..k as u64).map(|s| (net(s, hidden), sgd(s))).collect()).unwrap();
    let views: Vec<Vec<_>> = seqs
        .iter()
        .map(|seq| {
            seq.iter()
                .map(|(x, y)| (x.as_view(), y.as_view()))
                .collect()
        })
        .collect();
    let refs: Vec<&[_]> = views.iter().map(|v| v.as_slice()).collect();
    let mut losses: Vec<mixact::Result<f32>> = (0..k).map(|_| Ok(0.0)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| lanes.step_sequence(&refs, &mut losses).unwrap());
    let members = lanes.into_members();
    for (m, (mut got, _)) in members.into_iter().enumerate() {
        let (mut n, mut t) = (net(m as u64, hidden), sgd(m as u64));
        let mut last: mixact::Result<f32> = Ok(0.0);
        for (x, y) in &seqs[m] {
            last = t.step(&mut n, x.as_view(), y.as_view());
            if last.is_err() {
                break;
            }
        }
        assert_eq!(params(&mut got), params(&mut n), "member {m}");
        match (&losses[m], &last) {
            (Ok(a), Ok(b)) => assert_eq!(a.to_bits(), b.to_bits(), "member {m}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "member {m}"),
            (a, b) => panic!("member {m}: lanes {a:?}, solo {b:?}"),
        }
        assert_eq!(
            losses[m].is_err(),
            failing.contains(&m),
            "member {m} fails?"
        );
    }
}

#[test]
fn a_step_sequence_equals_solo_steps_and_a_failing_member_stops_at_its_failure() {
    check_step_sequence(6, 8, 0.3, &[4], 2);
}

/// Twenty members: a block of sixteen, and four stepped alone beside it on
/// the pool's other thread; a member fails in each.
#[test]
fn a_block_and_the_members_beside_it_step_their_sequences_exactly_as_alone() {
    check_step_sequence(20, 32, 0.02, &[4, 18], 2);
    check_step_sequence(16, 32, 0.02, &[9], 2);
}

/// With one thread, the members beside the block step after it.
#[test]
fn a_block_and_the_members_beside_it_on_a_one_thread_pool_step_exactly_as_alone() {
    check_step_sequence(20, 32, 0.02, &[4, 18], 1);
}

#[test]
fn an_ensemble_large_enough_for_lanes_still_fits_every_member_exactly_as_alone() {
    // 24 members: on 2 threads, two lane blocks of 12 (Ensemble::fit_each
    // picks lanes by itself when they pay off); on more threads, solo fits.
    let seeds: Vec<u64> = (0..24).collect();
    let data: Vec<Dataset<f32>> = seeds.iter().map(|&s| task(s, 1.0)).collect();
    let mut ensemble = mixact::Ensemble::new(
        seeds
            .iter()
            .map(|&s| (net(s, 12), stopping_trainer(s)))
            .collect(),
    )
    .unwrap();
    let refs: Vec<&Dataset<f32>> = data.iter().collect();
    let outcomes = ensemble.fit_each(&refs).unwrap();
    for (i, &seed) in seeds.iter().enumerate() {
        let mut solo = net(seed, 12);
        let want = stopping_trainer(seed).fit(&mut solo, &data[i]).unwrap();
        assert_eq!(
            history_bits(outcomes[i].as_ref().unwrap()),
            history_bits(&want)
        );
        let mut member = ensemble.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo), "seed {seed}");
    }
}
