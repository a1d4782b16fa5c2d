//! The studio's remembered state: small keyed values (the last params used per workflow).

use super::{Result, Store};
use crate::model::Timestamp;
use rusqlite::{OptionalExtension, params};

impl Store {
    /// A remembered value.
    pub fn ui_get(&self, key: &str) -> Result<Option<String>> {
        if let Some(pg) = self.postgres() {
            return pg.ui_get(key);
        }
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM ui_state WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?)
    }

    /// Remember a value.
    pub fn ui_set(&self, key: &str, value: &str) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.ui_set(key, value);
        }
        self.conn()
            .prepare_cached(
                "INSERT INTO ui_state (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3",
            )?
            .execute(params![key, value, Timestamp::now().0])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::testing::temp_store;

    #[test]
    fn remembers_values() {
        let (_d, store) = temp_store();
        assert_eq!(store.ui_get("params:a").unwrap(), None);
        store.ui_set("params:a", "{\"sku\": 1}").unwrap();
        store.ui_set("params:a", "{\"sku\": 2}").unwrap();
        assert_eq!(
            store.ui_get("params:a").unwrap().as_deref(),
            Some("{\"sku\": 2}")
        );
    }
}
