//! Training that blows up, optimiser state that could go stale, and settings that would make a fit silently wrong.

use super::*;

#[test]
fn sgd_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Sgd::new(lr).unwrap(), lr);
    }
}

#[test]
fn adam_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Adam::new(lr).unwrap(), lr);
    }
}

#[test]
fn adamw_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Adam::adamw(lr, 0.01).unwrap(), lr);
    }
}

#[test]
fn a_loss_that_explodes_restores_the_parameters_from_before_the_update() {
    let ds = data::two_spirals::<f32, _>(64, 1.5, 0.02, &mut rng(3)).unwrap();
    let mut net = spiral_net();
    let before = net.predict(ds.x()).unwrap();
    let config = FitConfig {
        epochs: 5,
        batch_size: 128,
        seed: 1,
        shuffle: false,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(1e10).unwrap(), config).unwrap();
    let e = t.fit(&mut net, &ds).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Diverged {
                epoch: 1,
                step: 0,
                cause: Divergence::LossGrowth,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(net.predict(ds.x()).unwrap(), before);
}

#[test]
fn the_divergence_factor_is_validated() {
    let t = trainer(Loss::Mse);
    assert!(matches!(
        t.with_divergence_factor(0.5),
        Err(Error::HyperParameter { .. })
    ));
}

#[test]
fn after_hardening_the_changed_layer_starts_with_fresh_optimiser_state() {
    let (x, y) = xy();
    let mut net = mixture_net();
    let mut reused = adam_trainer();
    for _ in 0..5 {
        reused.step(&mut net, x.as_view(), y.as_view()).unwrap();
    }
    let mut hard = net.hardened();
    let mut copy: Network<Act> =
        Network::from_model_bytes(&hard.to_model_bytes().unwrap()).unwrap();
    let mut fresh = adam_trainer();
    reused.step(&mut hard, x.as_view(), y.as_view()).unwrap();
    fresh.step(&mut copy, x.as_view(), y.as_view()).unwrap();
    // The hardened layer is new: same update as with a fresh Adam.
    assert_eq!(weights(&mut hard, 0), weights(&mut copy, 0));
    // The output layer is the same tensor: its moments carried over.
    assert_ne!(weights(&mut hard, 1), weights(&mut copy, 1));
}

#[test]
fn an_optimiser_reused_on_another_network_starts_afresh() {
    let (x, y) = xy();
    let mut first = spiral_net();
    let mut reused = adam_trainer();
    for _ in 0..5 {
        reused.step(&mut first, x.as_view(), y.as_view()).unwrap();
    }
    let mut a = spiral_net();
    let mut b = spiral_net();
    let mut fresh = adam_trainer();
    for _ in 0..3 {
        reused.step(&mut a, x.as_view(), y.as_view()).unwrap();
        fresh.step(&mut b, x.as_view(), y.as_view()).unwrap();
    }
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
}

#[test]
fn a_nan_or_negative_early_stopping_min_delta_is_refused_when_the_rule_is_made() {
    use mixact::{EarlyStopping, Monitor};
    for bad in [f64::NAN, -1e-3, f64::INFINITY] {
        let e = EarlyStopping::new(Monitor::TrainLoss, 2)
            .with_min_delta(bad)
            .unwrap_err();
        assert!(matches!(e, Error::HyperParameter { .. }), "{bad}: {e:?}");
    }
    assert!(EarlyStopping::new(Monitor::TrainLoss, 2)
        .with_min_delta(0.01)
        .is_ok());
}

#[test]
fn an_ensemble_with_a_wrong_number_of_batches_is_an_error_not_a_panic() {
    let mut r = rng(6);
    let members = (0..2)
        .map(|_| {
            let net: mixact::Network<Act> =
                mixact::Network::new(vec![Dense::new(2, 1, Act::Identity, &mut r)
                    .unwrap()
                    .into()])
                .unwrap();
            (
                net,
                Trainer::new(Loss::Mse, Sgd::new(0.1).unwrap(), FitConfig::default()).unwrap(),
            )
        })
        .collect();
    let mut e = mixact::Ensemble::new(members).unwrap();
    let x = DMatrix::<f32>::zeros(4, 2);
    let y = DMatrix::<f32>::zeros(4, 1);
    let mut losses: Vec<mixact::Result<f32>> = vec![Ok(0.0), Ok(0.0)];
    let err = e
        .step(&[(x.as_view(), y.as_view())], &mut losses)
        .unwrap_err();
    assert!(matches!(err, Error::Length { .. }), "{err:?}");
    // A batch of the wrong width is that member's error.
    let wide = DMatrix::<f32>::zeros(4, 3);
    e.step(
        &[(x.as_view(), y.as_view()), (wide.as_view(), y.as_view())],
        &mut losses,
    )
    .unwrap();
    assert!(losses[0].is_ok());
    assert!(matches!(losses[1], Err(Error::Shape { .. })));
}

#[test]
fn early_stopping_on_validation_loss_without_a_validation_set_is_refused_at_fit() {
    let mut t = trainer(Loss::Mse).with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 2));
    let e = t
        .fit(&mut linear_net(2, 1), &regression_data(8))
        .unwrap_err();
    assert!(incompatible(e).contains("validation set"));
}

#[test]
fn early_stopping_on_accuracy_under_mse_is_refused_at_fit() {
    let mut t = trainer(Loss::Mse)
        .with_validation(regression_data(4))
        .with_early_stopping(EarlyStopping::new(Monitor::ValidAccuracy, 2));
    let e = t
        .fit(&mut linear_net(2, 1), &regression_data(8))
        .unwrap_err();
    assert!(incompatible(e).contains("accuracy"));
}

#[test]
fn early_stopping_on_rmse_under_bce_is_refused_at_fit() {
    let ds = mixact::Dataset::new(DMatrix::zeros(8, 2), DMatrix::from_element(8, 1, 1.0)).unwrap();
    let mut t = trainer(Loss::BceWithLogits)
        .with_validation(ds.clone())
        .with_early_stopping(EarlyStopping::new(Monitor::ValidRmse, 2));
    let e = t.fit(&mut linear_net(2, 1), &ds).unwrap_err();
    assert!(incompatible(e).contains("RMSE"));
}

#[test]
fn a_trainer_with_early_stopping_reused_on_another_network_keeps_that_networks_weights() {
    let data = regression_data(16);
    let mut t = trainer(Loss::Mse)
        .with_validation(regression_data(8))
        .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 50));
    let mut first = linear_net(2, 1);
    t.fit(&mut first, &data).unwrap();
    let mut second = Network::new(vec![Dense::new(2, 1, Act::Identity, &mut rng(99))
        .unwrap()
        .into()])
    .unwrap();
    let mut before = Vec::new();
    second.visit_params(&mut |p| before.extend_from_slice(p.value));
    let history = t.fit(&mut second, &data).unwrap();
    assert_eq!(history.len(), 2, "the second fit ran its own epochs");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    first.visit_params(&mut |p| a.extend_from_slice(p.value));
    second.visit_params(&mut |p| b.extend_from_slice(p.value));
    assert_ne!(a, b, "the second network got the first one's weights");
    assert_ne!(before, b, "the second network was trained");
}

#[test]
fn reduce_on_plateau_refuses_factors_outside_0_1_and_a_nan_floor() {
    for factor in [10.0, 1.0, 0.0, -0.5, f64::NAN] {
        let e = ReduceOnPlateau::new(factor, 2, 1e-5).unwrap_err();
        assert!(matches!(e, Error::HyperParameter { .. }), "{factor}: {e:?}");
    }
    for min_lr in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(ReduceOnPlateau::new(0.5, 2, min_lr).is_err(), "{min_lr}");
    }
    assert!(ReduceOnPlateau::new(0.5, 2, 0.0).is_ok());
}

#[test]
fn a_schedule_of_your_own_with_bad_settings_is_checked_before_the_first_epoch() {
    #[derive(Clone)]
    struct Broken;
    impl mixact::Schedule for Broken {
        fn learning_rate(&mut self, _: usize, base: f64, _: Option<&mixact::EpochStats>) -> f64 {
            base
        }
        fn validate(&self) -> mixact::Result<()> {
            Err(Error::HyperParameter {
                name: "broken",
                value: 0.0,
                requirement: "anything else",
            })
        }
    }
    let mut t = trainer(Loss::Mse).with_schedule(Broken);
    let mut net = linear_net(2, 1);
    let before = net.predict(&DMatrix::from_element(1, 2, 1.0)).unwrap();
    let e = t.fit(&mut net, &regression_data(8)).unwrap_err();
    assert!(matches!(e, Error::HyperParameter { .. }), "{e:?}");
    let after = net.predict(&DMatrix::from_element(1, 2, 1.0)).unwrap();
    assert_eq!(before, after, "no epoch ran");
    // The built-in schedules cannot hold bad settings: their constructors refuse them.
    assert!(Cosine::new(10, 0.0).is_err());
    assert!(StepDecay::new(0, 0.5).is_err());
    assert!(StepDecay::new(3, 2.0).is_err());
}

#[test]
fn predict_through_a_layer_whose_output_is_not_the_declared_shape_is_a_shape_error() {
    let wrong = WrongWidth {
        y: DMatrix::zeros(0, 1),
        dx: DMatrix::zeros(0, 2),
    };
    let mut net = Network::new(vec![
        Dense::new(2, 2, Act::Tanh, &mut rng(1)).unwrap().into(),
        Box::new(wrong) as mixact::extend::BoxedLayer<Act, f64>,
    ])
    .unwrap();
    let x = DMatrix::from_element(3, 2, 0.5);
    for e in [
        net.predict(&x).unwrap_err(),
        net.predict_in_batches(&x, 2).unwrap_err(),
        net.predict_mut(&x).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Shape { .. }), "{e:?}");
        assert!(e.to_string().contains("layer 1"), "{e}");
    }
}

#[test]
fn an_average_of_no_members_or_of_members_that_differ_is_refused() {
    use mixact::Average;
    let mut r = rng(1);
    assert!(matches!(
        Average::<Act, f32>::new(vec![]),
        Err(Error::Empty { .. })
    ));
    let wider = Average::<Act, f32>::new(vec![
        mixact::Dense::new(2, 3, Act::Relu, &mut r).unwrap().into(),
        mixact::Dense::new(2, 4, Act::Relu, &mut r).unwrap().into(),
    ]);
    assert!(matches!(wider, Err(Error::Shape { layer: Some(1), .. })));
}
