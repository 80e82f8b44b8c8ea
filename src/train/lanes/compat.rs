//! Which members can share lanes, and when lanes pay off.

use std::any::Any;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::is_small_product;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::layers::dense::Dense;
use crate::layers::layer::Layer;
use crate::layers::network::Network;
use crate::train::optim::Optimizer;
use crate::train::trainer::Trainer;

use super::LANES;

/// A member as users hand it over: its network and trainer.
pub(super) type Pair<A, T, O> = (Network<A, T>, Trainer<T, O>);

/// The network's layers as dense layers, if every one is.
pub(super) fn dense_layers<A: ActivationSet, T: Real>(
    net: &mut Network<A, T>,
) -> Option<Vec<&mut Dense<A, T>>> {
    net.layers_mut()
        .iter_mut()
        .map(|layer| (layer.as_mut() as &mut dyn Any).downcast_mut::<Dense<A, T>>())
        .collect()
}

/// Why these members cannot share lanes, or the optimiser step count they share.
pub(super) fn lane_compatibility<A: ActivationSet, T: Real, O: Optimizer<T>>(
    members: &mut [Pair<A, T, O>],
) -> std::result::Result<u64, String> {
    let Some(((first_net, first_trainer), rest)) = members.split_first_mut() else {
        return Err("no members".into());
    };
    let Some(settings) = first_trainer.optimizer().lane_settings() else {
        return Err(
            "the optimiser does not declare element-wise updates (Optimizer::lane_settings)".into(),
        );
    };
    let per_value = first_trainer.optimizer().state_per_value();
    let shape_of = |net: &mut Network<A, T>, i: usize| {
        dense_layers(net)
            .ok_or_else(|| {
                format!("member {i} has a layer that is not a Dense layer (lanes run chains of Dense layers)")
            })
            .map(|layers| {
                layers
                    .iter()
                    .map(|d| (d.input_width(), d.output_width(), d.mask().to_vec()))
                    .collect::<Vec<_>>()
            })
    };
    let shape = shape_of(first_net, 0)?;
    for (i, (inputs, outputs, _)) in shape.iter().enumerate() {
        if crate::limits::elements("lane weights", &[*inputs, *outputs, LANES]).is_err() {
            return Err(format!(
                "layer {i} ({inputs} x {outputs}) is too large for lanes: sixteen copies of its \
                 weights would pass the {} element limit",
                crate::limits::MAX_ELEMENTS
            ));
        }
    }
    let steps_of = |net: &mut Network<A, T>, trainer: &Trainer<T, O>| {
        trainer
            .states()
            .entry_of(net, per_value)
            .map_or(0, |entries| entries.first().map_or(0, |e| e.2))
    };
    let steps = steps_of(first_net, first_trainer);
    if let Some(blocker) = first_trainer.lane_blocker() {
        return Err(format!("member 0 has {blocker}"));
    }
    for (k, (net, trainer)) in rest.iter_mut().enumerate() {
        let i = k + 1;
        if shape_of(net, i)? != shape {
            return Err(format!(
                "member {i}'s layers differ from member 0's (shapes or activation masks)"
            ));
        }
        if trainer.loss() != first_trainer.loss() {
            return Err(format!("member {i} has another loss than member 0"));
        }
        let same = trainer.optimizer().lane_settings().is_some_and(|s| {
            s.len() == settings.len()
                && s.iter()
                    .zip(&settings)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        });
        if !same {
            return Err(format!(
                "member {i}'s optimiser settings differ from member 0's"
            ));
        }
        if let Some(blocker) = trainer.lane_blocker() {
            return Err(format!("member {i} has {blocker}"));
        }
        if steps_of(net, trainer) != steps {
            return Err(format!(
                "member {i}'s optimiser has taken another number of steps than member 0's"
            ));
        }
    }
    Ok(steps)
}

/// About how many solo steps of its members' network one step of a lane
/// block costs, whether it holds 2 members or 16 (measured on the W3
/// network with AVX-512: a block at 71 µs, a solo step at 7.1 µs on Zen 4;
/// 33-35 µs and 3.5 µs on Zen 5, 32-34 µs once the weights had odd rows).
pub(super) const BLOCK_COST: usize = 10;

/// Whether `k` members train faster in lane blocks than one network per
/// thread on `threads` threads, by [`BLOCK_COST`]: the lanes' time is a
/// block's (at least) or their total cost spread over the threads, the solo
/// fits' their number spread over the threads. With 2 threads lanes win from
/// 22 members on; at 10 members one block would run on one core while the
/// other idles, slower than solo fits on both.
pub(crate) fn lanes_pay_off(k: usize, threads: usize) -> bool {
    let threads = threads.max(1);
    let (full, rest) = (k / LANES, k % LANES);
    let rest_cost = if full > 0 && rest < BLOCK_COST {
        rest
    } else {
        BLOCK_COST.min(rest * BLOCK_COST)
    };
    let total = full * BLOCK_COST + rest_cost;
    let lanes = total.div_ceil(threads).max(BLOCK_COST);
    lanes < k.div_ceil(threads)
}

/// For [`Ensemble::fit_each`](crate::Ensemble::fit_each): whether lanes give
/// these members exactly their solo results on `data` (lane-compatible,
/// one data length and batch size, every product on the small-product
/// path), and the optimiser step count they share.
pub(crate) fn exact_in_lanes<A: ActivationSet, T: Real, O: Optimizer<T>>(
    members: &mut [Pair<A, T, O>],
    data: &[&Dataset<T>],
) -> Option<u64> {
    let n = data.first()?.len();
    let batch = members.first()?.1.batch_size();
    if data.iter().any(|d| d.len() != n) || members.iter().any(|(_, t)| t.batch_size() != batch) {
        return None;
    }
    let rows = batch.min(n);
    let small = members[0]
        .0
        .layers()
        .iter()
        .all(|layer| is_small_product(rows, layer.input_width(), layer.output_width()));
    if !small || !lanes_pay_off(members.len(), rayon::current_num_threads()) {
        return None;
    }
    lane_compatibility(members).ok()
}

#[cfg(test)]
mod tests {
    use super::lanes_pay_off;

    #[test]
    fn lanes_pay_off_only_when_they_beat_solo_fits_on_every_thread() {
        assert!(!lanes_pay_off(10, 2), "one block, one idle core");
        assert!(!lanes_pay_off(16, 2));
        assert!(
            !lanes_pay_off(20, 2),
            "a block and four solo fits: a tie with solo fits"
        );
        assert!(lanes_pay_off(22, 2));
        assert!(lanes_pay_off(32, 2), "two full blocks, one per core");
        assert!(lanes_pay_off(40, 2));
        assert!(
            !lanes_pay_off(20, 8),
            "eight threads run twenty solo fits at once"
        );
        assert!(lanes_pay_off(20, 1));
        assert!(!lanes_pay_off(10, 1));
    }
}
