//! Reading a step's SQL for the data database on PostgreSQL: its `?` placeholders become
//! PostgreSQL's `$1, $2, …`, and the first words of each statement tell what it does
//! (transaction control is refused in steps, as on SQLite).
//!
//! The scanner knows PostgreSQL's lexical rules for what is not code: string literals
//! (`'…'` with `''`, `E'…'` with backslash escapes), quoted identifiers (`"…"`),
//! dollar-quoted strings (`$$…$$`, `$tag$…$tag$`), line comments (`-- …`) and nested block
//! comments (`/* … */`). A `?` in any of them is text, not a placeholder.
//!
//! SQLite's placeholders are kept as SQLite numbers them: `?NNN` is parameter NNN, a bare `?`
//! the one after the largest so far. PostgreSQL's own operators spelled with `?` (jsonb's
//! `?`, `?|`, `?&`) therefore read as placeholders: steps write `jsonb_exists(a, b)`,
//! `jsonb_exists_any`, `jsonb_exists_all` instead.

/// A step's SQL made ready for PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The SQL with `$n` for each `?` placeholder.
    pub(crate) text: String,
    /// The first words of each statement (at most [`HEAD_WORDS`], lower case; a quoted
    /// identifier as its text), in order; empty statements left out.
    pub(crate) heads: Vec<Vec<String>>,
}

/// Words kept from the start of each statement.
const HEAD_WORDS: usize = 4;

/// Whether `b` may continue an identifier (PostgreSQL: letters, digits, `_`, `$`, and any
/// byte of a non-ASCII character).
fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Whether `b` may start an identifier or a dollar quote's tag.
fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// The words of the statement being read, and whether it is inside a `BEGIN ATOMIC` body
/// (whose `;` do not end the statement) and how deep in its `CASE … END`.
#[derive(Default)]
struct Statement {
    words: Vec<String>,
    /// All the words seen (up to the atomic body), for `BEGIN ATOMIC`.
    last: Option<String>,
    atomic: Option<usize>,
}

impl Statement {
    fn word(&mut self, word: String) {
        match &mut self.atomic {
            Some(depth) => {
                if word == "case" {
                    *depth += 1;
                } else if word == "end" {
                    if *depth == 0 {
                        self.atomic = None;
                    } else {
                        *depth -= 1;
                    }
                }
            }
            None => {
                if word == "atomic"
                    && self.last.as_deref() == Some("begin")
                    && self.words.first().map(String::as_str) == Some("create")
                {
                    self.atomic = Some(0);
                }
            }
        }
        if self.words.len() < HEAD_WORDS {
            self.words.push(word.clone());
        }
        self.last = Some(word);
    }
}

/// Scan `sql`: placeholders mapped, statements' first words gathered.
pub(crate) fn scan(sql: &str) -> Scanned {
    let bytes = sql.as_bytes();
    let mut text = String::with_capacity(sql.len() + 8);
    let mut heads = Vec::new();
    let mut statement = Statement::default();
    let mut largest = 0usize;
    // the start of the bytes not yet copied to `text`
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' => i = skip_string(bytes, i, false),
            b'"' => {
                let end = skip_quoted(bytes, i);
                let inner = sql.get(i + 1..end.saturating_sub(1)).unwrap_or("");
                statement.word(inner.replace("\"\"", "\"").to_lowercase());
                i = end;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'$' => {
                if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    // PostgreSQL's own `$n`: kept, and counted so that a bare `?` follows it
                    let end = digits_end(bytes, i + 1);
                    largest = largest.max(number(&sql[i + 1..end]));
                    i = end;
                } else if let Some(tag_end) = dollar_tag(bytes, i) {
                    let tag = &bytes[i..tag_end];
                    i = find(bytes, tag_end, tag).map_or(bytes.len(), |p| p + tag.len());
                } else {
                    i += 1;
                }
            }
            b'?' => {
                let end = digits_end(bytes, i + 1);
                let index = if end > i + 1 {
                    number(&sql[i + 1..end])
                } else {
                    largest + 1
                };
                largest = largest.max(index);
                text.push_str(&sql[copied..i]);
                text.push('$');
                text.push_str(&index.to_string());
                copied = end;
                i = end;
            }
            b';' => {
                if statement.atomic.is_none() {
                    let done = std::mem::take(&mut statement);
                    if !done.words.is_empty() {
                        heads.push(done.words);
                    }
                }
                i += 1;
            }
            _ if ident_start(b) => {
                let start = i;
                while i < bytes.len() && ident_byte(bytes[i]) {
                    i += 1;
                }
                let word = &sql[start..i];
                if word.eq_ignore_ascii_case("e") && bytes.get(i) == Some(&b'\'') {
                    // E'…': backslash escapes
                    i = skip_string(bytes, i, true);
                } else {
                    statement.word(word.to_lowercase());
                }
            }
            _ if b.is_ascii_digit() => {
                // a number (its letters, as in 1e5, are not words)
                while i < bytes.len() && (ident_byte(bytes[i]) || bytes[i] == b'.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    text.push_str(&sql[copied..]);
    if !statement.words.is_empty() {
        heads.push(statement.words);
    }
    Scanned { text, heads }
}

/// The end of the string literal starting at `start` (its `'`); `escapes` for `E'…'`.
fn skip_string(bytes: &[u8], start: usize, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the quoted identifier starting at `start` (its `"`).
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of the block comment starting at `start` (comments nest in PostgreSQL).
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The end of the dollar quote's opening tag at `start` (`$$` or `$tag$`), if it is one.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if bytes.get(i).is_some_and(|&b| ident_start(b)) {
        while i < bytes.len() && ident_byte(bytes[i]) && bytes[i] != b'$' {
            i += 1;
        }
    }
    (bytes.get(i) == Some(&b'$')).then_some(i + 1)
}

/// Where `needle` occurs in `bytes` from `from` on.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn digits_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn number(digits: &str) -> usize {
    digits.parse().unwrap_or(usize::MAX / 2)
}

impl Scanned {
    /// Whether a statement controls the transaction: `BEGIN`, `START`, `COMMIT`, `END`,
    /// `ROLLBACK`, `ABORT`, `SAVEPOINT`, `RELEASE`, `PREPARE TRANSACTION`, and the `SET`s of
    /// a transaction's or session's transaction mode (`SET TRANSACTION …`,
    /// `SET SESSION CHARACTERISTICS …`, `SET transaction_isolation …`, …).
    pub(crate) fn controls_transaction(&self) -> bool {
        self.heads.iter().any(|head| controls_transaction(head))
    }

    /// Whether the first statement is one that changes the database (caught before it is
    /// run, so that the error is the same whatever its arguments; the read-only transaction
    /// catches the rest).
    pub(crate) fn writes(&self) -> bool {
        const WRITES: &[&str] = &[
            "insert", "update", "delete", "merge", "create", "drop", "alter", "truncate", "grant",
            "revoke", "comment", "reindex", "cluster", "refresh", "vacuum", "import", "security",
            "reassign",
        ];
        self.heads
            .first()
            .and_then(|h| h.first())
            .is_some_and(|w| WRITES.contains(&w.as_str()))
    }
}

fn controls_transaction(head: &[String]) -> bool {
    let word = |i: usize| head.get(i).map_or("", String::as_str);
    match word(0) {
        "begin" | "start" | "commit" | "end" | "rollback" | "abort" | "savepoint" | "release" => {
            true
        }
        "prepare" => word(1) == "transaction",
        "set" | "reset" => {
            let mut at = 1;
            if word(1) == "session" && word(2) == "characteristics" {
                return true;
            }
            if word(1) == "local" || word(1) == "session" {
                at = 2;
            }
            let name = word(at);
            name == "transaction"
                || name.starts_with("transaction_")
                || name.starts_with("default_transaction_")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(sql: &str) -> String {
        scan(sql).text
    }

    #[test]
    fn placeholders_become_numbered_outside_literals_and_comments() {
        assert_eq!(
            mapped("SELECT * FROM t WHERE a = ? AND b = ?"),
            "SELECT * FROM t WHERE a = $1 AND b = $2"
        );
        assert_eq!(
            mapped("SELECT 'it''s ?', ? FROM t"),
            "SELECT 'it''s ?', $1 FROM t"
        );
        assert_eq!(
            mapped("SELECT \"a?b\", ? FROM t"),
            "SELECT \"a?b\", $1 FROM t"
        );
        assert_eq!(mapped("SELECT ? -- ?\n, ?"), "SELECT $1 -- ?\n, $2");
        assert_eq!(
            mapped("SELECT /* ? /* ? */ ? */ ?"),
            "SELECT /* ? /* ? */ ? */ $1"
        );
        assert_eq!(mapped("SELECT $$ ? $$, ?"), "SELECT $$ ? $$, $1");
        assert_eq!(
            mapped("SELECT $tag$ ? $$ ? $tag$, ?"),
            "SELECT $tag$ ? $$ ? $tag$, $1"
        );
        assert_eq!(mapped("SELECT E'\\' ?', ?"), "SELECT E'\\' ?', $1");
        assert_eq!(
            mapped("SELECT '\\', ?"),
            "SELECT '\\', $1",
            "no escapes in '…'"
        );
        assert_eq!(mapped("SELECT a$b, ?"), "SELECT a$b, $1", "$ inside a name");
        assert_eq!(mapped("SELECT 'é?', ?, 'ü'"), "SELECT 'é?', $1, 'ü'");
    }

    #[test]
    fn numbered_placeholders_keep_their_numbers_as_on_sqlite() {
        assert_eq!(mapped("SELECT ?2, ?1, ?"), "SELECT $2, $1, $3");
        assert_eq!(mapped("SELECT $1, ?"), "SELECT $1, $2");
        assert_eq!(mapped("SELECT ?::int"), "SELECT $1::int");
    }

    #[test]
    fn transaction_control_is_found_at_the_start_of_any_statement() {
        for sql in [
            "BEGIN",
            "begin;",
            "  /* x */ COMMIT",
            "-- c\nROLLBACK",
            "ROLLBACK TO SAVEPOINT s",
            "SAVEPOINT s",
            "RELEASE s",
            "START TRANSACTION",
            "END",
            "ABORT",
            "PREPARE TRANSACTION 'x'",
            "COMMIT PREPARED 'x'",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            "SET transaction_read_only = off",
            "SET LOCAL transaction_read_only = off",
            "set \"default_transaction_read_only\" = off",
            "SELECT 1; COMMIT",
        ] {
            assert!(scan(sql).controls_transaction(), "{sql}");
        }
        for sql in [
            "SELECT 'BEGIN'",
            "SELECT 1 -- COMMIT",
            "INSERT INTO t (\"begin\") VALUES (1)",
            "DO $$ BEGIN PERFORM 1; END $$",
            "PREPARE p AS SELECT 1",
            "SET search_path = public",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3",
            "UPDATE t SET n = 1 WHERE end_at < 2",
        ] {
            assert!(!scan(sql).controls_transaction(), "{sql}");
        }
    }

    #[test]
    fn writes_are_told_by_their_first_word() {
        assert!(scan("DELETE FROM t").writes());
        assert!(scan("/* c */ insert into t values (1)").writes());
        assert!(!scan("SELECT * FROM t").writes());
        assert!(!scan("WITH x AS (SELECT 1) SELECT * FROM x").writes());
    }
}
