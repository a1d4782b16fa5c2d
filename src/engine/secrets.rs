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
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= 4)
            .collect();
        // longest first, so a secret that contains another is masked whole
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
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

    /// Mask secrets in every string of a JSON value (in place).
    pub fn mask(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) if self.values.iter().any(|v| s.contains(v.as_str())) => {
                *s = self.mask_text(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.mask(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
