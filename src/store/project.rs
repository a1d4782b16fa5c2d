//! The project's settings (`flowdeck.toml`) and `schema.sql`, as last imported.

use super::{Result, Store};
use crate::model::{ProjectConfig, Timestamp};
use rusqlite::{OptionalExtension, params};

/// The project as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredProject {
    /// The project's settings (`flowdeck.toml`).
    pub config: ProjectConfig,
    /// `flowdeck.toml` as written.
    pub config_text: Option<String>,
    /// `schema.sql` as written.
    pub schema: Option<String>,
    /// The folder last imported from.
    pub root: Option<String>,
}

impl Store {
    /// Save the project's settings.
    pub fn save_project(&self, p: &StoredProject) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.save_project(p);
        }
        let config = serde_json::to_string(&p.config).unwrap_or_else(|_| "{}".into());
        self.conn()
            .prepare_cached(
                "INSERT INTO project (id, name, config, config_text, schema_sql, root, updated_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = ?1, config = ?2, config_text = ?3, schema_sql = ?4,
                    root = ?5, updated_at = ?6",
            )?
            .execute(params![
                p.config.name,
                config,
                p.config_text,
                p.schema,
                p.root,
                Timestamp::now().0
            ])?;
        Ok(())
    }

    /// A random token made when the store was created: what tells its runs from those of
    /// any other store (the `Idempotency-Key` of their `http` steps begins with it).
    pub fn identity_token(&self) -> Result<String> {
        if let Some(pg) = self.postgres() {
            return pg.identity_token();
        }
        Ok(self
            .conn()
            .prepare_cached("SELECT token FROM store_identity WHERE id = 1")?
            .query_row([], |r| r.get(0))?)
    }

    /// The project's settings (defaults when nothing was imported yet).
    pub fn project(&self) -> Result<StoredProject> {
        if let Some(pg) = self.postgres() {
            return pg.project();
        }
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let row: Option<Row> = self
            .conn()
            .prepare_cached(
                "SELECT config, config_text, schema_sql, root FROM project WHERE id = 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        Ok(match row {
            None => StoredProject::default(),
            Some((config, config_text, schema, root)) => StoredProject {
                config: serde_json::from_str(&config).unwrap_or_default(),
                config_text,
                schema,
                root,
            },
        })
    }
}
