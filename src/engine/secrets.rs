//! Masking secret values (the project's `secrets`) in everything that is recorded or shown.

use serde_json::Value;

/// What a masked secret reads as.
pub const MASK: &str = "••••••";

/// The secret values to hide.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// Secrets with these values (values shorter than 4 characters are not masked: they
    /// would hide too much ordinary text).
    ///
    /// Each value is also masked in the forms it takes on its way into text: escaped in
    /// JSON (a message that quotes a value), percent-encoded in a URL's path or query (an
    /// `http` step's error names its URL).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= 4)
            .flat_map(|v| {
                let mut forms = encoded_forms(&v);
                forms.push(v);
                forms
            })
            .collect();
        // longest first, so a secret that contains another is masked whole
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Self { values }
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Mask secrets in text.
    pub fn mask_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    /// Whether JSON `text` cannot hold a secret in any form: there are none, or none is in
    /// it and it has no escape (`\u0041`, `\/`) that could spell one.
    pub fn cannot_be_in(&self, text: &str) -> bool {
        self.is_empty() || (!text.contains('\\') && !self.holds(text))
    }

    /// Whether `text` holds a secret.
    fn holds(&self, text: &str) -> bool {
        self.values.iter().any(|v| text.contains(v.as_str()))
    }

    /// Mask secrets in every string of a JSON value, object keys included (in place).
    pub fn mask(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) if self.holds(s) => {
                *s = self.mask_text(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask(v)),
            Value::Object(map) => {
                if map.keys().any(|k| self.holds(k)) {
                    // rebuilt in the same order, keys masked (two keys that mask alike
                    // keep the last value)
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        map.insert(self.mask_text(&k), v);
                    }
                }
                map.values_mut().for_each(|v| self.mask(v));
            }
            _ => {}
        }
    }
}

/// The forms of a secret other than itself that text may hold it in.
fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = Vec::new();
    // in JSON text, between quotes
    let json = serde_json::to_string(value).unwrap_or_default();
    if let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
        forms.push(inner.to_string());
    }
    // in a URL: a path segment, a query, a form value
    if let Ok(u) = url::Url::parse(&format!("http://x/{value}")) {
        forms.push(u.path().trim_start_matches('/').to_string());
    }
    if let Ok(u) = url::Url::parse(&format!("http://x/?{value}")) {
        forms.extend(u.query().map(str::to_string));
    }
    forms.push(url::form_urlencoded::byte_serialize(value.as_bytes()).collect());
    forms.retain(|f| f != value && f.chars().count() >= 4);
    forms
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_that_cannot_hold_a_secret_is_told_apart() {
        assert!(Secrets::default().cannot_be_in(r#"{"t": "tok-123456"}"#));
        let s = Secrets::new(["tok-123456".to_string()]);
        assert!(s.cannot_be_in(r#"{"sku": 1}"#));
        assert!(!s.cannot_be_in(r#"{"t": "Bearer tok-123456"}"#));
        assert!(!s.cannot_be_in(r#"{"tok-123456": 1}"#));
        // an escape could spell it without its letters
        assert!(!s.cannot_be_in(r#"{"t": "\u0074ok-123456"}"#));
        assert!(!s.cannot_be_in(r#"{"t": "a\/b"}"#));
    }

    #[test]
    fn masks_inside_strings_everywhere() {
        let s = Secrets::new(["tok-123456".to_string(), "ab".to_string()]);
        let mut v = json!({"h": {"authorization": "Bearer tok-123456"}, "l": ["tok-123456", "ab"]});
        s.mask(&mut v);
        assert_eq!(
            v,
            json!({"h": {"authorization": format!("Bearer {MASK}")}, "l": [MASK, "ab"]})
        );
    }

    #[test]
    fn masks_object_keys_and_the_encoded_forms_of_a_secret() {
        let s = Secrets::new(["p4ss w\"rd/x".to_string()]);
        let mut v = json!({"p4ss w\"rd/x": {"k": 1}, "other": "a p4ss w\"rd/x b"});
        s.mask(&mut v);
        assert_eq!(v, json!({MASK: {"k": 1}, "other": format!("a {MASK} b")}));
        for text in [
            "error sending request for url (http://h/p4ss%20w%22rd/x)",
            "params: got {\"t\":\"p4ss w\\\"rd/x\"}",
            "q=p4ss+w%22rd%2Fx",
        ] {
            let masked = s.mask_text(text);
            assert!(masked.contains(MASK), "{text} → {masked}");
            assert!(!masked.contains("p4ss"), "{text} → {masked}");
        }
    }
}
