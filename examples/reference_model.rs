//! Writes a model of every layer kind (with input and target scalers), raw
//! inputs and Rust's predictions for them (`predict_raw`) into a folder, for
//! `python/mixact_numpy.py --check DIR`, the reference reader in numpy.
//! Also writes `DIR/hostile/`: model files the Rust loader refuses, and
//! `expected.csv` with the reason it gives for each, which the numpy reader
//! must give too. `DIR/model.onnx` is the same network exported to ONNX,
//! for `python/check_onnx.py` (onnxruntime).
//!
//! ```sh
//! cargo run --release --example reference_model -- target/reference
//! ```
//!
//! With `--kinds FILE...` it writes nothing and prints, per file, `FILE,KIND`:
//! the kind of error the Rust loader gives (or `accepted`), for
//! `python/diff_reader.py`, which mutates the reference model's header at
//! random and checks that both readers agree on every mutant.

use mixact::data::Scaler;
use mixact::io::ModelInfo;
use mixact::prelude::*;

fn main() -> Result<(), mixact::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--kinds") {
        for path in &args[1..] {
            let kind = match mixact::io::ModelLoader::<Act>::new().from_path(path) {
                Ok(_) => "accepted".to_string(),
                Err(mixact::Error::Model { kind, .. }) => format!("{kind:?}"),
                Err(e) => format!("error: {e}"),
            };
            println!("{path},{kind}");
        }
        return Ok(());
    }
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "target/reference".into());
    std::fs::create_dir_all(&dir).map_err(|e| mixact::Error::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let mut r = ChaCha8Rng::seed_from_u64(11);
    let every = Act::ALL;
    let branch = |a: Act, r: &mut ChaCha8Rng| -> Result<Network<Act>, mixact::Error> {
        Network::new(vec![
            Dense::new(8, 4, a, r)?.into(),
            LayerNorm::new(4)?.into(),
        ])
    };
    let concat = Concat::of_networks(vec![branch(Act::Relu, &mut r)?, branch(Act::Sin, &mut r)?])?;
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(3, &mask::pattern(&every, 11)?, &mut r)?.into(),
        Mixture::new(11, 6, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)?
            .with_temperature(0.7)?
            .into(),
        Slope::new(6, 8, Act::Tanh, &mut r)?.into(),
        // Jagtap's adaptive slope shared by the layer, and a SIREN layer:
        // the optional scale, shared and trained fields every reader must know
        Slope::adaptive(8, 8, Act::Tanh, 10.0, false, &mut r)?.into(),
        Slope::siren(8, 8, Act::Sin, 3.0, false, &mut r)?.into(),
        Average::new(vec![
            Dense::new(8, 8, Act::Relu, &mut r)?.into(),
            Dense::new(8, 8, Act::Sigmoid, &mut r)?.into(),
        ])?
        .into(),
        Dropout::new(8, 0.3, 1)?.into(),
        concat.into(),
        Dense::new(8, 2, Act::Identity, &mut r)?.into(),
    ])?;
    let raw = DMatrix::from_fn(16, 3, |i, j| {
        (i as f32 * 0.37 + j as f32 * 1.3).sin() * 5.0 + 2.0
    });
    let scaler = Scaler::standardize(&raw);
    // A target scaler too (targets in the thousands, say), so that readers
    // must take the whole pipeline from raw rows to the targets' units.
    let target_scaler = Scaler {
        offset: vec![1000.0, -5.0],
        scale: vec![250.0, 0.5],
    };
    let info = ModelInfo::default()
        .with_scaler(scaler.clone())
        .with_target_scaler(target_scaler)
        .with_feature_names(&["a", "b", "c"])
        .with_metadata("purpose", "reference for the numpy reader");
    net.save_with(format!("{dir}/model.safetensors"), &info)?;
    // The same network and scaler as ONNX, for python/check_onnx.py (onnxruntime).
    net.to_onnx(
        format!("{dir}/model.onnx"),
        &mixact::io::OnnxOptions::new().with_info(&info),
    )?;
    let out = net.predict_raw(&info, &raw)?;
    let csv = |m: &DMatrix<f32>| {
        (0..m.nrows())
            .map(|i| {
                m.row(i)
                    .iter()
                    .map(|v| format!("{v:e}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    for (name, m) in [("inputs.csv", &raw), ("outputs.csv", &out)] {
        std::fs::write(format!("{dir}/{name}"), csv(m)).map_err(|e| mixact::Error::Io {
            path: format!("{dir}/{name}"),
            message: e.to_string(),
        })?;
    }
    println!("wrote {dir}/model.safetensors, model.onnx, inputs.csv, outputs.csv");
    write_hostile(&format!("{dir}/hostile"))
}

/// A small valid model file (2 inputs, 3 outputs, a scaler) to mutate.
fn base_model() -> Result<Vec<u8>, mixact::Error> {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(2, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)?.into(),
        Dense::new(3, 3, Act::Identity, &mut r)?.into(),
    ])?;
    let x = DMatrix::from_row_slice(2, 2, &[1.0f32, 10.0, 3.0, 30.0]);
    let info = ModelInfo::default()
        .with_scaler(Scaler::standardize(&x))
        .with_class_names(&["a", "b", "c"]);
    net.to_model_bytes_with(&info)
}

/// The file's header JSON, with the mixact metadata parsed too.
fn split(bytes: &[u8]) -> (serde_json::Value, serde_json::Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta = header["__metadata__"]["mixact"].as_str().unwrap();
    let arch = serde_json::from_str(meta).unwrap();
    (header, arch, bytes[8 + n..].to_vec())
}

fn join(mut header: serde_json::Value, arch: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    header["__metadata__"]["mixact"] = serde_json::Value::String(arch.to_string());
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

/// The base model with its architecture changed by `edit`.
fn with_arch(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Vec<u8>, mixact::Error> {
    let (header, mut arch, data) = split(&base_model()?);
    edit(&mut arch);
    Ok(join(header, &arch, &data))
}

/// A safetensors container of `header` (JSON) and `data`, as written by
/// anything: the 8-byte little-endian header length, the header, the data.
fn container(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn write_hostile(dir: &str) -> Result<(), mixact::Error> {
    use serde_json::json;
    let io = |e: std::io::Error| mixact::Error::Io {
        path: dir.to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut nan_weight = base_model()?;
    let (header, arch, mut data) = split(&nan_weight);
    data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    nan_weight = join(header, &arch, &data);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "short_activation_list",
            with_arch(|a| {
                a["network"][0]["activations"] = json!(["relu", "tanh"]);
            })?,
        ),
        (
            "unknown_activation",
            with_arch(|a| {
                a["network"][0]["activations"] = json!(["relu", "tanh", "swish9"]);
            })?,
        ),
        (
            "one_entry_scaler",
            with_arch(|a| {
                a["info"]["scaler"] = json!({"offset": [0.0], "scale": [1.0]});
            })?,
        ),
        (
            "zero_scale",
            with_arch(|a| {
                a["info"]["scaler"]["scale"] = json!([1.0, 0.0]);
            })?,
        ),
        (
            "negative_scale",
            with_arch(|a| {
                a["info"]["scaler"]["scale"] = json!([1.0, -2.0]);
            })?,
        ),
        (
            "class_names_for_other_outputs",
            with_arch(|a| {
                a["info"]["class_names"] = json!(["a", "b"]);
            })?,
        ),
        (
            "format_version_99",
            with_arch(|a| a["version"] = json!(99))?,
        ),
        ("format_version_0", with_arch(|a| a["version"] = json!(0))?),
        ("float_f16", with_arch(|a| a["float"] = json!("f16"))?),
        (
            "float_f64_with_f32_tensors",
            with_arch(|a| a["float"] = json!("f64"))?,
        ),
        ("not_mixact", with_arch(|a| a["format"] = json!("other"))?),
        (
            "unknown_layer_kind",
            with_arch(|a| a["network"][1]["kind"] = json!("conv"))?,
        ),
        (
            "widths_that_do_not_chain",
            with_arch(|a| {
                a["network"][1]["inputs"] = json!(4);
            })?,
        ),
        (
            "target_scaler_of_the_wrong_width",
            with_arch(|a| {
                a["version"] = json!(3);
                a["info"]["target_scaler"] = json!({"offset": [0.0], "scale": [1.0]});
            })?,
        ),
        (
            "target_scaler_with_a_zero_scale",
            with_arch(|a| {
                a["version"] = json!(3);
                a["info"]["target_scaler"] =
                    json!({"offset": [0.0, 0.0, 0.0], "scale": [1.0, 0.0, 1.0]});
            })?,
        ),
        (
            "feature_names_of_the_wrong_count",
            with_arch(|a| {
                a["version"] = json!(3);
                a["info"]["feature_names"] = json!(["x"]);
            })?,
        ),
        (
            "version_2_with_feature_names",
            with_arch(|a| {
                a["info"]["feature_names"] = json!(["x", "y"]);
            })?,
        ),
        (
            "activation_list_holding_a_list",
            with_arch(|a| {
                a["network"][0]["activations"][1] = json!(["relu"]);
            })?,
        ),
        ("info_not_an_object", with_arch(|a| a["info"] = json!([1]))?),
        (
            "nested_beyond_the_json_depth_limit",
            with_arch(|a| {
                let mut spec = a["network"][0].take();
                for _ in 0..70 {
                    spec = json!({"kind": "sequential", "layers": [spec]});
                }
                a["network"][0] = spec;
            })?,
        ),
        (
            "a_name_longer_than_the_text_limit",
            with_arch(|a| {
                let long = "x".repeat(mixact::io::MAX_INFO_TEXT + 2048);
                a["network"][0]["activations"][0] = json!(long);
            })?,
        ),
        ("version_as_text", with_arch(|a| a["version"] = json!("3"))?),
        (
            "temperature_beyond_f32",
            with_arch(|a| a["network"][1]["temperature"] = json!(1e308))?,
        ),
        ("nan_weight", nan_weight),
        ("truncated", base_model()?[..100].to_vec()),
        ("trailing_bytes", [base_model()?, b"xyz".to_vec()].concat()),
        ("tensor_entry_not_an_object", container(r#"{"x":5}"#, &[])),
        (
            "data_declared_beyond_the_file",
            container(
                r#"{"x":{"dtype":"F32","shape":[288230376151711744],"data_offsets":[0,1152921504606846976]}}"#,
                &[0; 16],
            ),
        ),
        (
            "more_tensors_than_the_limit",
            container(
                &format!(
                    "{{{}}}",
                    (0..mixact::limits::MAX_TENSORS + 8)
                        .map(|i| format!(
                            r#""t{i}":{{"dtype":"F32","shape":[1],"data_offsets":[{},{}]}}"#,
                            4 * i,
                            4 * i + 4
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                &vec![0; 4 * (mixact::limits::MAX_TENSORS + 8)],
            ),
        ),
        (
            "three_data_offsets",
            container(
                r#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
                &[0; 8],
            ),
        ),
    ];
    let mut expected = String::from("file,kind\n");
    for (name, bytes) in cases {
        let kind = match mixact::io::ModelLoader::<Act>::new().from_bytes(&bytes) {
            Ok(_) => panic!("the Rust loader accepts the hostile file {name}"),
            Err(mixact::Error::Model { kind, .. }) => format!("{kind:?}"),
            Err(e) => panic!("{name}: not a model error: {e}"),
        };
        std::fs::write(format!("{dir}/{name}.safetensors"), &bytes).map_err(io)?;
        expected.push_str(&format!("{name}.safetensors,{kind}\n"));
    }
    // An endless source: both readers must stop at its (empty) header.
    #[cfg(unix)]
    {
        let path = format!("{dir}/endless.safetensors");
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink("/dev/zero", &path).map_err(io)?;
        let kind = match mixact::io::ModelLoader::<Act>::new().from_path(&path) {
            Err(mixact::Error::Model { kind, .. }) => format!("{kind:?}"),
            other => panic!("endless file: not a model error: {other:?}"),
        };
        expected.push_str(&format!("endless.safetensors,{kind}\n"));
    }
    std::fs::write(format!("{dir}/expected.csv"), expected).map_err(io)?;
    println!("wrote {dir}/: hostile model files and the Rust loader's reasons");
    Ok(())
}
