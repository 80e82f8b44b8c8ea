//! The JSON header of a model file: written from layer specs, read into
//! raw specs with every list and string bounded before it is allocated.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::layers::spec::{ConfigValue, NameList};

use super::info::ModelInfo;

/// The whole metadata document, as written.
#[derive(Serialize)]
pub(super) struct HeaderOut<'a> {
    pub(super) format: &'a str,
    pub(super) version: u32,
    pub(super) float: &'a str,
    pub(super) network: Vec<SpecNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) info: Option<&'a ModelInfo>,
}

/// The whole metadata document, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderIn {
    pub(super) format: String,
    pub(super) version: u32,
    pub(super) float: String,
    pub(super) network: Vec<RawSpec>,
    #[serde(default)]
    pub(super) info: Option<ModelInfo>,
}

/// One layer as written: kind, configuration fields, then sub-layers.
pub(super) struct SpecNode {
    pub(super) kind: &'static str,
    pub(super) config: Vec<(&'static str, ConfigValue)>,
    pub(super) children: Option<(&'static str, Vec<SpecNode>)>,
}

pub(super) struct ValueOut<'a>(&'a ConfigValue);

impl Serialize for ValueOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            ConfigValue::Int(v) => s.serialize_u64(*v),
            ConfigValue::Float(v) => s.serialize_f64(*v),
            ConfigValue::Bool(v) => s.serialize_bool(*v),
            ConfigValue::Str(v) => s.serialize_str(v),
            ConfigValue::Names(v) => s.collect_seq(v.iter()),
        }
    }
}

impl Serialize for SpecNode {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", self.kind)?;
        for (k, v) in &self.config {
            m.serialize_entry(k, &ValueOut(v))?;
        }
        if let Some((key, children)) = &self.children {
            m.serialize_entry(key, children)?;
        }
        m.end()
    }
}

/// One layer as read: the kind, configuration fields, and sub-layers under
/// one list key. Read by hand in one streaming pass: serde's derived readers
/// for tagged or untagged enums buffer the whole object in a generic tree
/// first (about 40 bytes per list entry), which would let a long activation
/// list cost twenty times its size in the file.
pub(super) struct RawSpec {
    pub(super) kind: String,
    pub(super) fields: Vec<(String, ConfigValue)>,
    pub(super) children: Option<(String, Vec<RawSpec>)>,
}

/// A JSON value inside a layer object.
pub(super) enum RawValue {
    Value(ConfigValue),
    Layers(Vec<RawSpec>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, a string, a boolean, a list of names or a list of layers")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Int(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Float(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Bool(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Str(v.to_string())))
            }
            fn visit_seq<S: SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<RawValue, S::Error> {
                let mut names = NameList::default();
                let mut layers = Vec::new();
                while let Some(item) = seq.next_element::<ListItem>()? {
                    match item {
                        ListItem::Name(n) => {
                            if !names.push(&n) {
                                return Err(de::Error::custom(
                                    "more than 256 distinct names in one list",
                                ));
                            }
                        }
                        ListItem::Layer(l) => layers.push(l),
                    }
                    if !names.is_empty() && !layers.is_empty() {
                        return Err(de::Error::custom("a list mixes names and layers"));
                    }
                }
                Ok(if layers.is_empty() {
                    RawValue::Value(ConfigValue::Names(names))
                } else {
                    RawValue::Layers(layers)
                })
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                _m: M,
            ) -> std::result::Result<RawValue, M::Error> {
                Err(de::Error::custom("a layer field holds an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An element of a list inside a layer object: a name or a layer.
pub(super) enum ListItem {
    Name(String),
    Layer(RawSpec),
}

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a name or a layer object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<ListItem, E> {
                Ok(ListItem::Name(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, m: M) -> std::result::Result<ListItem, M::Error> {
                raw_spec(m).map(ListItem::Layer)
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn raw_spec<'de, M: MapAccess<'de>>(mut m: M) -> std::result::Result<RawSpec, M::Error> {
    let mut kind = None;
    let mut fields = Vec::new();
    let mut children = None;
    while let Some(key) = m.next_key::<String>()? {
        if key == "kind" {
            kind = Some(m.next_value::<String>()?);
            continue;
        }
        if fields.iter().any(|(k, _): &(String, _)| *k == key)
            || children
                .as_ref()
                .is_some_and(|(k, _): &(String, _)| *k == key)
        {
            return Err(de::Error::custom(format!("duplicate field \"{key}\"")));
        }
        match m.next_value::<RawValue>()? {
            RawValue::Value(v) => fields.push((key, v)),
            RawValue::Layers(l) => {
                if children.is_some() {
                    return Err(de::Error::custom("a layer with two lists of sub-layers"));
                }
                children = Some((key, l));
            }
        }
    }
    let kind = kind.ok_or_else(|| de::Error::custom("a layer without \"kind\""))?;
    Ok(RawSpec {
        kind,
        fields,
        children,
    })
}

impl<'de> Deserialize<'de> for RawSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a layer object")
            }
            fn visit_map<M: MapAccess<'de>>(self, m: M) -> std::result::Result<RawSpec, M::Error> {
                raw_spec(m)
            }
        }
        d.deserialize_map(V)
    }
}
