//! Probes of trained networks: what each activation group does (flat
//! fraction, ablation), and the network's output over the input plane.

use nalgebra::DMatrix;

use super::results::{GroupStat, SurfacePoint};
use super::task::{PlotKind, Task};
use mixact::evaluate;
use mixact::ActivationSet;
use mixact::Dense;
use mixact::Loss;
use mixact::Network;
use mixact::Result;

pub(super) fn metric_of(m: mixact::metrics::Metrics, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => m.loss,
        Loss::BceWithLogits | Loss::SoftmaxCrossEntropy => m.accuracy.unwrap_or(f64::NAN),
    }
}

/// Zeroes rows `rows` of the first weight tensor of `layer`, runs `f`, restores them.
fn with_rows_zeroed<A: ActivationSet, R>(
    net: &mut Network<A, f32>,
    layer: usize,
    rows: &[usize],
    f: impl FnOnce(&mut Network<A, f32>) -> R,
) -> R {
    let inputs = net.layers()[layer].input_width();
    let mut saved = Vec::new();
    let mut first = true;
    net.layers_mut()[layer].visit_params(&mut |p| {
        if std::mem::take(&mut first) {
            for (k, v) in p.value.iter_mut().enumerate() {
                if rows.contains(&(k % inputs)) {
                    saved.push((k, *v));
                    *v = 0.0;
                }
            }
        }
    });
    let out = f(net);
    let mut first = true;
    net.layers_mut()[layer].visit_params(&mut |p| {
        if std::mem::take(&mut first) {
            for &(k, v) in &saved {
                p.value[k] = v;
            }
        }
    });
    out
}

pub(super) fn group_stats<A: ActivationSet>(
    net: &mut Network<A, f32>,
    task: &Task,
    config: &str,
    seed: u64,
    test: &mixact::data::Dataset,
    base_score: f64,
) -> Result<Vec<GroupStat>> {
    let mut out = Vec::new();
    let hidden = net.layers().len() - 1;
    net.predict(test.x())?;
    for l in 0..hidden {
        let layer: &dyn std::any::Any = net.layers()[l].as_ref();
        let Some(dense) = layer.downcast_ref::<Dense<A, f32>>() else {
            continue;
        };
        let mask = dense.mask().to_vec();
        let mut groups: Vec<A> = Vec::new();
        for &a in &mask {
            if !groups.contains(&a) {
                groups.push(a);
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let input: DMatrix<f32> = if l == 0 {
            test.x().clone()
        } else {
            net.layers()[l - 1].output().into_owned()
        };
        let z = &input * dense.weight();
        let bias = dense.bias();
        let mut stats = Vec::new();
        for &g in &groups {
            let members: Vec<usize> = (0..mask.len()).filter(|&j| mask[j] == g).collect();
            let mut flat = 0usize;
            for &j in &members {
                for i in 0..z.nrows() {
                    let zi = z[(i, j)] + bias[j];
                    if g.derivative(zi, g.value(zi)).abs() < 0.01 {
                        flat += 1;
                    }
                }
            }
            stats.push((g, members, flat as f64 / (z.nrows() as f64)));
        }
        for (g, members, flat_per_sample) in stats {
            let ablated =
                with_rows_zeroed(net, l + 1, &members, |n| evaluate(n, test, task.loss()))?;
            let drop = base_score - task.metric().score(metric_of(ablated, task.loss()));
            out.push(GroupStat {
                task: task.name().into(),
                config: config.into(),
                seed,
                layer: l,
                activation: g.name().into(),
                neurons: members.len(),
                flat_fraction: flat_per_sample / members.len() as f64,
                ablation_drop: drop,
            });
        }
        net.predict(test.x())?;
    }
    Ok(out)
}

pub(super) fn surfaces<A: ActivationSet>(
    net: &mut Network<A, f32>,
    task: &Task,
    config: &str,
) -> Result<Vec<SurfacePoint>> {
    let point = |x: f64, y: f64, value: f64| SurfacePoint {
        task: task.name().into(),
        config: config.into(),
        x,
        y,
        value,
    };
    match task.plot() {
        PlotKind::Regions2d => {
            let n = 64;
            let coord = |i: usize| -1.2 + 2.4 * i as f64 / (n - 1) as f64;
            let x = DMatrix::from_fn(n * n, 2, |k, c| {
                if c == 0 {
                    coord(k % n) as f32
                } else {
                    coord(k / n) as f32
                }
            });
            let y = net.predict(&x)?;
            Ok((0..n * n)
                .map(|k| {
                    point(
                        coord(k % n),
                        coord(k / n),
                        1.0 / (1.0 + (-(y[(k, 0)] as f64)).exp()),
                    )
                })
                .collect())
        }
        PlotKind::Curve1d { range_centi } => {
            let r = range_centi as f64 / 100.0;
            let n = 200;
            let xs: Vec<f64> = (0..n)
                .map(|i| -r + 2.0 * r * i as f64 / (n - 1) as f64)
                .collect();
            let x = DMatrix::from_fn(n, 1, |i, _| xs[i] as f32);
            let y = net.predict(&x)?;
            Ok(xs
                .iter()
                .enumerate()
                .map(|(i, &v)| point(v, 0.0, y[(i, 0)] as f64))
                .collect())
        }
        PlotKind::None => Ok(Vec::new()),
    }
}
