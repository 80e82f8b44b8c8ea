//! Files: model files (save, load, golden files, model information) and your own CSV data.
//!
//! One test binary per subject (not one per file): each binary links the
//! whole library, so fewer of them build and link faster.

#[path = "../common/mod.rs"]
mod common;

mod cross_validation;
mod model_files;
mod onnx_export;
mod own_data;
