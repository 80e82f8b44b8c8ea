//! An ensemble trains each member exactly as a solo fit would (bit for bit),
//! lets a diverging member stop alone, and refuses members that differ.

use mixact::data::{self, Dataset};
use mixact::{
    mask, Act, Adam, Dense, Ensemble, EpochStats, Error, FitConfig, Layer, Loss, Network, Sgd,
    Trainer,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn net(seed: u64, hidden: usize) -> Network<Act> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu], hidden).unwrap();
    Network::new(vec![
        Dense::per_neuron(2, &m, &mut r).unwrap().into(),
        Dense::per_neuron(hidden, &m, &mut r).unwrap().into(),
        Dense::new(hidden, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

fn trainer(seed: u64, lr: f32) -> Trainer<f32, Adam<f32>> {
    let config = FitConfig {
        epochs: 15,
        batch_size: 16,
        seed,
        shuffle: true,
    };
    Trainer::new(Loss::Mse, Adam::new(lr).unwrap(), config).unwrap()
}

fn task(seed: u64) -> Dataset<f32> {
    let x = DMatrix::<f32>::from_fn(90, 2, |i, j| {
        ((i * 13 + j * 7 + seed as usize * 3) % 29) as f32 / 14.5 - 1.0
    });
    let y = DMatrix::<f32>::from_fn(90, 1, |i, _| (3.0 * x[(i, 0)]).sin() + x[(i, 1)].abs());
    Dataset::new(x, y).unwrap()
}

fn params(net: &mut Network<Act>) -> Vec<u32> {
    let mut bits = Vec::new();
    net.visit_params(&mut |p| bits.extend(p.value.iter().map(|v| v.to_bits())));
    bits
}

fn history_bits(h: &[EpochStats]) -> Vec<u64> {
    h.iter().map(|s| s.train.loss.to_bits()).collect()
}

type Member = (Network<Act>, Trainer<f32, Adam<f32>>);

const SEEDS: [u64; 5] = [11, 12, 13, 14, 15];

#[test]
fn every_member_ends_bit_identical_to_its_solo_fit() {
    let datasets: Vec<Dataset<f32>> = SEEDS.iter().map(|&s| task(s)).collect();
    let members = SEEDS
        .iter()
        .map(|&s| (net(s, 32), trainer(s, 0.01)))
        .collect();
    let mut ensemble = Ensemble::new(members).unwrap();
    let refs: Vec<&Dataset<f32>> = datasets.iter().collect();
    let outcomes = ensemble.fit_each(&refs).unwrap();
    for (i, &seed) in SEEDS.iter().enumerate() {
        let mut solo = net(seed, 32);
        let solo_history = trainer(seed, 0.01).fit(&mut solo, &datasets[i]).unwrap();
        let history = outcomes[i].as_ref().unwrap();
        assert_eq!(
            history_bits(history),
            history_bits(&solo_history),
            "seed {seed}"
        );
        let mut member = ensemble.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo), "seed {seed}");
    }
}

#[test]
fn a_diverging_member_stops_alone_and_the_others_match_their_solo_fits() {
    let data = task(0);
    let lr = |s: u64| if s == 13 { 1e30 } else { 0.01 };
    let members = SEEDS
        .iter()
        .map(|&s| (net(s, 16), trainer(s, lr(s))))
        .collect();
    let mut ensemble = Ensemble::new(members).unwrap();
    let outcomes = ensemble.fit(&data);
    for (i, &seed) in SEEDS.iter().enumerate() {
        let mut solo = net(seed, 16);
        let solo_outcome = trainer(seed, lr(seed)).fit(&mut solo, &data);
        let mut member = ensemble.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo), "seed {seed}");
        if seed == 13 {
            assert!(
                matches!(outcomes[i], Err(Error::Diverged { .. })),
                "seed 13 diverges"
            );
            assert!(matches!(solo_outcome, Err(Error::Diverged { .. })));
        } else {
            let (h, s) = (outcomes[i].as_ref().unwrap(), solo_outcome.unwrap());
            assert_eq!(history_bits(h), history_bits(&s), "seed {seed}");
        }
    }
}

#[test]
fn ensemble_steps_equal_solo_steps() {
    let x = DMatrix::<f32>::from_fn(32, 2, |i, j| (i as f32 * 0.37 + j as f32).sin());
    let y = DMatrix::<f32>::from_fn(32, 1, |i, _| (i % 2) as f32);
    let sgd = || Trainer::new(Loss::Mse, Sgd::new(0.05).unwrap(), FitConfig::default()).unwrap();
    let mut ensemble = Ensemble::new(SEEDS.iter().map(|&s| (net(s, 32), sgd())).collect()).unwrap();
    let batches = vec![(x.as_view(), y.as_view()); SEEDS.len()];
    let mut losses: Vec<mixact::Result<f32>> = (0..SEEDS.len()).map(|_| Ok(0.0)).collect();
    for _ in 0..5 {
        ensemble.step(&batches, &mut losses).unwrap();
    }
    for (i, &seed) in SEEDS.iter().enumerate() {
        let (mut solo, mut t) = (net(seed, 32), sgd());
        let mut last = 0.0;
        for _ in 0..5 {
            last = t.step(&mut solo, x.as_view(), y.as_view()).unwrap();
        }
        assert_eq!(losses[i].as_ref().unwrap().to_bits(), last.to_bits());
        let mut member = ensemble.network(i).unwrap().clone();
        assert_eq!(params(&mut member), params(&mut solo));
    }
}

#[test]
fn members_of_different_widths_are_refused() {
    let members = vec![
        (net(1, 16), trainer(1, 0.01)),
        (net(2, 32), trainer(2, 0.01)),
    ];
    assert!(matches!(
        Ensemble::new(members),
        Err(Error::Length {
            what: "ensemble member parameters",
            ..
        })
    ));
}

#[test]
fn an_empty_ensemble_and_a_wrong_number_of_data_sets_are_errors() {
    let none: Vec<Member> = vec![];
    assert!(matches!(Ensemble::new(none), Err(Error::Empty { .. })));
    let mut e = Ensemble::new(vec![(net(1, 8), trainer(1, 0.01))]).unwrap();
    let d = data::xor::<f32>();
    assert!(matches!(e.fit_each(&[&d, &d]), Err(Error::Length { .. })));
}

#[test]
fn a_member_whose_data_do_not_fit_fails_alone() {
    let good = task(1);
    let bad = Dataset::new(DMatrix::<f32>::zeros(4, 3), DMatrix::<f32>::zeros(4, 1)).unwrap();
    let members = vec![(net(1, 8), trainer(1, 0.01)), (net(2, 8), trainer(2, 0.01))];
    let mut e = Ensemble::new(members).unwrap();
    let out = e.fit_each(&[&good, &bad]).unwrap();
    assert!(out[0].is_ok());
    assert!(matches!(out[1], Err(Error::Shape { .. })));
}

#[test]
fn the_mean_prediction_is_the_average_of_the_members_predictions() {
    let members: Vec<Member> = SEEDS
        .iter()
        .map(|&s| (net(s, 8), trainer(s, 0.01)))
        .collect();
    let mut ensemble = Ensemble::new(members).unwrap();
    let data = task(1);
    for outcome in ensemble.fit(&data) {
        outcome.unwrap();
    }
    let x = data.x().clone();
    let mean = ensemble.predict_mean(&x).unwrap();
    let mut by_hand = DMatrix::<f32>::zeros(x.nrows(), 1);
    for i in 0..ensemble.len() {
        by_hand += ensemble.network(i).unwrap().predict(&x).unwrap();
    }
    by_hand /= SEEDS.len() as f32;
    assert_eq!(mean, by_hand);
    let wrong_width = DMatrix::<f32>::zeros(3, 5);
    assert!(matches!(
        ensemble.predict_mean(&wrong_width),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn an_ensemble_as_one_network_predicts_its_mean_bit_for_bit_and_after_a_save() {
    let members = (0..3).map(|s| (net(s, 8), trainer(s, 0.01))).collect();
    let mut ensemble = Ensemble::new(members).unwrap();
    for h in ensemble.fit(&task(0)) {
        h.unwrap();
    }
    let x = task(5).x().clone();
    let mean = ensemble.predict_mean(&x).unwrap();
    let one = ensemble.to_network().unwrap();
    assert_eq!(one.predict(&x).unwrap(), mean);
    let back: Network<Act> = Network::from_model_bytes(&one.to_model_bytes().unwrap()).unwrap();
    assert_eq!(back.predict(&x).unwrap(), mean);
}

#[test]
fn the_spread_is_the_members_sample_standard_deviation() {
    let members = (0..3).map(|s| (net(s, 8), trainer(s, 0.01))).collect();
    let ensemble = Ensemble::new(members).unwrap();
    let x = task(1).x().clone();
    let (mean, sd) = ensemble.predict_with_spread(&x).unwrap();
    assert_eq!(mean, ensemble.predict_mean(&x).unwrap());
    let outs: Vec<f64> = (0..3)
        .map(|i| ensemble.network(i).unwrap().predict(&x).unwrap()[(4, 0)] as f64)
        .collect();
    let m = outs.iter().sum::<f64>() / 3.0;
    let want = (outs.iter().map(|o| (o - m).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((sd[(4, 0)] as f64 - want).abs() < 1e-6 * want.max(1.0));
    assert!(sd[(4, 0)] > 0.0);
}
