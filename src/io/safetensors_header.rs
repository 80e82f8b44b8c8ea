//! The safetensors container, read in one pass with bounded memory.
//!
//! The `safetensors` crate parses a header twice on the way to a tensor view
//! (once to validate, once to deserialize), copies the metadata strings into a
//! map, and serde's string scratch buffer doubles as it grows; on a file whose
//! size is its header that cost four times the file. Here the header is
//! scanned once without allocating (objects outside strings counted, the
//! longest string literal measured), the mixact metadata is borrowed as raw
//! JSON text and unescaped once into a string of exactly its size, and the
//! tensor table is a list of small entries over the file's own bytes.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ModelErrorKind as K, Result};

use super::model_error;

/// The tensor element types mixact writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
        }
    }
}

/// One entry of the tensor table: its name, type, shape and bytes.
pub(crate) struct TensorEntry<'a> {
    pub(crate) name: String,
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: &'a [u8],
}

/// A parsed container: the mixact metadata (unescaped JSON text) and the tensors.
pub(crate) struct Container<'a> {
    pub(crate) mixact: Option<String>,
    pub(crate) tensors: Vec<TensorEntry<'a>>,
}

/// The most dimensions a tensor of a mixact model has.
const MAX_DIMS: usize = 8;

/// What a single scan of JSON text finds: objects outside string literals,
/// and the longest string literal (in bytes of text, escapes included).
pub(crate) struct JsonShape {
    pub(crate) objects: usize,
    pub(crate) longest_string: usize,
}

/// Scans JSON text without allocating. Braces inside strings are text, not
/// objects (a class name of 9000 `{` is one string).
pub(crate) fn scan_json(text: &[u8]) -> JsonShape {
    let mut shape = JsonShape {
        objects: 0,
        longest_string: 0,
    };
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                shape.longest_string = shape.longest_string.max(i - start);
            }
        } else if b == b'"' {
            in_string = true;
            start = i + 1;
        } else if b == b'{' {
            shape.objects += 1;
        }
    }
    if in_string {
        shape.longest_string = shape.longest_string.max(text.len() - start);
    }
    shape
}

/// The data-section length a container's JSON `header` declares (the end
/// of its last tensor), or `None` when the header is not one [`parse`]
/// could accept as far as that: too many objects, not a tensor table, or
/// offsets that overflow. Reading a file stops there, and `parse` then says
/// what is wrong with what was read.
pub(crate) fn declared_data_len(header: &[u8], max_objects: usize) -> Option<usize> {
    if scan_json(header).objects > max_objects + 2 {
        return None;
    }
    let raw: RawHeader<'_> = serde_json::from_slice(header).ok()?;
    Some(
        raw.tensors
            .iter()
            .map(|(_, t)| t.offsets[1])
            .max()
            .unwrap_or(0),
    )
}

/// Parses the container in `bytes` (8-byte length, JSON header, data),
/// checking that the tensors tile the data section exactly.
///
/// `max_objects` bounds the header's JSON objects (tensor entries).
pub(crate) fn parse(bytes: &[u8], max_header: u64, max_objects: usize) -> Result<Container<'_>> {
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| model_error(K::Truncated, format!("{} bytes, no header", bytes.len())))?;
    if header_len > max_header {
        return Err(model_error(
            K::TooLarge,
            format!("header of {header_len} bytes (limit {max_header})"),
        ));
    }
    if 8 + header_len > bytes.len() as u64 {
        return Err(model_error(
            K::Truncated,
            format!(
                "header declares {header_len} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let header = &bytes[8..8 + header_len as usize];
    let data = &bytes[8 + header_len as usize..];
    let objects = scan_json(header).objects;
    if objects > max_objects + 2 {
        return Err(model_error(
            K::TooLarge,
            format!("header holds {objects} JSON objects (tensors); the limit is {max_objects}"),
        ));
    }
    let raw: RawHeader<'_> = serde_json::from_slice(header)
        .map_err(|e| model_error(K::NotAModel, format!("not a safetensors header: {e}")))?;
    let mixact = match raw.mixact {
        None => None,
        Some(r) => Some(unescape(r.get()).ok_or_else(|| {
            model_error(K::NotAModel, "the mixact metadata is not a JSON string")
        })?),
    };
    let mut names: Vec<&str> = raw.tensors.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(model_error(
            K::Malformed,
            format!("tensor {} appears twice", w[0]),
        ));
    }
    let mut order: Vec<usize> = (0..raw.tensors.len()).collect();
    order.sort_by_key(|&i| raw.tensors[i].1.offsets);
    let mut end = 0usize;
    for &i in &order {
        let (name, t) = &raw.tensors[i];
        let [a, b] = t.offsets;
        if a != end || b < a {
            return Err(model_error(
                K::Truncated,
                format!("tensor {name}: data at [{a}, {b}) does not follow the previous tensor (at {end})"),
            ));
        }
        let elements = t
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_mul(t.dtype.size()))
            .ok_or_else(|| model_error(K::TooLarge, format!("tensor {name}: size overflows")))?;
        if b - a != elements {
            return Err(model_error(
                K::InconsistentShape,
                format!(
                    "tensor {name}: {} bytes for shape {:?} of {}",
                    b - a,
                    t.shape,
                    t.dtype.name()
                ),
            ));
        }
        end = b;
    }
    if end > data.len() {
        return Err(model_error(
            K::Truncated,
            format!(
                "tensors declare {end} bytes of data, the file holds {}",
                data.len()
            ),
        ));
    }
    if end < data.len() {
        // No count: a file is read one byte past what its header declares.
        return Err(model_error(
            K::Truncated,
            format!("tensors declare {end} bytes of data, the file holds more"),
        ));
    }
    let tensors = raw
        .tensors
        .into_iter()
        .map(|(name, t)| TensorEntry {
            name,
            dtype: t.dtype,
            shape: t.shape,
            data: &data[t.offsets[0]..t.offsets[1]],
        })
        .collect();
    Ok(Container { mixact, tensors })
}

/// The value of a JSON string literal (quotes included in `literal`), in a
/// string allocated once at the literal's size (serde's own path grows a
/// scratch buffer by doubling, then copies). `None` if it is not a string.
fn unescape(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&hi) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        };
        out.push(decoded);
    }
    Some(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

/// The header as read: the raw text of the "mixact" metadata value, and the
/// tensor table.
struct RawHeader<'a> {
    mixact: Option<&'a RawValue>,
    tensors: Vec<(String, RawTensor)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    #[serde(deserialize_with = "dtype")]
    dtype: Dtype,
    #[serde(deserialize_with = "short_shape")]
    shape: Vec<usize>,
    #[serde(rename = "data_offsets")]
    offsets: [usize; 2],
}

fn dtype<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Dtype, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    match &*s {
        "F32" => Ok(Dtype::F32),
        "F64" => Ok(Dtype::F64),
        other => Err(de::Error::custom(format!(
            "tensor type {other} (mixact models hold F32 or F64)"
        ))),
    }
}

fn short_shape<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<usize>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<usize>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a shape of at most {MAX_DIMS} dimensions")
        }
        fn visit_seq<S: SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> std::result::Result<Vec<usize>, S::Error> {
            let mut out = Vec::new();
            while let Some(d) = seq.next_element::<usize>()? {
                if out.len() == MAX_DIMS {
                    return Err(de::Error::custom(format!(
                        "a shape of more than {MAX_DIMS} dimensions"
                    )));
                }
                out.push(d);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

impl<'de: 'a, 'a> Deserialize<'de> for RawHeader<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawHeader<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a safetensors header object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut m: M,
            ) -> std::result::Result<RawHeader<'a>, M::Error> {
                let mut header = RawHeader {
                    mixact: None,
                    tensors: Vec::new(),
                };
                let mut seen_metadata = false;
                while let Some(key) = m.next_key::<String>()? {
                    if key == "__metadata__" {
                        if seen_metadata {
                            return Err(de::Error::custom("two __metadata__ entries"));
                        }
                        seen_metadata = true;
                        header.mixact = m.next_value::<Metadata<'a>>()?.0;
                    } else {
                        let t = m.next_value::<RawTensor>()?;
                        header.tensors.push((key, t));
                    }
                }
                Ok(header)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The `__metadata__` object: the raw "mixact" value; other keys are skipped.
struct Metadata<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Metadata<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Metadata<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a metadata object of strings")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut m: M,
            ) -> std::result::Result<Metadata<'a>, M::Error> {
                let mut mixact = None;
                while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == super::METADATA_KEY {
                        let raw: &'a RawValue = m.next_value()?;
                        if !raw.get().starts_with('"') {
                            return Err(de::Error::custom("the mixact metadata is not a string"));
                        }
                        mixact = Some(raw);
                    } else {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Metadata(mixact))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}
