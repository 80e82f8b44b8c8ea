//! A user-defined activation set works in every layer kind, unchanged crate.

use crate::common;

use common::rng;
use mixact::{mask, ActivationSet, Concat, Dense, Network, Real};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mine {
    Cube,
    Bump,
}

impl ActivationSet for Mine {
    fn value<T: Real>(self, z: T) -> T {
        match self {
            Mine::Cube => z * z * z,
            Mine::Bump => (-z * z).exp(),
        }
    }
    fn derivative<T: Real>(self, z: T, y: T) -> T {
        match self {
            Mine::Cube => T::lit(3.0) * z * z,
            Mine::Bump => T::lit(-2.0) * z * y,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mine::Cube => "cube",
            Mine::Bump => "bump",
        }
    }
    fn from_name(name: &str) -> Option<Self> {
        [Mine::Cube, Mine::Bump]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

#[test]
fn custom_set_gradients_match_finite_differences_in_the_dense_kind() {
    let mut l = Dense::<Mine, f64>::new(3, 4, Mine::Bump, &mut rng(1)).unwrap();
    common::check_layer_gradients(&mut l, 4, 2);
}

#[test]
fn custom_set_gradients_match_finite_differences_in_the_per_neuron_kind() {
    let m = mask::pattern(&[Mine::Cube, Mine::Bump], 5).unwrap();
    let mut l = Dense::<Mine, f64>::per_neuron(3, &m, &mut rng(3)).unwrap();
    common::check_layer_gradients(&mut l, 4, 4);
}

#[test]
fn custom_set_gradients_match_finite_differences_in_fused_and_deep_branches() {
    let mut r = rng(5);
    let mut fused =
        Dense::<Mine, f64>::branches(3, &[(2, Mine::Cube), (3, Mine::Bump)], &mut r).unwrap();
    common::check_layer_gradients(&mut fused, 4, 6);
    let deep = Network::new(vec![
        Dense::new(3, 3, Mine::Bump, &mut r).unwrap().into(),
        Dense::new(3, 2, Mine::Cube, &mut r).unwrap().into(),
    ])
    .unwrap();
    let shallow = Network::new(vec![Dense::new(3, 2, Mine::Bump, &mut r).unwrap().into()]).unwrap();
    let mut concat = Concat::<Mine, f64>::of_networks(vec![deep, shallow]).unwrap();
    let last_masks: Vec<Mine> = concat
        .branches()
        .iter()
        .flat_map(|b| {
            let net: &dyn std::any::Any = b.as_ref();
            let net = net.downcast_ref::<Network<Mine, f64>>().unwrap();
            let last: &dyn std::any::Any = net.layers().last().unwrap().as_ref();
            last.downcast_ref::<Dense<Mine, f64>>()
                .unwrap()
                .mask()
                .to_vec()
        })
        .collect();
    assert_eq!(last_masks, [Mine::Cube, Mine::Cube, Mine::Bump, Mine::Bump]);
    common::check_layer_gradients(&mut concat, 3, 7);
}
