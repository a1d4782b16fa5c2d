//! An object's fields read into a typed shape, with a fault that names its field as data.
//!
//! The object is handed to serde through a deserializer of our own, so serde's hooks for a
//! missing or an unknown field (`missing_field`, `unknown_field`) arrive as values of
//! [`FieldFault`] instead of text to be picked apart; a value of the wrong shape is caught
//! with the key it was read for and the path inside it.

use std::fmt;

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Why an object's fields did not fit the shape asked for.
#[derive(Debug)]
pub(super) enum FieldFault {
    /// A key the shape does not have; `expected` lists the ones it has.
    Unknown {
        field: String,
        expected: &'static [&'static str],
    },
    /// A key the shape needs and the object lacks.
    Missing { field: &'static str },
    /// A value of the wrong shape: its path (`retry.max`) and serde's description.
    Invalid { field: String, message: String },
    /// Anything else serde said about the object as a whole.
    Other(String),
}

impl FieldFault {
    /// The field the fault is about, when it is about one.
    pub(super) fn field(&self) -> Option<&str> {
        match self {
            FieldFault::Unknown { field, .. } | FieldFault::Invalid { field, .. } => Some(field),
            FieldFault::Missing { field } => Some(field),
            FieldFault::Other(_) => None,
        }
    }
}

impl fmt::Display for FieldFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldFault::Unknown { field, expected } => {
                write!(f, "unknown field `{field}`, ")?;
                match expected {
                    [] => f.write_str("there are no fields"),
                    [one] => write!(f, "expected `{one}`"),
                    [a, b] => write!(f, "expected `{a}` or `{b}`"),
                    many => {
                        let quoted: Vec<String> = many.iter().map(|k| format!("`{k}`")).collect();
                        write!(f, "expected one of {}", quoted.join(", "))
                    }
                }
            }
            FieldFault::Missing { field } => write!(f, "missing field `{field}`"),
            FieldFault::Invalid { message, .. } | FieldFault::Other(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for FieldFault {}

impl de::Error for FieldFault {
    fn custom<T: fmt::Display>(message: T) -> Self {
        FieldFault::Other(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        FieldFault::Missing { field }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        FieldFault::Unknown {
            field: field.to_string(),
            expected,
        }
    }
}

/// Read `object` as a `T`.
pub(super) fn read<T: DeserializeOwned>(object: Map<String, Value>) -> Result<T, FieldFault> {
    T::deserialize(Object(object))
}

/// An object as a serde deserializer whose error is [`FieldFault`].
struct Object(Map<String, Value>);

impl<'de> de::Deserializer<'de> for Object {
    type Error = FieldFault;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldFault> {
        visitor.visit_map(Entries {
            entries: self.0.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The object's entries, one key then its value.
struct Entries {
    entries: serde_json::map::IntoIter,
    current: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = FieldFault;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldFault> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let name: StringDeserializer<FieldFault> = key.clone().into_deserializer();
        let read = seed.deserialize(name)?;
        self.current = Some((key, value));
        Ok(Some(read))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, FieldFault> {
        let (key, value) = self
            .current
            .take()
            .ok_or_else(|| FieldFault::Other("a value was read before its key".into()))?;
        let mut track = serde_path_to_error::Track::new();
        seed.deserialize(serde_path_to_error::Deserializer::new(value, &mut track))
            .map_err(|e| {
                let inner = track.path().to_string();
                let field = if inner == "." {
                    key
                } else {
                    format!("{key}.{inner}")
                };
                FieldFault::Invalid {
                    field,
                    message: without_position(&e.to_string()),
                }
            })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// serde_json appends " at line L column C" to messages; the diagnostic carries those itself.
pub(super) fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        retry: Option<Retry>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Retry {
        max: u32,
    }

    fn fault(value: Value) -> FieldFault {
        let Value::Object(object) = value else {
            panic!("an object")
        };
        read::<Shape>(object).expect_err("a fault")
    }

    #[test]
    fn a_missing_field_is_named() {
        let f = fault(json!({}));
        assert!(matches!(f, FieldFault::Missing { field: "name" }), "{f:?}");
        assert_eq!(f.to_string(), "missing field `name`");
    }

    #[test]
    fn an_unknown_field_is_named_with_the_known_ones() {
        let f = fault(json!({"name": "a", "retyr": 1}));
        assert_eq!(f.field(), Some("retyr"));
        assert_eq!(
            f.to_string(),
            "unknown field `retyr`, expected `name` or `retry`"
        );
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_named_by_its_path() {
        let f = fault(json!({"name": "a", "retry": {"max": "x"}}));
        assert_eq!(f.field(), Some("retry.max"));
        assert!(
            f.to_string().starts_with("invalid type: string \"x\""),
            "{f}"
        );
        let f = fault(json!({"name": 1}));
        assert_eq!(f.field(), Some("name"));
    }

    #[test]
    fn a_whole_fitting_object_is_read() {
        let Value::Object(o) = json!({"name": "a", "retry": {"max": 2}}) else {
            unreachable!()
        };
        let shape: Shape = read(o).expect("fits");
        assert_eq!(shape.name, "a");
    }
}
