//! The files a project keeps beside its definitions (test files, snapshots of test cases),
//! by path relative to the project folder, as last imported or written.

use super::{Result, Store};
use crate::model::{KeptFile, Timestamp};
use rusqlite::params;
use std::path::PathBuf;

impl Store {
    /// Keep `files`, each replacing the one at its path.
    pub fn keep_files(&self, files: &[KeptFile]) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.keep_files(files);
        }
        let mut stmt = self.conn().prepare_cached(
            "INSERT INTO project_files (path, text, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (path) DO UPDATE SET text = ?2, updated_at = ?3",
        )?;
        let now = Timestamp::now().0;
        for f in files {
            stmt.execute(params![f.path.to_string_lossy(), f.text, now])?;
        }
        Ok(())
    }

    /// The kept files whose paths start with `prefix`, by path.
    pub fn kept_files(&self, prefix: &str) -> Result<Vec<KeptFile>> {
        if let Some(pg) = self.postgres() {
            return pg.kept_files(prefix);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT path, text FROM project_files WHERE substr(path, 1, length(?1)) = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map([prefix], |r| {
            Ok(KeptFile {
                path: PathBuf::from(r.get::<_, String>(0)?),
                text: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_files_replace_by_path_and_list_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let file = |p: &str, t: &str| KeptFile {
            path: PathBuf::from(p),
            text: t.to_string(),
        };
        store
            .keep_files(&[
                file("tests/a.test.json", "1"),
                file("tests/__snapshots__/a.json", "s"),
            ])
            .unwrap();
        store.keep_files(&[file("tests/a.test.json", "2")]).unwrap();
        let all = store.kept_files("tests/").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], file("tests/a.test.json", "2"));
        let snaps = store.kept_files("tests/__snapshots__/").unwrap();
        assert_eq!(snaps, [file("tests/__snapshots__/a.json", "s")]);
    }
}
