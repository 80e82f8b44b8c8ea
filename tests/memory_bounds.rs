//! Memory stays bounded on hostile input: model files whose headers declare
//! millions of entries, and compressed CSV that expands a thousandfold. A
//! global allocator records the peak of live bytes; the tests take a lock so
//! that only one measures at a time.
#![cfg(feature = "io")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use mixact::{Act, Error, ModelErrorKind, Network};

struct Peak;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old and the new block coexist during a moving realloc.
        grew(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// The peak of live bytes above the starting level while `f` runs.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

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
    let _lock = ONE_AT_A_TIME.lock().unwrap();
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
    let (result, peak) =
        peak_during(|| Network::<Act>::from_model_bytes(&bytes, Default::default()));
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
    let _lock = ONE_AT_A_TIME.lock().unwrap();
    let header = format!(
        r#"{{"__metadata__":{{"mixact":"{}"}},"layers.0.bias":{{"dtype":"F32","shape":[3],"data_offsets":[0,12]}},"layers.0.weight":{{"dtype":"F32","shape":[3,2],"data_offsets":[12,36]}}}}"#,
        dense_metadata(6_000_000)
    );
    let bytes = safetensors_file(&header, &[0u8; 36]);
    drop(header);
    let (result, peak) =
        peak_during(|| Network::<Act>::from_model_bytes(&bytes, Default::default()));
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
    let _lock = ONE_AT_A_TIME.lock().unwrap();
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
