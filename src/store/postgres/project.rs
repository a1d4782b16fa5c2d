//! The project on PostgreSQL (the SQLite room's `store::project`, `store::project_files` and
//! `store::ui_state`, the same record): its settings and `schema.sql`, the store's identity,
//! the files kept beside the definitions, the studio's remembered values.

use super::{PgStore, column};
use crate::model::{KeptFile, Timestamp};
use crate::store::Result;
use crate::store::project::StoredProject;
use std::path::PathBuf;

impl PgStore {
    /// Save the project's settings (one row, replaced).
    pub(crate) fn save_project(&self, p: &StoredProject) -> Result<()> {
        let config = serde_json::to_string(&p.config).unwrap_or_else(|_| "{}".into());
        let now = Timestamp::now().0;
        self.execute(
            "INSERT INTO project (id, name, config, config_text, schema_sql, root, updated_at)
             VALUES (1, $1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET name = $1, config = $2, config_text = $3, schema_sql = $4,
                root = $5, updated_at = $6",
            &[
                &p.config.name,
                &config,
                &p.config_text,
                &p.schema,
                &p.root,
                &now,
            ],
        )?;
        Ok(())
    }

    /// The random token made when the store was created (see `Store::identity_token`).
    pub(crate) fn identity_token(&self) -> Result<String> {
        column(
            &self.query_one("SELECT token FROM store_identity WHERE id = 1", &[])?,
            0,
        )
    }

    /// The project's settings (defaults when nothing was imported yet).
    pub(crate) fn project(&self) -> Result<StoredProject> {
        let row = self.query_opt(
            "SELECT config, config_text, schema_sql, root FROM project WHERE id = 1",
            &[],
        )?;
        Ok(match row {
            None => StoredProject::default(),
            Some(r) => StoredProject {
                config: serde_json::from_str(column(&r, 0)?).unwrap_or_default(),
                config_text: column(&r, 1)?,
                schema: column(&r, 2)?,
                root: column(&r, 3)?,
            },
        })
    }

    /// Keep `files`, each replacing the one at its path.
    pub(crate) fn keep_files(&self, files: &[KeptFile]) -> Result<()> {
        let now = Timestamp::now().0;
        for f in files {
            let path = f.path.to_string_lossy();
            let path: &str = &path;
            self.execute(
                "INSERT INTO project_files (path, text, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (path) DO UPDATE SET text = $2, updated_at = $3",
                &[&path, &f.text, &now],
            )?;
        }
        Ok(())
    }

    /// The kept files whose paths start with `prefix`, by path (as bytes, as SQLite orders
    /// them).
    pub(crate) fn kept_files(&self, prefix: &str) -> Result<Vec<KeptFile>> {
        let rows = self.query(
            "SELECT path, text FROM project_files
              WHERE left(path, length($1::text)) = $1::text ORDER BY path COLLATE \"C\"",
            &[&prefix],
        )?;
        rows.iter()
            .map(|r| {
                Ok(KeptFile {
                    path: PathBuf::from(column::<String>(r, 0)?),
                    text: column(r, 1)?,
                })
            })
            .collect()
    }

    /// A remembered value.
    pub(crate) fn ui_get(&self, key: &str) -> Result<Option<String>> {
        self.query_opt("SELECT value FROM ui_state WHERE key = $1", &[&key])?
            .map(|r| column(&r, 0))
            .transpose()
    }

    /// Remember a value.
    pub(crate) fn ui_set(&self, key: &str, value: &str) -> Result<()> {
        let now = Timestamp::now().0;
        self.execute(
            "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3",
            &[&key, &value, &now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use crate::model::{KeptFile, ProjectConfig};
    use crate::store::project::StoredProject;
    use std::path::PathBuf;

    #[test]
    fn the_project_round_trips_and_the_identity_is_kept() {
        let Some((db, store)) =
            scratch_store("pg_the_project_round_trips_and_the_identity_is_kept")
        else {
            return;
        };
        assert_eq!(store.project().unwrap(), StoredProject::default());
        let token = store.identity_token().unwrap();
        assert_eq!(token.len(), 16);
        let mut config = ProjectConfig {
            name: "shop".into(),
            ..ProjectConfig::default()
        };
        config.secrets.push("API_KEY".into());
        config.env.insert("REGION".into(), "eu".into());
        let project = StoredProject {
            config,
            config_text: Some("name = \"shop\"\n".into()),
            schema: Some("CREATE TABLE t (x);".into()),
            root: Some("/srv/shop".into()),
        };
        store.save_project(&project).unwrap();
        assert_eq!(store.project().unwrap(), project);
        let replaced = StoredProject {
            config: ProjectConfig {
                name: "shop2".into(),
                ..ProjectConfig::default()
            },
            config_text: None,
            schema: None,
            root: Some("/srv/shop2".into()),
        };
        store.save_project(&replaced).unwrap();
        assert_eq!(store.project().unwrap(), replaced);
        drop(store);
        let again = crate::store::Store::open(std::path::Path::new(db.url())).unwrap();
        assert_eq!(again.identity_token().unwrap(), token, "made once");
        assert_eq!(again.project().unwrap(), replaced);
    }

    #[test]
    fn kept_files_replace_by_path_and_list_by_prefix() {
        let Some((_db, store)) = scratch_store("pg_kept_files_replace_by_path_and_list_by_prefix")
        else {
            return;
        };
        let file = |p: &str, t: &str| KeptFile {
            path: PathBuf::from(p),
            text: t.to_string(),
        };
        store
            .keep_files(&[
                file("tests/a.test.json", "1"),
                file("tests/__snapshots__/a.json", "s"),
                file("tests/B.test.json", "b"),
                file("other/tests/x.json", "x"),
                file("tests%/y.json", "y"),
            ])
            .unwrap();
        store.keep_files(&[file("tests/a.test.json", "2")]).unwrap();
        store.keep_files(&[]).unwrap();
        let all = store.kept_files("tests/").unwrap();
        assert_eq!(
            all,
            [
                file("tests/B.test.json", "b"),
                file("tests/__snapshots__/a.json", "s"),
                file("tests/a.test.json", "2"),
            ],
            "by bytes, as SQLite orders them"
        );
        let snaps = store.kept_files("tests/__snapshots__/").unwrap();
        assert_eq!(snaps, [file("tests/__snapshots__/a.json", "s")]);
        assert_eq!(store.kept_files("").unwrap().len(), 5);
        assert!(store.kept_files("nothing/").unwrap().is_empty());
    }

    #[test]
    fn remembers_values() {
        let Some((_db, store)) = scratch_store("pg_remembers_values") else {
            return;
        };
        assert_eq!(store.ui_get("params:a").unwrap(), None);
        store.ui_set("params:a", "{\"sku\": 1}").unwrap();
        store.ui_set("params:a", "{\"sku\": 2}").unwrap();
        store.ui_set("params:b", "{}").unwrap();
        assert_eq!(
            store.ui_get("params:a").unwrap().as_deref(),
            Some("{\"sku\": 2}")
        );
        assert_eq!(store.ui_get("params:b").unwrap().as_deref(), Some("{}"));
    }
}
