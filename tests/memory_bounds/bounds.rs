//! Memory stays bounded on hostile input: model files whose headers declare
//! millions of entries, and compressed CSV that expands a thousandfold. A
//! global allocator records the peak of live bytes; the tests take a lock so
//! that only one measures at a time.
#![cfg(feature = "io")]

use crate::watch::{alone, peak_and_largest_during, peak_during};
use mixact::{Act, Error, ModelErrorKind, Network};

const MB: usize = 1 << 20;

/// A safetensors file from a header JSON text and a data section.
fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header.as_bytes().to_vec();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn dense_metadata(activations: usize) -> String {
    let mut arch = String::from(
        r#"{\"format\":\"mixact\",\"version\":1,\"float\":\"f32\",\"network\":[{\"kind\":\"dense\",\"inputs\":2,\"outputs\":3,\"activations\":["#,
    );
    for i in 0..activations {
        if i > 0 {
            arch.push(',');
        }
        arch.push_str(r#"\"relu\""#);
    }
    arch.push_str("]}]}");
    arch
}

#[test]
fn a_model_file_of_a_million_zero_size_tensors_is_refused_in_little_memory() {
    let _turn = alone();
    let n = 1_500_000;
    let mut header = format!(r#"{{"__metadata__":{{"mixact":"{}"}}"#, dense_metadata(3));
    for i in 0..n {
        header.push_str(&format!(
            r#","t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#
        ));
    }
    header.push('}');
    let bytes = safetensors_file(&header, &[]);
    drop(header);
    let (result, peak) = peak_during(|| Network::<Act>::from_model_bytes(&bytes));
    assert!(matches!(
        result,
        Err(Error::Model {
            kind: ModelErrorKind::TooLarge,
            ..
        })
    ));
    let budget = 2 * bytes.len() + 16 * MB;
    assert!(
        peak <= budget,
        "peak {peak} bytes for a {} byte file",
        bytes.len()
    );
    println!(
        "{} byte file of {n} zero-size tensors: peak {:.1} MB",
        bytes.len(),
        peak as f64 / MB as f64
    );
}

#[test]
fn a_model_file_with_a_six_million_entry_activation_list_is_refused_in_bounded_memory() {
    let _turn = alone();
    let header = format!(
        r#"{{"__metadata__":{{"mixact":"{}"}},"layers.0.bias":{{"dtype":"F32","shape":[3],"data_offsets":[0,12]}},"layers.0.weight":{{"dtype":"F32","shape":[3,2],"data_offsets":[12,36]}}}}"#,
        dense_metadata(6_000_000)
    );
    let bytes = safetensors_file(&header, &[0u8; 36]);
    drop(header);
    let (result, peak) = peak_during(|| Network::<Act>::from_model_bytes(&bytes));
    assert!(
        matches!(
            result,
            Err(Error::Model {
                kind: ModelErrorKind::InconsistentShape,
                ..
            })
        ),
        "{result:?}"
    );
    let budget = 2 * bytes.len() + 16 * MB;
    assert!(
        peak <= budget,
        "peak {peak} bytes for a {} byte file",
        bytes.len()
    );
    println!(
        "{} byte file with 6e6 activation names: peak {:.1} MB",
        bytes.len(),
        peak as f64 / MB as f64
    );
}

#[test]
fn a_gzip_bomb_csv_costs_a_bounded_multiple_of_its_text() {
    use std::io::Write;
    let _turn = alone();
    let rows = 2_000_000;
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b"0,0\n".as_slice(), rows).flatten());
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&text).unwrap();
    let gz = enc.finish().unwrap();
    let path = std::env::temp_dir().join(format!("mixact-bomb-{}.csv.gz", std::process::id()));
    std::fs::write(&path, &gz).unwrap();
    let text_len = text.len();
    drop(text);
    let (table, peak) = peak_during(|| mixact::data::read_csv(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(table.n_rows(), rows);
    // Parsed cells are 8 bytes for at least 2 bytes of text (4x), and a
    // growing vector briefly holds its old and new blocks (2x more).
    assert!(
        peak <= 8 * text_len + MB,
        "peak {peak} for {text_len} bytes of text"
    );
    println!(
        "{} byte gzip, {text_len} bytes of text: peak {:.1} MB",
        gz.len(),
        peak as f64 / MB as f64
    );
}

#[test]
fn eight_threads_predicting_300_rows_reserve_memory_for_300_rows_and_at_most_one_kernel_buffer() {
    use mixact::Dense;
    use rand::SeedableRng;
    let _turn = alone();
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let net: Network<Act> = Network::new(vec![
        Dense::new(130, 130, Act::Relu, &mut r).unwrap().into(),
        Dense::new(130, 130, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(130, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let x = nalgebra::DMatrix::from_fn(300, 130, |i, j| ((i * 7 + j) % 13) as f32 / 13.0);
    // Whatever the product library keeps per pool thread is made once, here:
    // every pool thread predicts, and its products use its own buffer.
    let want = rayon::broadcast(|_| net.predict(&x).unwrap())
        .pop()
        .unwrap();
    let (_, peak, largest) = peak_and_largest_during(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| net.predict(&x))).collect();
            for h in handles {
                assert_eq!(h.join().unwrap().unwrap(), want);
            }
        })
    });
    // Each call copies the network (68 k weights) and holds a few 300 x 130
    // activations: well under 2 MB; eight of them under 16 MB. Beside them,
    // faer's kernels take a fresh packing buffer (twice the L3 cache) for a
    // product that a pool thread runs while it waits inside another; one
    // such buffer may be live, never two, whatever the number of callers.
    let kernel_buffer = if largest > 16 * MB { largest } else { 0 };
    assert!(
        peak <= 16 * MB + kernel_buffer,
        "peak {peak} bytes, largest allocation {largest}"
    );
    println!(
        "8 threads x predict(300 x 130): peak {:.1} MB (a kernel buffer: {:.1} MB)",
        peak as f64 / MB as f64,
        kernel_buffer as f64 / MB as f64
    );
}

/// The model file of `net` with `info`, whose metadata value `"PLACEHOLDER"`
/// is replaced by `value` (the header grows; the data offsets are relative).
fn with_metadata_value(bytes: &[u8], value: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let header = header.replacen("PLACEHOLDER", value, 1);
    safetensors_file(&header, &bytes[8 + n..])
}

fn linear(inputs: usize) -> Network<Act> {
    use rand::SeedableRng;
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    Network::new(vec![mixact::Dense::new(inputs, 1, Act::Identity, &mut r)
        .unwrap()
        .into()])
    .unwrap()
}

#[test]
fn a_model_file_that_is_one_52_mb_metadata_value_is_refused_in_bounded_memory() {
    use mixact::io::ModelInfo;
    let _turn = alone();
    let info = ModelInfo::default().with_metadata("note", "PLACEHOLDER");
    let small = linear(2).to_model_bytes_with(&info).unwrap();
    let bytes = with_metadata_value(&small, &"x".repeat(52 * MB));
    let (result, peak) = peak_during(|| {
        mixact::io::ModelLoader::<Act>::new()
            .from_bytes(&bytes)
            .map(|_| ())
    });
    assert!(
        matches!(
            result,
            Err(Error::Model {
                kind: ModelErrorKind::TooLarge,
                ..
            })
        ),
        "{result:?}"
    );
    let budget = 2 * bytes.len() + 16 * MB;
    assert!(
        peak <= budget,
        "peak {peak} for a {} byte file",
        bytes.len()
    );
    println!(
        "{} byte file, one metadata value: peak {:.1} MB",
        bytes.len(),
        peak as f64 / MB as f64
    );
}

#[test]
fn a_model_file_with_a_scaler_of_a_million_features_loads_in_bounded_memory() {
    use mixact::data::Scaler;
    use mixact::io::ModelInfo;
    let _turn = alone();
    let width = 1 << 20;
    let x = nalgebra::DMatrix::<f32>::from_fn(2, width, |i, j| (i * j % 7) as f32 + 0.123_456_7);
    let info = ModelInfo::default().with_scaler(Scaler::standardize(&x));
    drop(x);
    let bytes = linear(width).to_model_bytes_with(&info).unwrap();
    drop(info);
    let (result, peak) = peak_during(|| mixact::io::ModelLoader::<Act>::new().from_bytes(&bytes));
    let (net, info) = result.unwrap();
    assert_eq!(info.scaler().unwrap().width(), width);
    drop((net, info));
    let budget = 2 * bytes.len() + 16 * MB;
    assert!(
        peak <= budget,
        "peak {peak} for a {} byte file",
        bytes.len()
    );
    println!(
        "{} byte file, 2^20-wide scaler: peak {:.1} MB",
        bytes.len(),
        peak as f64 / MB as f64
    );
}

fn write_temp(name: &str, text: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mixact-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_csv_header_of_a_million_columns_costs_what_the_readme_says() {
    let _turn = alone();
    let columns = 1_000_000;
    let mut text = String::new();
    for c in 0..columns {
        text.push_str(if c == 0 { "c0" } else { ",c" });
        if c > 0 {
            text.push_str(&c.to_string());
        }
    }
    text.push('\n');
    let header_text = text.len();
    text.push_str(&vec!["0"; columns].join(","));
    text.push('\n');
    let path = write_temp("wide.csv", text.as_bytes());
    drop(text);
    let (table, peak) = peak_during(|| mixact::data::read_csv(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(table.n_columns(), columns);
    // README: a table keeps 8 bytes per cell, its header's text and 8 bytes
    // per column; while reading, the parser also holds up to 3 times the
    // longest line and 32 bytes per column.
    let kept = 8 * columns + header_text + 8 * columns;
    let documented = kept + 3 * header_text + 32 * columns;
    assert!(
        peak <= documented + 2 * MB,
        "peak {peak}, documented {documented}"
    );
    println!(
        "1e6-column header ({header_text} bytes): peak {:.1} MB, documented {:.1} MB",
        peak as f64 / MB as f64,
        documented as f64 / MB as f64
    );
}

#[test]
fn regression_on_a_32_mb_csv_costs_its_cells_and_the_data_set() {
    let _turn = alone();
    let (rows, columns) = (400_000, 10);
    let mut text = String::from("y,a,b,c,d,e,f,g,h,i\n");
    for r in 0..rows {
        for c in 0..columns {
            if c > 0 {
                text.push(',');
            }
            text.push_str(&format!("{:.5}", (r * 31 + c * 7) as f64 / 997.0));
        }
        text.push('\n');
    }
    let path = write_temp("long.csv", text.as_bytes());
    let text_len = text.len();
    drop(text);
    let (ds, peak) = peak_during(|| {
        let table = mixact::data::read_csv(&path).unwrap();
        table.regression::<f64>(&["y"], &[], None).unwrap()
    });
    std::fs::remove_file(&path).unwrap();
    assert_eq!(ds.len(), rows);
    // The table's cells, then the data set (the same cells again) and one
    // index per kept row, all at once.
    let cells = 8 * rows * columns;
    let documented = cells + cells + 8 * rows;
    assert!(
        peak <= documented + 2 * MB,
        "peak {peak}, documented {documented}"
    );
    println!(
        "{text_len} bytes of CSV, {rows} x {columns}: table + regression peak {:.1} MB ({:.2}x the text)",
        peak as f64 / MB as f64,
        peak as f64 / text_len as f64
    );
}
