//! Lanes on hostile input: members whose batches are non-finite, empty or
//! too large for sixteen-fold buffers, and networks too large to widen,
//! get the solo path's answer or a clean error, and never take the others down.

use super::*;
use mixact::{Adam, LaneEnsemble};

fn member(seed: u64, hidden: usize) -> (Network<Act>, Trainer<f32, Adam<f32>>) {
    let mut r = rng(seed);
    let net = Network::new(vec![
        Dense::new(2, hidden, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(hidden, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default()).unwrap();
    (net, t)
}

fn solo_step(seed: u64, hidden: usize, x: &DMatrix<f32>, y: &DMatrix<f32>) -> mixact::Result<f32> {
    let (mut net, mut t) = member(seed, hidden);
    t.step(&mut net, x.as_view(), y.as_view())
}

#[test]
fn non_finite_and_empty_batches_fail_their_member_alone_as_a_solo_step_would() {
    let x = DMatrix::from_fn(8, 2, |i, j| (i + j) as f32 * 0.1);
    let y = DMatrix::from_fn(8, 1, |i, _| i as f32 * 0.1);
    let mut nan_x = x.clone();
    nan_x[(3, 1)] = f32::NAN;
    let mut inf_y = y.clone();
    inf_y[(2, 0)] = f32::INFINITY;
    let empty_x = DMatrix::<f32>::zeros(0, 2);
    let empty_y = DMatrix::<f32>::zeros(0, 1);
    let batches = [
        (&x, &y),
        (&nan_x, &y),
        (&x, &inf_y),
        (&empty_x, &empty_y),
        (&x, &y),
    ];
    let mut lanes = LaneEnsemble::new((0..5).map(|s| member(s, 6)).collect()).unwrap();
    let views: Vec<_> = batches
        .iter()
        .map(|(x, y)| (x.as_view(), y.as_view()))
        .collect();
    let mut losses: Vec<mixact::Result<f32>> = (0..5).map(|_| Ok(0.0)).collect();
    lanes.step(&views, &mut losses).unwrap();
    for (s, (x, y)) in batches.iter().enumerate() {
        let want = solo_step(s as u64, 6, x, y);
        match (&losses[s], &want) {
            (Ok(a), Ok(b)) => assert_eq!(a.to_bits(), b.to_bits(), "member {s}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "member {s}"),
            (a, b) => panic!("member {s}: lanes {a:?}, solo {b:?}"),
        }
    }
    assert!(losses[0].is_ok() && losses[4].is_ok());
    assert!(losses[1].is_err() && losses[2].is_err() && losses[3].is_err());
}

#[test]
fn a_batch_too_large_for_sixteen_fold_buffers_trains_alone_with_the_solo_result() {
    // 16 385 rows x 1 024 neurons x 16 lanes passes the element limit; one
    // network's buffers (16 385 x 1 024) do not.
    let rows = 16_385;
    let x = DMatrix::from_fn(rows, 2, |i, j| ((i * 3 + j) % 17) as f32 * 0.05);
    let y = DMatrix::from_fn(rows, 1, |i, _| (i % 5) as f32 * 0.1);
    let mut lanes = LaneEnsemble::new((0..2).map(|s| member(s, 1024)).collect()).unwrap();
    let views = vec![(x.as_view(), y.as_view()); 2];
    let mut losses: Vec<mixact::Result<f32>> = (0..2).map(|_| Ok(0.0)).collect();
    lanes.step(&views, &mut losses).unwrap();
    for (s, loss) in losses.iter().enumerate() {
        let want = solo_step(s as u64, 1024, &x, &y).unwrap();
        assert_eq!(
            loss.as_ref().unwrap().to_bits(),
            want.to_bits(),
            "member {s}"
        );
        assert_eq!(lanes.in_lanes(s), Some(false), "member {s} left the lanes");
    }
}

#[test]
fn a_layer_too_large_to_widen_is_refused_before_anything_is_allocated() {
    // 4 097 x 4 096 weights are within the limit; sixteen copies are not.
    let mut r = rng(0);
    let net: Network<Act> = Network::new(vec![Dense::new(4097, 4096, Act::Relu, &mut r)
        .unwrap()
        .into()])
    .unwrap();
    let t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default()).unwrap();
    match LaneEnsemble::new(vec![(net, t)]) {
        Err(Error::Incompatible { reason, .. }) => {
            assert!(reason.contains("too large for lanes"), "{reason}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn step_sequences_of_different_lengths_are_an_error() {
    let x = DMatrix::from_fn(4, 2, |i, j| (i + j) as f32);
    let y = DMatrix::from_fn(4, 1, |i, _| i as f32);
    let mut lanes = LaneEnsemble::new((0..2).map(|s| member(s, 4)).collect()).unwrap();
    let long = vec![(x.as_view(), y.as_view()); 3];
    let short = vec![(x.as_view(), y.as_view()); 2];
    let mut losses: Vec<mixact::Result<f32>> = (0..2).map(|_| Ok(0.0)).collect();
    let err = lanes.step_sequence(&[&long, &short], &mut losses);
    assert!(matches!(err, Err(Error::Length { .. })), "{err:?}");
}
