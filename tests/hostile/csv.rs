//! CSV text an attacker (or an accident) could produce.

use super::*;

#[test]
fn csv_label_of_2_pow_62_is_an_error_not_a_crash() {
    let table = data::parse_csv("a,label\n1,0\n2,4611686018427387904\n", "t").unwrap();
    let e = table
        .classification::<f32>("label", &[], 1.0, None)
        .unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { .. } | Error::Format { .. }),
        "{e:?}"
    );
}

#[test]
fn csv_label_of_1e10_is_too_large_instead_of_a_40_gb_allocation() {
    let table = data::parse_csv("a,label\n1,0\n2,1e10\n", "t").unwrap();
    let e = table
        .classification::<f32>("label", &[], 1.0, None)
        .unwrap_err();
    assert_eq!(too_large(e), "one-hot targets");
}

#[test]
fn csv_byte_order_mark_is_not_part_of_the_first_column_name() {
    let t = data::parse_csv("\u{feff}a,b\n1,2\n", "t").unwrap();
    assert_eq!(t.headers(), ["a", "b"]);
}

#[test]
fn csv_lines_may_end_in_cr_crlf_or_lf() {
    for text in ["a,b\r1,2\r3,4\r", "a,b\r\n1,2\r\n3,4\r\n", "a,b\n1,2\n3,4"] {
        let t = data::parse_csv(text, "t").unwrap();
        assert_eq!(t.n_rows(), 2, "{text:?}");
        assert_eq!(t.row(1), [3.0, 4.0]);
    }
}

#[test]
fn csv_error_line_numbers_count_crlf_as_one_line_end() {
    let e = data::parse_csv("a,b\r\n1,2\r\n3,x\r\n", "t").unwrap_err();
    assert!(
        matches!(e, Error::Format { ref location, .. } if location == "t:3"),
        "{e:?}"
    );
}

#[test]
fn csv_with_only_a_header_reports_no_data_rows() {
    let e = data::parse_csv("a,b,label\n", "t").unwrap_err();
    assert!(e.to_string().contains("no data rows"), "{e}");
}

#[test]
fn a_gzip_bomb_beyond_the_size_limit_is_too_large() {
    let dir = temp_dir("bomb");
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b"0,0\n".as_slice(), 1 << 20).flatten());
    let path = dir.join("bomb.csv.gz");
    std::fs::write(&path, gzip(&text)).unwrap();
    let e = data::read_csv_with(
        &path,
        CsvOptions {
            max_bytes: 1 << 20,
            ..CsvOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(too_large(e), "CSV text (bytes after decompression)");
    // Within the limit the same file reads.
    let t = data::read_csv_with(
        &path,
        CsvOptions {
            max_bytes: 8 << 20,
            ..CsvOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.n_rows(), 1 << 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn classes_come_from_the_whole_table_not_the_rows_kept() {
    let t = data::parse_csv("x,label,split\n1,0,0\n2,1,0\n3,2,1\n", "t").unwrap();
    let split = t.column("split").unwrap();
    let train = t
        .classification::<f32>("label", &["split"], 1.0, Some(&|r: &[f64]| r[split] == 0.0))
        .unwrap();
    assert_eq!(train.y().ncols(), 3);
}

#[test]
fn csv_fields_may_be_quoted() {
    let t = data::parse_csv("\"width, cm\",\"label\"\n\"1.5\",0\n2,\"1\"\n", "t").unwrap();
    assert_eq!(t.headers(), ["width, cm", "label"]);
    assert_eq!(t.row(0), [1.5, 0.0]);
    assert_eq!(t.row(1), [2.0, 1.0]);
}

#[test]
fn duplicate_csv_column_names_are_an_error_naming_them() {
    let e = data::parse_csv("y,a,y\n1,2,3\n", "t").unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(e.to_string().contains("\"y\""), "{e}");
    let e = data::CsvTable::new(
        vec!["y".into(), "a".into(), "y".into()],
        &[vec![1.0, 2.0, 3.0]],
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"y\""), "{e}");
}

#[test]
fn a_csv_with_more_cells_than_the_limit_is_too_large() {
    let dir = temp_dir("cells");
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b"0,0\n".as_slice(), 1000).flatten());
    let path = dir.join("cells.csv");
    std::fs::write(&path, &text).unwrap();
    let options = CsvOptions {
        max_cells: 1000,
        ..CsvOptions::default()
    };
    let e = data::read_csv_with(&path, options).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    let options = CsvOptions {
        max_cells: 2000,
        ..CsvOptions::default()
    };
    assert_eq!(data::read_csv_with(&path, options).unwrap().n_rows(), 1000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_value_beyond_f32_is_an_error_naming_its_row_and_column() {
    let table = data::parse_csv("a,b,y\n1,2,0.5\n3,1e300,1.5\n", "t").unwrap();
    let e = table.regression::<f32>(&["y"], &[], None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("row 3, column \"b\"") && msg.contains("beyond the range of f32"),
        "{msg}"
    );
    // The same file is fine in f64.
    assert!(table.regression::<f64>(&["y"], &[], None).is_ok());
}

#[test]
fn a_nan_cell_is_an_error_naming_its_row_and_column() {
    let table = data::parse_csv("a,label\n1,0\nNaN,1\n", "t").unwrap();
    let e = table
        .classification::<f64>("label", &[], 1.0, None)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("row 3, column \"a\"") && msg.contains("not a finite number"),
        "{msg}"
    );
}

#[test]
fn a_huge_label_is_refused_in_a_short_message() {
    let table = data::parse_csv("a,label\n1,0\n2,1e300\n", "t").unwrap();
    let msg = table
        .classification::<f32>("label", &[], 1.0, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("label 1e300 is not a class index"), "{msg}");
}
