//! The world a case starts in: `data` (rows of the data database), `env` and `now`.

use super::SuiteCx;
use crate::model::Timestamp;
use crate::model::names;
use serde_json::{Map, Value};

impl SuiteCx<'_> {
    /// `data`: table → array of row objects.
    pub(super) fn data(&mut self, v: Option<&Value>, field: &str) -> Map<String, Value> {
        let Some(v) = v else {
            return Map::new();
        };
        let Some(tables) = v.as_object() else {
            self.fault(
                field,
                "data",
                "`data` maps each table to its rows: {\"skus\": [{\"id\": 1, …}]}",
            );
            return Map::new();
        };
        for (table, rows) in tables {
            let at = format!("{field}.{table}");
            if !names::is_identifier(table) {
                self.fault(&at, table, format!("{table:?} is not a table name"));
                continue;
            }
            match rows.as_array() {
                Some(rows) if rows.iter().all(Value::is_object) => {}
                _ => {
                    self.fault(
                        &at,
                        table,
                        format!("the rows of {table} must be an array of objects (column → value)"),
                    );
                }
            }
        }
        tables.clone()
    }

    /// `env`: name → text.
    pub(super) fn env(&mut self, v: Option<&Value>, field: &str) -> Map<String, Value> {
        let Some(v) = v else {
            return Map::new();
        };
        let Some(vars) = v.as_object() else {
            self.fault(
                field,
                "env",
                "`env` maps names to text: {\"SUPPLIER_URL\": \"http://supplier.test\"}",
            );
            return Map::new();
        };
        for (name, value) in vars {
            if !value.is_string() {
                self.fault(
                    &format!("{field}.{name}"),
                    name,
                    format!(
                        "$env values are text; write {name} as \"{}\"",
                        value.to_string().trim_matches('"')
                    ),
                );
            }
        }
        vars.clone()
    }

    pub(super) fn now(&mut self, v: Option<&Value>, field: &str) -> Option<Timestamp> {
        let v = v?;
        let parsed = v
            .as_str()
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_micros()).ok());
        match parsed {
            Some(micros) => Some(Timestamp(micros)),
            None => {
                self.fault(
                    field,
                    "now",
                    format!("`now` is a time such as \"2026-01-01T09:00:00Z\", not {v}"),
                );
                None
            }
        }
    }
}
