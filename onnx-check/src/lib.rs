//! Tests only: every layer kind and activation of mixact, exported to ONNX
//! and run in [tract](https://github.com/sonos/tract), must predict what
//! mixact predicts. Run with `cargo test -p mixact-onnx-check` (CI does).
