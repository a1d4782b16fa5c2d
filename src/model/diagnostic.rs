//! A fault found while loading a definition: where it is and what to do about it.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// One fault in one file: the file, the place (line, step id, field) and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as the user named it (relative to the project folder when loaded from one).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The test case at fault, by name, when the fault is in a case of a test file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// The id of the step at fault, when the fault is in a step.
    pub step: Option<String>,
    /// The field at fault (`sql`, `then`, `steps[2].cond`, …), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A fault in `file` with `message`; place it with the builder methods.
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            case: None,
            step: None,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Set the line and column.
    #[must_use]
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Set the line and column when known.
    #[must_use]
    pub fn at_opt(self, position: Option<(usize, usize)>) -> Self {
        match position {
            Some((line, column)) => self.at(line, column),
            None => self,
        }
    }

    /// Name the test case at fault.
    #[must_use]
    pub fn case(mut self, name: impl Into<String>) -> Self {
        self.case = Some(name.into());
        self
    }

    /// Name the step at fault.
    #[must_use]
    pub fn step(mut self, id: impl Into<String>) -> Self {
        self.step = Some(id.into());
        self
    }

    /// Name the field at fault.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Say what to do.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ":")?;
        if let Some(case) = &self.case {
            write!(f, " case \"{case}\":")?;
        }
        if let Some(step) = &self.step {
            write!(f, " step \"{step}\":")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field \"{field}\":")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if one is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_step_field_and_hint() {
        let d = Diagnostic::new("workflows/a.json", "unknown field `sqll`")
            .at(3, 5)
            .step("load")
            .field("sqll")
            .hint("did you mean `sql`?");
        assert_eq!(
            d.to_string(),
            "workflows/a.json:3:5: step \"load\": field \"sqll\": unknown field `sqll` (did you mean `sql`?)"
        );
    }

    #[test]
    fn suggests_close_words_only() {
        let actions = ["set", "if", "db.query", "db.exec"];
        assert_eq!(suggest("db.qeury", actions), Some("db.query"));
        assert_eq!(suggest("zzzzzz", actions), None);
    }
}
