//! ONNX export: a trained network as a file that onnxruntime, tract,
//! TensorRT, browsers and phones run, and that burn and candle import.
//!
//! The graph takes `input` (`batch × inputs`, the network's float type) and
//! gives `output` (`batch × outputs`, what [`Network::predict`] returns: raw
//! scores for a classifier, no softmax). It is written with operator set 13
//! and only plain operators:
//! - dense layers, branches and per-neuron masks: one `MatMul` + `Add` per
//!   block of neurons that share an activation, the activation's operator,
//!   a `Concat`, and a `Gather` back to the layer's own neuron order when the
//!   blocks interleave;
//! - [`Mixture`](crate::Mixture): its blend weights `softmax(α / τ)` become
//!   constants, `Sum_k w_k · f_k(z)`; [`Slope`](crate::Slope): `f(a · z)`;
//!   [`LayerNorm`](crate::LayerNorm): `ReduceMean`, `Sub`, `Sqrt`, `Div`;
//!   [`Dropout`](crate::Dropout): nothing (inference); [`Average`](crate::Average)
//!   (an ensemble as one network): `Sum` of the members, `Div` by their count;
//! - activations: `Relu`, `LeakyRelu`, `Elu`, `Sigmoid`, `Tanh`, `Softplus`,
//!   `Sin`, silu as `x · Sigmoid(x)`, both GELUs from `Tanh` or `Erf`.
//!
//! With [`OnnxOptions::with_info`], the graph is the whole pipeline of
//! [`Network::predict_raw`]: the input scaler becomes its first nodes
//! (`(x - offset) / scale`, so the file takes raw rows), the target scaler
//! its last (`y * scale + offset`, so it gives the targets' units), and the
//! metadata, class and feature names become ONNX metadata properties.
//!
//! A layer kind of your own, or an activation whose
//! [`ActivationSet::builtin`] is `None`, has
//! no rule: the export is an [`Error::Unexportable`] naming the layer.
//!
//! # Example
//! ```
//! use mixact::prelude::*;
//! use mixact::io::OnnxOptions;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let net: Network<Act> = Network::new(vec![
//!     Dense::branches(2, &[(4, Act::Relu), (4, Act::Sin)], &mut rng)?.into(),
//!     Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
//! ])?;
//! let bytes = net.to_onnx_bytes(&OnnxOptions::new())?;
//! assert!(bytes.len() > 100);
//! // net.to_onnx("model.onnx", &OnnxOptions::new())?;
//! # Ok::<(), mixact::Error>(())
//! ```

mod graph;
mod protobuf;
mod rules;

use std::path::Path;

use self::graph::{Elem, Graph, INPUT};
use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::io::ModelInfo;
use crate::layers::layer::Layer;
use crate::layers::network::Network;

/// The largest protocol-buffer message readers accept (2 GiB - 1): an ONNX
/// file with more weights needs ONNX's external-data form, which this
/// export does not write.
const MAX_PROTOBUF: usize = i32::MAX as usize;

/// Refuses a graph whose tensors alone exceed what a protobuf reader
/// accepts, rather than writing a file no runtime can open.
fn check_protobuf_size(tensor_bytes: usize) -> Result<()> {
    // A margin of 1 MiB for the nodes, names and metadata around the tensors.
    if tensor_bytes > MAX_PROTOBUF - (1 << 20) {
        return Err(Error::Unexportable {
            format: "ONNX",
            layer: "the network".into(),
            reason: format!(
                "{tensor_bytes} bytes of weights exceed the 2 GiB a protocol-buffer file may hold \
                 (ONNX's external-data form is not written)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_protobuf_size;

    #[test]
    fn weights_beyond_two_gib_are_refused_not_written() {
        assert!(check_protobuf_size(1 << 30).is_ok());
        assert!(check_protobuf_size(i32::MAX as usize).is_err());
    }
}

/// What goes into an ONNX file besides the network.
#[derive(Debug, Clone, Default)]
pub struct OnnxOptions {
    info: Option<ModelInfo>,
}

impl OnnxOptions {
    /// The network alone: inputs are taken as already scaled.
    pub fn new() -> Self {
        OnnxOptions::default()
    }

    /// Folds `info`'s input and target scalers into the graph (the file then
    /// takes raw rows and gives the targets' units) and writes its metadata
    /// (`key` → `value`), class and feature names (keys `mixact.class_names`
    /// and `mixact.feature_names`, JSON arrays) as ONNX metadata properties.
    pub fn with_info(mut self, info: &ModelInfo) -> Self {
        self.info = Some(info.clone());
        self
    }
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// The network as ONNX bytes (see the [module page](crate::io::onnx)).
    ///
    /// # Errors
    /// [`Error::Unexportable`] for a layer kind or activation without an
    /// ONNX rule; [`Error::Shape`] when the options' scaler does not have one
    /// entry per input (the target scaler: per output);
    /// [`Error::HyperParameter`] for a scaler with a zero, negative or
    /// non-finite entry.
    pub fn to_onnx_bytes(&self, options: &OnnxOptions) -> Result<Vec<u8>> {
        let float = match T::NAME {
            "f32" => Elem::F32,
            _ => Elem::F64,
        };
        // Before any copy: the weights alone decide whether a file can hold them.
        check_protobuf_size(self.param_count().saturating_mul(std::mem::size_of::<T>()))?;
        let mut g = Graph::new(float);
        let mut x = INPUT.to_string();
        let mut metadata = Vec::new();
        if let Some(info) = &options.info {
            if let Some(s) = &info.scaler {
                let scaler = crate::data::Scaler {
                    offset: s.offset.clone(),
                    scale: s.scale.clone(),
                };
                scaler.validate()?;
                if scaler.width() != self.input_width() {
                    return Err(Error::shape(
                        "scaler",
                        (None, Some(self.input_width())),
                        (1, scaler.width()),
                    ));
                }
                let n = scaler.width();
                let offset = g.floats("scaler_offset", &[n], &scaler.offset);
                let scale = g.floats("scaler_scale", &[n], &scaler.scale);
                let centred = g.node("Sub", &[&x, &offset], &[]);
                x = g.node("Div", &[&centred, &scale], &[]);
            }
            for (k, v) in &info.metadata {
                metadata.push((k.clone(), v.clone()));
            }
            for (key, names) in [
                ("mixact.class_names", &info.class_names),
                ("mixact.feature_names", &info.feature_names),
            ] {
                if let Some(names) = names {
                    let json = serde_json::to_string(names).map_err(|e| Error::Format {
                        location: key.into(),
                        message: e.to_string(),
                    })?;
                    metadata.push((key.to_string(), json));
                }
            }
        }
        let mut last = rules::layer(&mut g, self as &dyn Layer<A, T>, "", x)?;
        if let Some(s) = options.info.as_ref().and_then(ModelInfo::target_scaler) {
            s.validate()?;
            if s.width() != self.output_width() {
                return Err(Error::shape(
                    "target scaler",
                    (None, Some(self.output_width())),
                    (1, s.width()),
                ));
            }
            let n = s.width();
            let scale = g.floats("target_scale", &[n], &s.scale);
            let offset = g.floats("target_offset", &[n], &s.offset);
            let stretched = g.node("Mul", &[&last, &scale], &[]);
            last = g.node("Add", &[&stretched, &offset], &[]);
        }
        check_protobuf_size(g.tensor_bytes())?;
        Ok(g.into_model(
            &last,
            self.input_width(),
            self.output_width(),
            &self.describe(),
            &metadata,
        ))
    }

    /// Writes the network as an ONNX file at `path`, atomically: a failed
    /// export or write leaves an existing file as it was.
    ///
    /// # Errors
    /// As [`to_onnx_bytes`](Self::to_onnx_bytes); [`Error::Io`] when the
    /// file cannot be written.
    pub fn to_onnx(&self, path: impl AsRef<Path>, options: &OnnxOptions) -> Result<()> {
        let bytes = self.to_onnx_bytes(options)?;
        crate::atomic_write::write_atomically(path.as_ref(), &bytes)
    }
}
