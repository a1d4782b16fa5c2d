//! A JSON value kept as the text it came as, built into values only as far as it is read.
//!
//! An event's params arrive as text (an HTTP body, a file, a command line) and are recorded
//! as that text. Its listeners mostly read a field or two (`$param.sku`); building the whole
//! payload as values for each event, and freeing it after, cost more than the rest of a
//! small run. A [`LazyJson`] made from text parses a top-level field the first time it is
//! read, and the whole value the first time something needs it whole.

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::sync::OnceLock;

/// Objects with more top-level fields than this are looked up whole (an index of their
/// own would cost more than it saves).
const MOST_FIELDS: usize = 32;

/// A JSON value, from text or from values; dereferences to the whole value.
#[derive(Clone, Default)]
pub struct LazyJson {
    /// The compact text, when it was made from text and not changed since (kept as it came:
    /// a `String` made a `Box<str>` may be copied to shed its spare capacity).
    text: Option<String>,
    /// Where each top-level field's value lies in `text` (an object of few fields).
    fields: Option<Vec<Field>>,
    /// The whole value, once built.
    whole: OnceLock<Value>,
}

/// A top-level field of an object read from text.
#[derive(Clone)]
struct Field {
    key: Box<str>,
    start: usize,
    end: usize,
    value: OnceLock<Value>,
}

impl LazyJson {
    /// The value of JSON `text`, checked now and built later. Text that is not JSON is an
    /// error.
    pub fn from_text(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text: String = text.into();
        let fields = if text.trim_start().starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(&text);
            let spans = de.deserialize_map(SpanVisitor {
                base: text.as_ptr() as usize,
            })?;
            de.end()?;
            (spans.len() <= MOST_FIELDS).then_some(spans)
        } else {
            // checked whole: scalars and arrays are read whole anyway
            let _: &serde_json::value::RawValue = serde_json::from_str(&text)?;
            None
        };
        Ok(Self {
            text: Some(text),
            fields,
            whole: OnceLock::new(),
        })
    }

    /// The whole value (built the first time it is asked for).
    pub fn whole(&self) -> &Value {
        self.whole.get_or_init(|| self.build())
    }

    /// The whole value built from the text.
    fn build(&self) -> Value {
        self.text.as_deref().map_or(Value::Null, built)
    }

    /// The top-level field `key` of an object, built alone when the whole value is not:
    /// `Some(None)` when the object has no such field, `None` when this is not an object.
    pub fn object_field(&self, key: &str) -> Option<Option<&Value>> {
        if self.whole.get().is_none()
            && let (Some(text), Some(fields)) = (&self.text, &self.fields)
        {
            // the last of equal keys wins, as when the whole object is built
            let Some(field) = fields.iter().rev().find(|f| &*f.key == key) else {
                return Some(None);
            };
            return Some(Some(
                field
                    .value
                    .get_or_init(|| built(&text[field.start..field.end])),
            ));
        }
        self.whole().as_object().map(|map| map.get(key))
    }

    /// The compact JSON text it was made from, when it has not been changed since.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Its compact JSON text: the text it was made from when unchanged, else the value
    /// written out.
    pub fn json_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.text {
            Some(text) => text.as_str().into(),
            None => super::json_text(self.whole()).into(),
        }
    }

    /// Change the whole value (the text it came from is forgotten).
    pub fn change(&mut self, f: impl FnOnce(&mut Value)) {
        let mut value = self.whole.take().unwrap_or_else(|| self.build());
        f(&mut value);
        *self = Self::from(value);
    }

    /// The whole value, taken out.
    pub fn into_value(mut self) -> Value {
        self.whole.take().unwrap_or_else(|| self.build())
    }

    /// `value`, to share among records.
    pub fn shared(value: Value) -> std::sync::Arc<LazyJson> {
        std::sync::Arc::new(value.into())
    }
}

/// The value of JSON text checked when its [`LazyJson`] was made (so it parses).
fn built(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl From<Value> for LazyJson {
    fn from(value: Value) -> Self {
        Self {
            text: None,
            fields: None,
            whole: OnceLock::from(value),
        }
    }
}

impl std::ops::Deref for LazyJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.whole()
    }
}

impl PartialEq for LazyJson {
    fn eq(&self, other: &Self) -> bool {
        match (self.text(), other.text()) {
            (Some(a), Some(b)) if a == b => true,
            _ => self.whole() == other.whole(),
        }
    }
}

impl PartialEq<Value> for LazyJson {
    fn eq(&self, other: &Value) -> bool {
        self.whole() == other
    }
}

impl fmt::Debug for LazyJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.whole(), f)
    }
}

impl fmt::Display for LazyJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.whole.get(), self.text()) {
            (None, Some(text)) => f.write_str(text),
            _ => fmt::Display::fmt(self.whole(), f),
        }
    }
}

impl serde::Serialize for LazyJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.whole().serialize(serializer)
    }
}

/// Reads an object's top-level keys and where each value's text lies, without building the
/// values (they are checked all the same).
struct SpanVisitor {
    base: usize,
}

impl<'de> Visitor<'de> for SpanVisitor {
    type Value = Vec<Field>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Field>, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let raw: &'de serde_json::value::RawValue = map.next_value()?;
            let start = raw.get().as_ptr() as usize - self.base;
            fields.push(Field {
                key: key.into_boxed_str(),
                start,
                end: start + raw.get().len(),
                value: OnceLock::new(),
            });
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_is_read_alone_and_equals_the_whole_values_field() {
        let text = r#"{"n": 1, "order": {"items": [{"sku": 7, "price": 19.99}]}, "s": "a\"b"}"#;
        let lazy = LazyJson::from_text(text).unwrap();
        assert_eq!(lazy.object_field("n"), Some(Some(&json!(1))));
        assert_eq!(lazy.object_field("s"), Some(Some(&json!("a\"b"))));
        assert_eq!(lazy.object_field("missing"), Some(None));
        assert!(lazy.whole.get().is_none(), "read field by field");
        let whole: Value = serde_json::from_str(text).unwrap();
        assert_eq!(lazy.whole(), &whole);
        assert_eq!(
            lazy.object_field("order"),
            Some(Some(&whole["order"])),
            "the same once built whole"
        );
    }

    #[test]
    fn the_last_of_equal_keys_wins_as_in_the_whole_value() {
        let lazy = LazyJson::from_text(r#"{"a": 1, "a": 2}"#).unwrap();
        let field = lazy.object_field("a").flatten().cloned();
        assert_eq!(field, Some(json!(2)));
        assert_eq!(lazy.whole(), &json!({"a": 2}));
    }

    #[test]
    fn escaped_keys_are_found_by_their_meaning() {
        let lazy = LazyJson::from_text(r#"{"\u0061b": true}"#).unwrap();
        assert_eq!(lazy.object_field("ab"), Some(Some(&json!(true))));
    }

    #[test]
    fn text_that_is_not_json_is_refused_where_it_breaks() {
        for bad in [
            r#"{"a": 1"#,
            r#"{"a": tru}"#,
            r#"{"a": 1} x"#,
            "[1,",
            "",
            "nul",
        ] {
            assert!(LazyJson::from_text(bad).is_err(), "{bad:?}");
        }
        let err = LazyJson::from_text(r#"{"a": [1, 2,]}"#).unwrap_err();
        assert_eq!((err.line(), err.column()), (1, 13), "{err}");
    }

    #[test]
    fn values_that_are_not_objects_are_read_whole() {
        let lazy = LazyJson::from_text(" [1, 2] ").unwrap();
        assert_eq!(lazy.object_field("a"), None);
        assert_eq!(*lazy, json!([1, 2]));
        let lazy = LazyJson::from(json!(3));
        assert_eq!(lazy.object_field("a"), None);
    }

    #[test]
    fn many_fields_are_looked_up_in_the_whole_object() {
        let map: serde_json::Map<String, Value> =
            (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
        let text = Value::Object(map).to_string();
        let lazy = LazyJson::from_text(text).unwrap();
        assert!(lazy.fields.is_none());
        assert_eq!(lazy.object_field("k99"), Some(Some(&json!(99))));
    }

    #[test]
    fn a_change_forgets_the_text() {
        let mut lazy = LazyJson::from_text(r#"{"a": 1}"#).unwrap();
        assert_eq!(lazy.to_string(), r#"{"a": 1}"#);
        lazy.change(|v| v["b"] = json!(2));
        assert_eq!(lazy.text(), None);
        assert_eq!(lazy.object_field("b"), Some(Some(&json!(2))));
        assert_eq!(lazy.to_string(), r#"{"a":1,"b":2}"#);
        assert_eq!(
            serde_json::to_value(&lazy).unwrap(),
            json!({"a": 1, "b": 2})
        );
        assert_eq!(lazy.into_value(), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn equal_values_are_equal_however_they_were_made() {
        let a = LazyJson::from_text(r#"{"a": [1, {"b": null}]}"#).unwrap();
        let b = LazyJson::from(json!({"a": [1, {"b": null}]}));
        assert_eq!(a, b);
        assert_eq!(a, json!({"a": [1, {"b": null}]}));
        assert_ne!(a, LazyJson::from(json!({"a": []})));
    }
}
