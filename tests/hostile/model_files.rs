//! Model files and saves: concurrent, failed and killed saves, and files whose info does not fit.

use super::*;

#[test]
fn concurrent_saves_to_one_path_both_succeed_and_leave_one_whole_model() {
    let dir = temp_dir("concurrent");
    let path = dir.join("model.safetensors");
    for _ in 0..50 {
        std::thread::scope(|s| {
            let a = s.spawn(|| small_net().save(&path));
            let b = s.spawn(|| small_net().save(&path));
            a.join().unwrap().unwrap();
            b.join().unwrap().unwrap();
        });
        let _: Network<Act> = Network::load(&path).unwrap();
    }
    assert!(temp_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_save_leaves_no_temporary_file() {
    let dir = temp_dir("failed");
    // A directory where the file should go: the final rename fails.
    let path = dir.join("model.safetensors");
    std::fs::create_dir_all(path.join("occupied")).unwrap();
    assert!(matches!(small_net().save(&path), Err(Error::Io { .. })));
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stale_temporary_files_of_killed_saves_are_removed_by_the_next_save() {
    let dir = temp_dir("stale");
    let path = dir.join("model.safetensors");
    let stale = dir.join(".model.safetensors.tmp-1-2-3");
    let recent = dir.join(".model.safetensors.tmp-4-5-6");
    for p in [&stale, &recent] {
        std::fs::write(p, b"half a model").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    small_net().save(&path).unwrap();
    assert!(!stale.exists());
    // A recent one may belong to a save still running: kept.
    assert!(recent.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_file_whose_scaler_divides_by_zero_is_refused() {
    use mixact::io::ModelInfo;
    let net = small_net();
    let info = ModelInfo::default().with_scaler(data::Scaler {
        offset: vec![0.0, 0.0],
        scale: vec![1.0, 1.0],
    });
    let mut bytes = net.to_model_bytes_with(&info).unwrap();
    // Same length in the JSON text: the second scale 1.0 -> 0.0.
    let pattern = br#"\"scale\":[1.0,1.0]"#;
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("the scaler is in the header");
    bytes[at + pattern.len() - 4] = b'0';
    let e = Network::<Act>::from_model_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Model {
                kind: mixact::ModelErrorKind::Malformed,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn class_names_that_do_not_match_the_outputs_are_refused_on_save_and_load() {
    let net = linear_net(2, 3);
    let info = ModelInfo::default().with_class_names(&["a", "b"]);
    let e = net.to_model_bytes_with(&info).unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
    // Two names for one output (a binary classifier) are fine.
    let one = linear_net(2, 1);
    let bytes = one
        .to_model_bytes_with(&ModelInfo::default().with_class_names(&["no", "yes"]))
        .unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back.class_names.unwrap(), ["no", "yes"]);
}

#[test]
fn class_names_that_do_not_match_the_outputs_in_a_file_are_refused() {
    // A file written by another tool: three outputs, two names.
    let net = linear_net(2, 3);
    let bytes = net
        .to_model_bytes_with(&ModelInfo::default().with_class_names(&["a", "b", "c"]))
        .unwrap();
    let from = br#"\"a\",\"b\",\"c\""#;
    let to = br#"\"a\",\"b\"      "#;
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the names are in the header");
    let mut edited = bytes.clone();
    edited[at..at + from.len()].copy_from_slice(to);
    let e = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&edited)
        .unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
}

#[test]
fn metadata_full_of_braces_loads_because_what_save_writes_load_reads() {
    let net = linear_net(2, 1);
    let braces = "{".repeat(9000);
    let info = ModelInfo::default()
        .with_metadata("note", &braces)
        .with_metadata("}{", "\"[]\"");
    let bytes = net.to_model_bytes_with(&info).unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back, info);
    let names: Vec<String> = (0..3).map(|i| format!("{}{i}", "{".repeat(3000))).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let three = linear_net(2, 3);
    let info = ModelInfo::default().with_class_names(&names);
    let bytes = three.to_model_bytes_with(&info).unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back, info);
}

#[test]
fn model_info_beyond_the_text_limit_is_refused_on_save() {
    let net = linear_net(2, 1);
    let big = "x".repeat(mixact::io::MAX_INFO_TEXT + 1);
    let e = net
        .to_model_bytes_with(&ModelInfo::default().with_metadata("k", &big))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Model {
                kind: mixact::ModelErrorKind::TooLarge,
                ..
            }
        ),
        "{e:?}"
    );
}

/// A FIFO whose header declares terabytes of data in front of an endless
/// writer is refused once the header is read, naming the path, instead of
/// being read until memory runs out (a regular file's length bounds what is
/// read from it; a stream has none).
#[cfg(target_os = "linux")]
#[test]
fn a_stream_declaring_more_data_than_the_stream_limit_is_refused_after_its_header() {
    use std::io::Write;
    let dir = temp_dir("fifo");
    let fifo = dir.join("model.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1099511627776]}}"#;
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let mut sent = (header.len() as u64).to_le_bytes().to_vec();
            sent.extend_from_slice(header);
            let _ = out.write_all(&sent);
            // "Endless" up to 64 MiB, so a loader that kept reading would
            // fail this test with a truncation instead of filling memory.
            let chunk = vec![0u8; 1 << 16];
            for _ in 0..1024 {
                if out.write_all(&chunk).is_err() {
                    break; // the loader closed the FIFO
                }
            }
        })
    };
    let err = Network::<Act>::load(&fifo).unwrap_err();
    // Should the loader have failed before opening the FIFO, a reader opened
    // here (without blocking) releases the writer, so the test cannot hang.
    {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000; // Linux's value
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(&fifo);
    }
    writer.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Model {
                kind: mixact::ModelErrorKind::TooLarge,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("model.fifo") && text.contains("1099511627776"),
        "{text}"
    );
}
