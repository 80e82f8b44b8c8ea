//! How each built-in layer kind and activation is written as ONNX operators.
//!
//! Layers are read through what they say about themselves ([`Layer::spec`]
//! and [`Layer::sublayers`]), as the model file reads them, so the export
//! sees exactly what a saved model holds. A kind or an activation without a
//! rule here is an [`Error::Unexportable`] naming it.

use super::graph::{Attr, Graph};
use crate::compute::activation::{Act, ActivationSet};
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::layer::Layer;
use crate::layers::spec::{ConfigValue, LayerSpec};

fn unexportable(path: &str, reason: String) -> Error {
    Error::Unexportable {
        format: "ONNX",
        layer: if path.is_empty() {
            "the network".to_string()
        } else {
            path.trim_end_matches('.').to_string()
        },
        reason,
    }
}

/// The nodes computing `layer` on the value `x`; returns the output's name.
/// `path` is the layer's place in the network (`"layers.1."`).
pub(crate) fn layer<A: ActivationSet, T: Real>(
    g: &mut Graph,
    layer: &dyn Layer<A, T>,
    path: &str,
    x: String,
) -> Result<String> {
    let Some(spec) = layer.spec() else {
        return Err(unexportable(
            path,
            format!("\"{}\" describes no spec", layer.describe()),
        ));
    };
    let read = Spec { spec: &spec, path };
    match spec.kind {
        "sequential" | "concat" | "average" => {
            let Some((key, subs)) = layer.sublayers() else {
                return Err(unexportable(
                    path,
                    format!("{} without sub-layers", spec.kind),
                ));
            };
            let mut outs = Vec::with_capacity(subs.len());
            let mut v = x.clone();
            for (i, sub) in subs.iter().enumerate() {
                let sub_path = format!("{path}{key}.{i}.");
                if spec.kind == "sequential" {
                    v = self::layer(g, sub.as_ref(), &sub_path, v)?;
                } else {
                    outs.push(self::layer(g, sub.as_ref(), &sub_path, x.clone())?);
                }
            }
            if spec.kind == "sequential" {
                return Ok(v);
            }
            let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
            if spec.kind == "average" {
                // Summed in member order, then divided, as the layer does.
                let sum = g.node("Sum", &refs, &[]);
                let k = g.scalar("members", outs.len() as f64);
                return Ok(g.node("Div", &[&sum, &k], &[]));
            }
            Ok(g.node("Concat", &refs, &[("axis", Attr::Int(1))]))
        }
        "dropout" => Ok(x),
        "dense" => {
            let acts = read.activations::<A>("activations")?;
            dense(g, &read, &x, &acts)
        }
        "slope" => {
            let act = read.activation::<A>("activation")?;
            let z = affine(g, &read, &x, None)?;
            let (_, slope) = read.tensor("slope")?;
            // The slope a neuron uses is scale · a (a shared by the layer
            // when there is one); ONNX gets the products, one per neuron.
            let scale = if read.spec.config.iter().any(|(k, _)| *k == "scale") {
                read.float("scale")?
            } else {
                1.0
            };
            let slope: Vec<f64> = slope.iter().map(|a| scale * a).collect();
            let slope = g.floats("slope", &[slope.len()], &slope);
            let scaled = g.node("Mul", &[&z, &slope], &[]);
            activation(g, act, scaled)
        }
        "mixture" => mixture::<A, T>(g, &read, &x),
        "layer_norm" => layer_norm(g, &read, x),
        other => Err(unexportable(
            path,
            format!("layer kind \"{other}\" has no ONNX rule (only the built-in kinds export)"),
        )),
    }
}

/// A spec, read with the layer's path in every error.
struct Spec<'a, T> {
    spec: &'a LayerSpec<T>,
    path: &'a str,
}

impl<T: Real> Spec<'_, T> {
    fn config(&self, key: &str) -> Result<&ConfigValue> {
        self.spec
            .config
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| unexportable(self.path, format!("spec without \"{key}\"")))
    }

    fn float(&self, key: &str) -> Result<f64> {
        match self.config(key)? {
            ConfigValue::Float(f) => Ok(*f),
            _ => Err(unexportable(
                self.path,
                format!("\"{key}\" is not a number"),
            )),
        }
    }

    fn builtin<A: ActivationSet>(&self, name: &str) -> Result<Act> {
        A::from_name(name)
            .and_then(ActivationSet::builtin)
            .ok_or_else(|| {
                unexportable(
                    self.path,
                    format!(
                        "activation \"{name}\" has no ONNX rule (an activation of your own \
                         exports when its `builtin()` names the built-in it computes)"
                    ),
                )
            })
    }

    fn activation<A: ActivationSet>(&self, key: &str) -> Result<Act> {
        match self.config(key)? {
            ConfigValue::Str(name) => self.builtin::<A>(name),
            _ => Err(unexportable(self.path, format!("\"{key}\" is not a name"))),
        }
    }

    fn activations<A: ActivationSet>(&self, key: &str) -> Result<Vec<Act>> {
        match self.config(key)? {
            ConfigValue::Names(list) => list.iter().map(|n| self.builtin::<A>(n)).collect(),
            _ => Err(unexportable(self.path, format!("\"{key}\" is not a list"))),
        }
    }

    /// A tensor's shape and values (as `f64`, exact for `f32` and `f64`).
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        let t = self
            .spec
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| unexportable(self.path, format!("spec without tensor \"{name}\"")))?;
        // A layer of your own may describe itself as a built-in kind: its
        // tensors are checked, never indexed on trust.
        if t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(t.values.len()) {
            return Err(unexportable(
                self.path,
                format!(
                    "tensor \"{name}\" holds {} values for shape {:?}",
                    t.values.len(),
                    t.shape
                ),
            ));
        }
        Ok((
            t.shape.clone(),
            t.values.iter().map(|v| v.as_f64()).collect(),
        ))
    }
}

/// `x W^T + b` over the neurons `rows` (all when `None`), from the spec's
/// `weight` (`[out, in]`) and `bias`.
fn affine<T: Real>(
    g: &mut Graph,
    spec: &Spec<'_, T>,
    x: &str,
    rows: Option<&[usize]>,
) -> Result<String> {
    let (shape, w) = spec.tensor("weight")?;
    let (_, b) = spec.tensor("bias")?;
    let [outputs, inputs] = shape[..] else {
        return Err(unexportable(
            spec.path,
            "weight is not two-dimensional".into(),
        ));
    };
    if b.len() != outputs {
        return Err(unexportable(
            spec.path,
            format!("{} biases for {outputs} neurons", b.len()),
        ));
    }
    let all: Vec<usize> = (0..outputs).collect();
    let rows = rows.unwrap_or(&all);
    if rows.iter().any(|&o| o >= outputs) {
        return Err(unexportable(
            spec.path,
            format!("more activations than the {outputs} neurons"),
        ));
    }
    // MatMul wants `[in, out]`: the transpose of the stored `[out, in]`.
    let mut wt = Vec::with_capacity(inputs * rows.len());
    for i in 0..inputs {
        wt.extend(rows.iter().map(|&o| w[o * inputs + i]));
    }
    let bias: Vec<f64> = rows.iter().map(|&o| b[o]).collect();
    let w = g.floats("weight", &[inputs, rows.len()], &wt);
    let b = g.floats("bias", &[rows.len()], &bias);
    let xw = g.node("MatMul", &[x, &w], &[]);
    Ok(g.node("Add", &[&xw, &b], &[]))
}

/// A dense layer: one affine block per activation (neurons grouped as the
/// layer itself groups them), concatenated, then gathered back to the
/// neurons' own order when the groups interleave.
fn dense<T: Real>(g: &mut Graph, spec: &Spec<'_, T>, x: &str, acts: &[Act]) -> Result<String> {
    let neurons = spec
        .spec
        .tensors
        .iter()
        .find(|t| t.name == "weight")
        .and_then(|t| t.shape.first().copied());
    if neurons != Some(acts.len()) {
        return Err(unexportable(
            spec.path,
            format!("{} activations for {neurons:?} neurons", acts.len()),
        ));
    }
    let mut groups: Vec<(Act, Vec<usize>)> = Vec::new();
    for (n, &a) in acts.iter().enumerate() {
        match groups.iter_mut().find(|(b, _)| *b == a) {
            Some((_, rows)) => rows.push(n),
            None => groups.push((a, vec![n])),
        }
    }
    if groups.len() <= 1 {
        let z = affine(g, spec, x, None)?;
        return match groups.first() {
            Some(&(a, _)) => activation(g, a, z),
            None => Ok(z),
        };
    }
    let mut blocks = Vec::with_capacity(groups.len());
    for (a, rows) in &groups {
        let z = affine(g, spec, x, Some(rows))?;
        blocks.push(activation(g, *a, z)?);
    }
    let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
    let joined = g.node("Concat", &refs, &[("axis", Attr::Int(1))]);
    // Column c of `joined` is neuron order[c]; neuron n sits at column where[n].
    let order: Vec<usize> = groups.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    if order.iter().enumerate().all(|(c, &n)| c == n) {
        return Ok(joined);
    }
    let mut place = vec![0; order.len()];
    for (c, &n) in order.iter().enumerate() {
        place[n] = c;
    }
    let idx = g.indices("neuron_order", &place);
    Ok(g.node("Gather", &[&joined, &idx], &[("axis", Attr::Int(1))]))
}

/// A mixture: `Σ_k softmax(α_n / τ)_k · f_k(z_n)`, the blend weights
/// computed here (in `f64`) and stored as one constant per candidate.
fn mixture<A: ActivationSet, T: Real>(
    g: &mut Graph,
    spec: &Spec<'_, T>,
    x: &str,
) -> Result<String> {
    let cands = spec.activations::<A>("candidates")?;
    let tau = spec.float("temperature")?;
    let (shape, alpha) = spec.tensor("alpha")?;
    let [outputs, k] = shape[..] else {
        return Err(unexportable(
            spec.path,
            "alpha is not two-dimensional".into(),
        ));
    };
    if k != cands.len() || tau <= 0.0 {
        return Err(unexportable(
            spec.path,
            "alpha or temperature does not fit the candidates".into(),
        ));
    }
    let z = affine(g, spec, x, None)?;
    let mut weights = vec![vec![0.0; outputs]; k];
    for n in 0..outputs {
        let row = &alpha[n * k..(n + 1) * k];
        let top = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v / tau));
        let e: Vec<f64> = row.iter().map(|&v| (v / tau - top).exp()).collect();
        let sum: f64 = e.iter().sum();
        for (j, ej) in e.iter().enumerate() {
            weights[j][n] = ej / sum;
        }
    }
    let mut terms = Vec::with_capacity(k);
    for (a, w) in cands.iter().zip(&weights) {
        let y = activation(g, *a, z.clone())?;
        let w = g.floats("blend", &[outputs], w);
        terms.push(g.node("Mul", &[&y, &w], &[]));
    }
    let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
    Ok(g.node("Sum", &refs, &[]))
}

/// `(x - mean) / sqrt(var + eps) · gain + bias` over each row.
fn layer_norm<T: Real>(g: &mut Graph, spec: &Spec<'_, T>, x: String) -> Result<String> {
    let eps = spec.float("eps")?;
    let (_, gain) = spec.tensor("gain")?;
    let (_, bias) = spec.tensor("bias")?;
    let axes = [("axes", Attr::Ints(&[1])), ("keepdims", Attr::Int(1))];
    let mean = g.node("ReduceMean", &[&x], &axes);
    let d = g.node("Sub", &[&x, &mean], &[]);
    let d2 = g.node("Mul", &[&d, &d], &[]);
    let var = g.node("ReduceMean", &[&d2], &axes);
    let eps = g.scalar("eps", eps);
    let var_eps = g.node("Add", &[&var, &eps], &[]);
    let sd = g.node("Sqrt", &[&var_eps], &[]);
    let xhat = g.node("Div", &[&d, &sd], &[]);
    let gain = g.floats("gain", &[gain.len()], &gain);
    let bias = g.floats("bias", &[bias.len()], &bias);
    let scaled = g.node("Mul", &[&xhat, &gain], &[]);
    Ok(g.node("Add", &[&scaled, &bias], &[]))
}

/// `act(z)`, written with operators every runtime has.
pub(crate) fn activation(g: &mut Graph, act: Act, z: String) -> Result<String> {
    Ok(match act {
        Act::Identity => z,
        Act::Relu => g.node("Relu", &[&z], &[]),
        Act::LeakyRelu => g.node("LeakyRelu", &[&z], &[("alpha", Attr::Float(0.01))]),
        Act::Elu => g.node("Elu", &[&z], &[("alpha", Attr::Float(1.0))]),
        Act::Sigmoid => g.node("Sigmoid", &[&z], &[]),
        Act::Tanh => g.node("Tanh", &[&z], &[]),
        Act::Softplus => g.node("Softplus", &[&z], &[]),
        Act::Sin => g.node("Sin", &[&z], &[]),
        Act::Square => g.node("Mul", &[&z, &z], &[]),
        Act::Silu => {
            let s = g.node("Sigmoid", &[&z], &[]);
            g.node("Mul", &[&z, &s], &[])
        }
        Act::Gelu => {
            // 0.5 z (1 + tanh(sqrt(2/π) (z + 0.044715 z³)))
            let c = g.scalar("gelu_c", (2.0 / std::f64::consts::PI).sqrt());
            let k = g.scalar("gelu_k", 0.044715);
            let z2 = g.node("Mul", &[&z, &z], &[]);
            let z3 = g.node("Mul", &[&z2, &z], &[]);
            let kz3 = g.node("Mul", &[&z3, &k], &[]);
            let inner = g.node("Add", &[&z, &kz3], &[]);
            let scaled = g.node("Mul", &[&inner, &c], &[]);
            let t = g.node("Tanh", &[&scaled], &[]);
            half_z_times_one_plus(g, &z, &t)
        }
        Act::GeluErf => {
            // 0.5 z (1 + erf(z / sqrt 2))
            let r = g.scalar("gelu_r", std::f64::consts::FRAC_1_SQRT_2);
            let zr = g.node("Mul", &[&z, &r], &[]);
            let e = g.node("Erf", &[&zr], &[]);
            half_z_times_one_plus(g, &z, &e)
        }
    })
}

/// `0.5 z (1 + t)`.
fn half_z_times_one_plus(g: &mut Graph, z: &str, t: &str) -> String {
    let one = g.scalar("one", 1.0);
    let half = g.scalar("half", 0.5);
    let t1 = g.node("Add", &[t, &one], &[]);
    let hz = g.node("Mul", &[z, &half], &[]);
    g.node("Mul", &[&hz, &t1], &[])
}
