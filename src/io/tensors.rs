//! A network's tensors: written from its layers' specs, read back into
//! layers through the registry with every shape checked.

use std::collections::HashMap;

use safetensors::tensor::Dtype;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::{ModelErrorKind, Result};
use crate::layers::layer::{BoxedLayer, Layer};
use crate::layers::registry::Registry;
use crate::layers::spec::{LayerConfig, TensorSource};

use super::header::{RawSpec, SpecNode};
use super::model_error;
use super::safetensors_header::{Dtype as FileDtype, TensorEntry};
use super::LoadOptions;

pub(super) fn dtype_of<T: Real>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// A tensor to be written: name, shape and little-endian bytes.
pub(super) struct OutTensor {
    pub(super) name: String,
    pub(super) shape: Vec<usize>,
    pub(super) bytes: Vec<u8>,
}

pub(super) fn tensor_bytes<T: Real>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * if T::NAME == "f32" { 4 } else { 8 });
    for v in values {
        if T::NAME == "f32" {
            out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    out
}

/// Describes `layer` (and its sub-layers) and appends its tensors under `prefix`.
pub(super) fn describe<A: ActivationSet, T: Real>(
    layer: &dyn Layer<A, T>,
    prefix: &str,
    out: &mut Vec<OutTensor>,
) -> Result<SpecNode> {
    let spec = layer.spec().ok_or_else(|| {
        model_error(
            ModelErrorKind::UnsupportedLayer,
            format!("{prefix}: {} describes no spec", layer.describe()),
        )
    })?;
    for t in &spec.tensors {
        out.push(OutTensor {
            name: format!("{prefix}{}", t.name),
            shape: t.shape.clone(),
            bytes: tensor_bytes(&t.values),
        });
    }
    let children = match layer.sublayers() {
        None => None,
        Some((key, subs)) => Some((
            key,
            subs.iter()
                .enumerate()
                .map(|(i, c)| describe(c.as_ref(), &format!("{prefix}{key}.{i}."), out))
                .collect::<Result<_>>()?,
        )),
    };
    Ok(SpecNode {
        kind: spec.kind,
        config: spec.config,
        children,
    })
}

/// Reads tensors by path, checking dtype, shape and values, and counts those used.
pub(super) struct FileTensors<'a> {
    pub(super) file: &'a [TensorEntry<'a>],
    pub(super) by_name: HashMap<&'a str, usize>,
    pub(super) prefix: String,
    pub(super) used: usize,
    pub(super) options: LoadOptions,
}

impl<T: Real> TensorSource<T> for FileTensors<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        let name = format!("{}{name}", self.prefix);
        let view = self
            .by_name
            .get(name.as_str())
            .map(|&i| &self.file[i])
            .ok_or_else(|| {
                model_error(
                    ModelErrorKind::InconsistentShape,
                    format!("missing tensor {name}"),
                )
            })?;
        let want = if T::NAME == "f32" {
            FileDtype::F32
        } else {
            FileDtype::F64
        };
        if view.dtype != want {
            return Err(model_error(
                ModelErrorKind::WrongFloatType,
                format!("{name} is {}, expected {}", view.dtype.name(), T::NAME),
            ));
        }
        if view.shape != shape {
            return Err(model_error(
                ModelErrorKind::InconsistentShape,
                format!("{name} has shape {:?}, expected {shape:?}", view.shape),
            ));
        }
        self.used += 1;
        let values: Vec<T> = if T::NAME == "f32" {
            view.data
                .chunks_exact(4)
                .map(|b| T::lit(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
                .collect()
        } else {
            view.data
                .chunks_exact(8)
                .map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    T::lit(f64::from_le_bytes(a))
                })
                .collect()
        };
        if !self.options.allow_non_finite {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(model_error(
                    ModelErrorKind::NonFinite,
                    format!("{name}[{i}] is {}", values[i]),
                ));
            }
        }
        Ok(values)
    }
}

/// Rebuilds one layer (its sub-layers first) through the registry.
pub(super) fn build<A: ActivationSet, T: Real>(
    spec: RawSpec,
    prefix: &str,
    src: &mut FileTensors<'_>,
    registry: &Registry<A, T>,
) -> Result<BoxedLayer<A, T>> {
    let builder = registry.builder(&spec.kind).ok_or_else(|| {
        model_error(
            ModelErrorKind::Malformed,
            format!(
                "{prefix}: unknown layer kind \"{}\" (not registered)",
                spec.kind
            ),
        )
    })?;
    let mut children = Vec::new();
    if let Some((key, subs)) = spec.children {
        for (i, c) in subs.into_iter().enumerate() {
            children.push(build(c, &format!("{prefix}{key}.{i}."), src, registry)?);
        }
    }
    let config = LayerConfig::new(spec.kind, prefix.to_string(), spec.fields);
    src.prefix = prefix.to_string();
    builder(&config, src, children)
}
