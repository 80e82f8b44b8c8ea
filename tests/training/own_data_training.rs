//! Training on your own data: regression and classification metrics,
//! validation-driven early stopping, fits that continue, schedules,
//! inference from several threads, and hardening with retraining.

#![cfg(feature = "io")]

use crate::common;

use common::rng;
use mixact::data;
use mixact::metrics::confusion_matrix;
use mixact::prelude::*;
use mixact::{Control, Cosine, EarlyStopping, Monitor, ReduceOnPlateau, Schedule, StepDecay};

fn fixed_net(weight: f64, bias: f64) -> Network<Act, f64> {
    let layer = Dense::from_parts(
        DMatrix::from_element(1, 1, weight),
        vec![bias],
        &[Act::Identity],
    )
    .unwrap();
    Network::new(vec![layer.into()]).unwrap()
}

#[test]
fn regression_metrics_match_hand_computed_values() {
    // y = [1, 2, 3, 4]; prediction = x with x = [1, 2, 3, 6]: errors 0, 0, 0, 2.
    let x = DMatrix::from_column_slice(4, 1, &[1.0, 2.0, 3.0, 6.0]);
    let y = DMatrix::from_column_slice(4, 1, &[1.0, 2.0, 3.0, 4.0]);
    let ds = Dataset::new(x, y).unwrap();
    let m = evaluate(&mut fixed_net(1.0, 0.0), &ds, Loss::Mse).unwrap();
    assert!((m.loss - 1.0).abs() < 1e-12);
    assert!((m.rmse.unwrap() - 1.0).abs() < 1e-12);
    assert!((m.mae.unwrap() - 0.5).abs() < 1e-12);
    // SS_res = 4, SS_tot = 5: R² = 0.2.
    assert!((m.r2.unwrap() - 0.2).abs() < 1e-12);
    assert_eq!(m.accuracy, None);
}

#[test]
fn the_confusion_matrix_gives_precision_and_recall() {
    // One logit: predicts class 1 when x > 0.5.
    let x = DMatrix::from_column_slice(6, 1, &[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
    let y = DMatrix::from_column_slice(6, 1, &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let ds = Dataset::new(x, y).unwrap();
    let cm = confusion_matrix(&mut fixed_net(2.0, -1.0), &ds, Loss::BceWithLogits).unwrap();
    assert_eq!(cm.counts, vec![vec![2, 1], vec![1, 2]]);
    assert_eq!(cm.precision(1).unwrap(), Some(2.0 / 3.0));
    assert_eq!(cm.recall(0).unwrap(), Some(2.0 / 3.0));
    assert!((cm.accuracy() - 4.0 / 6.0).abs() < 1e-12);
}

fn spiral_parts() -> (Dataset<f32>, Dataset<f32>) {
    let all = data::two_spirals::<f32, _>(80, 1.0, 0.1, &mut rng(1)).unwrap();
    let s = all.split_stratified(0.3, 0.1, 2).unwrap();
    (s.train, s.valid.unwrap())
}

fn small_net(seed: u64) -> Network<Act> {
    let mut r = rng(seed);
    Network::new(vec![
        Dense::new(2, 16, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(16, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

fn params(net: &mut Network<Act>) -> Vec<f32> {
    let mut v = Vec::new();
    net.visit_params(&mut |p| v.extend_from_slice(p.value));
    v
}

#[test]
fn early_stopping_restores_the_best_epochs_weights_exactly() {
    let (train, valid) = spiral_parts();
    let config = FitConfig {
        epochs: 60,
        batch_size: 8,
        seed: 4,
        shuffle: true,
    };
    let mut net = small_net(5);
    // A high rate so the validation loss wanders and the best epoch is not the last.
    let mut t = Trainer::new(Loss::BceWithLogits, Adam::new(0.2).unwrap(), config)
        .unwrap()
        .with_validation(valid.clone())
        .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 5));
    let mut snapshots = Vec::new();
    let history = t
        .fit_with(&mut net, &train, |_, n| {
            let mut v = Vec::new();
            let mut copy = n.clone();
            copy.visit_params(&mut |p| v.extend_from_slice(p.value));
            snapshots.push(v);
            Control::Continue
        })
        .unwrap();
    let best = t.best_epoch().unwrap();
    let best_loss = history
        .iter()
        .map(|s| s.valid.unwrap().loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(history[best].valid.unwrap().loss, best_loss);
    assert!(history.len() < 60 || best + 1 < history.len());
    assert_eq!(params(&mut net), snapshots[best]);
}

#[test]
fn a_second_fit_continues_the_epochs() {
    let (train, _) = spiral_parts();
    let config = FitConfig {
        epochs: 3,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    let mut a = small_net(6);
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(0.1).unwrap(), config).unwrap();
    let first = t.fit(&mut a, &train).unwrap();
    let second = t.fit(&mut a, &train).unwrap();
    assert_eq!(first.last().unwrap().epoch, 2);
    assert_eq!(second[0].epoch, 3);
    // Same as one fit of six epochs.
    let mut b = small_net(6);
    let six = FitConfig {
        epochs: 6,
        ..config
    };
    let mut u = Trainer::new(Loss::BceWithLogits, Sgd::new(0.1).unwrap(), six).unwrap();
    u.fit(&mut b, &train).unwrap();
    assert_eq!(params(&mut a), params(&mut b));
}

#[test]
fn schedules_follow_their_formulas() {
    let mut step = StepDecay::new(3, 0.5).unwrap();
    assert_eq!(step.learning_rate(0, 0.1, None), 0.1);
    assert_eq!(step.learning_rate(3, 0.1, None), 0.05);
    assert_eq!(step.learning_rate(7, 0.1, None), 0.025);
    let mut cos = Cosine::new(10, 0.01).unwrap();
    assert!((cos.learning_rate(5, 0.21, None) - 0.11).abs() < 1e-15);
    assert!((cos.learning_rate(10, 0.21, None) - 0.01).abs() < 1e-15);
    assert!((cos.learning_rate(20, 0.21, None) - 0.01).abs() < 1e-15);
}

#[test]
fn the_trainer_applies_the_schedule_each_epoch() {
    let (train, valid) = spiral_parts();
    let config = FitConfig {
        epochs: 6,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    let mut net = small_net(7);
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(0.1).unwrap(), config)
        .unwrap()
        .with_validation(valid)
        .with_schedule(StepDecay::new(2, 0.1).unwrap());
    let h = t.fit(&mut net, &train).unwrap();
    let rates: Vec<f64> = h.iter().map(|s| s.learning_rate).collect();
    for (r, want) in rates.iter().zip([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]) {
        assert!((r - want).abs() < 1e-8, "{rates:?}");
    }
    let mut plateau = ReduceOnPlateau::new(0.5, 0, 1e-4).unwrap();
    let last = h.last().unwrap();
    assert_eq!(plateau.learning_rate(0, 0.1, Some(last)), 0.1);
    assert_eq!(plateau.learning_rate(1, 0.1, Some(last)), 0.05);
}

#[test]
fn a_trained_network_predicts_from_four_threads_at_once() {
    let (train, _) = spiral_parts();
    let mut net = small_net(8);
    let config = FitConfig {
        epochs: 5,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    Trainer::new(Loss::BceWithLogits, Adam::new(0.01).unwrap(), config)
        .unwrap()
        .fit(&mut net, &train)
        .unwrap();
    let want = net.predict_mut(train.x()).unwrap();
    let (net, x) = (&net, train.x());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|k| s.spawn(move || net.predict_in_batches(x, 7 + k).unwrap()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), want);
        }
    });
}

#[test]
fn hardening_and_retraining_reports_all_three_losses() {
    let (train, valid) = spiral_parts();
    let mut r = rng(9);
    let net: Network<Act> = Network::new(vec![
        Mixture::new(2, 12, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)
            .unwrap()
            .into(),
        Dense::new(12, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let config = FitConfig {
        epochs: 5,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Adam::new(0.01).unwrap(), config).unwrap();
    let (hard, report) = net.harden_and_retrain(&train, &valid, &mut t).unwrap();
    assert!(report.loss_before.is_finite() && report.loss_after.is_finite());
    assert!(report.loss_retrained.unwrap().is_finite());
    let first: &dyn std::any::Any = hard.layers()[0].as_ref();
    assert!(first.is::<Dense<Act>>());
}
