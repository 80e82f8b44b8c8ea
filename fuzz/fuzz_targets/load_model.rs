//! Fuzz the model loader: any bytes must give `Ok` or `Err`, never a panic,
//! in either float type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mixact::{Act, LoadOptions, Network};

fuzz_target!(|data: &[u8]| {
    let _ = Network::<Act, f32>::from_model_bytes(data, LoadOptions::default());
    let _ = Network::<Act, f64>::from_model_bytes(data, LoadOptions { allow_non_finite: true });
});
