//! A project folder: `flowdeck.toml`, `schema.sql`, `workflows/*.json`, `endpoints/*.json`.

use super::definition::{Definition, DefinitionKind};
use super::diagnostic::Diagnostic;
use super::parse::parse_definition;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The settings of `flowdeck.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Project name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Names of environment variables whose values are secret: masked in traces and the studio.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `$env` defaults; a process environment variable of the same name overrides each.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Engine limits.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Retention of the record while a server runs (`[store]`).
    #[serde(default, skip_serializing_if = "StoreSettings::is_unset")]
    pub store: StoreSettings,
    /// Where `db.*` steps' data lives (`[data]`).
    #[serde(default, skip_serializing_if = "DataSettings::is_unset")]
    pub data: DataSettings,
}

/// The data database of `db.*` steps (`[data]` in `flowdeck.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSettings {
    /// A PostgreSQL database (`url = "postgres://…"`); unset: a SQLite file beside the
    /// store (`flowdeck.data.db`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl DataSettings {
    /// Whether nothing is set.
    pub fn is_unset(&self) -> bool {
        self.url.is_none()
    }
}

/// How much of the record a running server keeps (`[store]` in `flowdeck.toml`): it prunes
/// in the background by these rules (see `flowdeck prune`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Events and runs older than this are removed (`retain = "7d"`).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub retain: Option<std::time::Duration>,
    /// The oldest are removed while the store's pages in use take more than this
    /// (`max_size = "2 GB"`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "bytes_exactly"
    )]
    pub max_size: Option<bytesize::ByteSize>,
}

/// A size as its number of bytes: `ByteSize`'s own text ("1.9 GiB") is rounded.
fn bytes_exactly<S: serde::Serializer>(
    size: &Option<bytesize::ByteSize>,
    to: S,
) -> Result<S::Ok, S::Error> {
    match size {
        Some(s) => to.serialize_u64(s.as_u64()),
        None => to.serialize_none(),
    }
}

impl StoreSettings {
    /// Whether neither rule is set.
    pub fn is_unset(&self) -> bool {
        self.retain.is_none() && self.max_size.is_none()
    }
}

/// Engine limits a project may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Cascades are cut at this depth (skip reason "max depth").
    pub max_depth: u32,
    /// Time limit of one template evaluation, in milliseconds.
    pub expr_timeout_ms: u64,
    /// Default timeout of `http` steps, in milliseconds.
    pub http_timeout_ms: u64,
    /// Largest params of an event, in bytes of JSON: a bigger event is refused, wherever it
    /// comes from (the command line, HTTP, an `emit` step).
    pub max_params_bytes: u64,
    /// How long a server holds a run it took up before another may take it over, in
    /// milliseconds (renewed while the run goes on): how soon the runs of a server that died
    /// on another host are finished by the others. At least 1000.
    pub lease_ms: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_depth: 16,
            expr_timeout_ms: 1000,
            http_timeout_ms: 30_000,
            max_params_bytes: 1024 * 1024,
            lease_ms: 60_000,
        }
    }
}

fn default_name() -> String {
    "project".to_string()
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            name: default_name(),
            secrets: Vec::new(),
            env: BTreeMap::new(),
            engine: EngineSettings::default(),
            store: StoreSettings::default(),
            data: DataSettings::default(),
        }
    }
}

/// One definition file as read: its text, the definition when usable, and its faults.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    /// Path relative to the project folder (or as given, for a single file).
    pub path: PathBuf,
    /// The file's text, kept so that export writes back exactly what was imported.
    pub text: String,
    /// The definition, when the file has no faults.
    pub definition: Option<Definition>,
    /// Faults of this file.
    pub diagnostics: Vec<Diagnostic>,
}

/// A test file (`tests/*.test.json`) as read.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// Path relative to the project folder (`tests/reorder_supply.test.json`).
    pub path: PathBuf,
    /// The file's text, kept for export.
    pub text: String,
    /// The suite, when the file has no faults.
    pub suite: Option<super::TestSuite>,
    /// Faults of this file.
    pub diagnostics: Vec<Diagnostic>,
}

/// A file a project keeps beside its definitions: a test file or a snapshot of a test case
/// (`tests/__snapshots__/*.json`), by path relative to the project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFile {
    /// Path relative to the project folder.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Where a project keeps its tests, and their snapshots.
pub const TESTS_DIR: &str = "tests";
/// Where a project keeps the snapshots of its test cases.
pub const SNAPSHOTS_DIR: &str = "tests/__snapshots__";
/// How a test file's name ends.
pub const TEST_SUFFIX: &str = ".test.json";

/// What loading a folder or a file found.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    /// The folder (None when a single file was loaded).
    pub root: Option<PathBuf>,
    /// `flowdeck.toml`, when loading a folder (defaults when it is absent).
    pub config: Option<ProjectConfig>,
    /// The text of `flowdeck.toml`, when present.
    pub config_text: Option<String>,
    /// The text of `schema.sql`, when present.
    pub schema: Option<String>,
    /// Every definition file, good or bad.
    pub files: Vec<LoadedFile>,
    /// Faults that belong to no single definition (flowdeck.toml, duplicate names).
    pub project_diagnostics: Vec<Diagnostic>,
    /// Test files (`tests/*.test.json`), good or bad.
    pub tests: Vec<TestFile>,
    /// Snapshots of test cases (`tests/__snapshots__/*.json`).
    pub snapshots: Vec<KeptFile>,
}

impl LoadedProject {
    /// Every fault found, project-wide ones first, test files' last.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.project_diagnostics
            .iter()
            .chain(self.files.iter().flat_map(|f| f.diagnostics.iter()))
            .chain(self.tests.iter().flat_map(|t| t.diagnostics.iter()))
    }

    /// The usable definitions with their files.
    pub fn definitions(&self) -> impl Iterator<Item = (&LoadedFile, &Definition)> {
        self.files
            .iter()
            .filter_map(|f| f.definition.as_ref().map(|d| (f, d)))
    }
}

/// A folder or file that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The path does not exist.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A folder with none of the files of a project.
    #[error(
        "{0} is not a flowdeck project: it has no flowdeck.toml, workflows/ or endpoints/ (run `flowdeck init DIR` to start one)"
    )]
    NotAProject(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
    move |source| ProjectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Load a project folder or one definition file.
pub fn load(path: &Path) -> Result<LoadedProject, ProjectError> {
    if !path.exists() {
        return Err(ProjectError::Missing(path.to_path_buf()));
    }
    if path.is_dir() {
        load_dir(path)
    } else {
        load_file(path)
    }
}

/// The project folder a definition file belongs to: the nearest folder above it that holds
/// `flowdeck.toml`, else the folder above its `workflows/` or `endpoints/` folder; `None`
/// for a file on its own.
pub fn project_of(file: &Path) -> Option<PathBuf> {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let folder = file.parent()?;
    if let Some(root) = folder
        .ancestors()
        .find(|dir| dir.join("flowdeck.toml").is_file())
    {
        return Some(root.to_path_buf());
    }
    let named = folder.file_name()?.to_string_lossy();
    kind_of_folder(&named)?;
    folder.parent().map(Path::to_path_buf)
}

/// Load one definition file (its kind told from its fields or its folder name).
pub fn load_file(path: &Path) -> Result<LoadedProject, ProjectError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let expected = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| kind_of_folder(&n.to_string_lossy()));
    let parsed = parse_definition(&text, path, expected);
    let mut project = LoadedProject {
        root: None,
        config: None,
        config_text: None,
        schema: None,
        files: vec![LoadedFile {
            path: path.to_path_buf(),
            text,
            definition: parsed.definition,
            diagnostics: parsed.diagnostics,
        }],
        project_diagnostics: Vec::new(),
        tests: Vec::new(),
        snapshots: Vec::new(),
    };
    check_unique_keys(&mut project);
    Ok(project)
}

fn kind_of_folder(name: &str) -> Option<DefinitionKind> {
    match name {
        "workflows" => Some(DefinitionKind::Workflow),
        "endpoints" => Some(DefinitionKind::Endpoint),
        _ => None,
    }
}

/// Why flowdeck does not read `path` of the project folder `dir`: it is a link (or inside a
/// linked folder) that leads out of the folder. Links that stay inside are followed.
pub fn outside_link(dir: &Path, path: &Path) -> Option<Diagnostic> {
    let root = std::fs::canonicalize(dir).ok()?;
    let relative = path.strip_prefix(dir).unwrap_or(path).to_path_buf();
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        // a dangling link: what it names is not in the folder either
        Err(_) if std::fs::symlink_metadata(path).is_ok() => {
            return Some(
                Diagnostic::new(relative, "is a link to a file that does not exist")
                    .hint("remove the link, or make it point to a file inside the project folder"),
            );
        }
        Err(_) => return None,
    };
    (!target.starts_with(&root)).then(|| {
        Diagnostic::new(
            relative,
            format!(
                "is a link to {}, outside the project folder; it was not read",
                target.display()
            ),
        )
        .hint("flowdeck reads only files inside the project folder: copy the file in, or link to a file inside it")
    })
}

/// Load a project folder.
pub fn load_dir(dir: &Path) -> Result<LoadedProject, ProjectError> {
    let config_path = dir.join("flowdeck.toml");
    let has_any =
        config_path.exists() || dir.join("workflows").is_dir() || dir.join("endpoints").is_dir();
    if !has_any {
        return Err(ProjectError::NotAProject(dir.to_path_buf()));
    }
    let mut project_diagnostics = Vec::new();
    let config_outside = outside_link(dir, &config_path);
    let (config, config_text) = if let Some(d) = config_outside {
        project_diagnostics.push(d);
        (None, None)
    } else if config_path.exists() {
        let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
        // with the path of the setting at fault (`store.retain`), for the diagnostic
        let read = match toml::Deserializer::parse(&text) {
            Err(e) => Err((None, e)),
            Ok(de) => serde_path_to_error::deserialize::<_, ProjectConfig>(de).map_err(|e| {
                let path = e.path().to_string();
                ((path != ".").then_some(path), e.into_inner())
            }),
        };
        match read {
            Ok(c) => (Some(c), Some(text)),
            Err((field, e)) => {
                let mut d = Diagnostic::new("flowdeck.toml", e.message().to_string())
                    .hint("fix flowdeck.toml; the project's settings were not changed");
                if let Some(f) = field {
                    d = d.field(f);
                }
                if let Some(span) = e.span() {
                    let (l, c) = super::source_map::line_col(&text, span.start);
                    d = d.at(l, c);
                }
                project_diagnostics.push(d);
                (None, Some(text))
            }
        }
    } else {
        (Some(ProjectConfig::default()), None)
    };
    let schema_path = dir.join("schema.sql");
    let schema = if let Some(d) = outside_link(dir, &schema_path) {
        project_diagnostics.push(d);
        None
    } else if schema_path.exists() {
        Some(std::fs::read_to_string(&schema_path).map_err(io(&schema_path))?)
    } else {
        None
    };
    let mut files = Vec::new();
    for (folder, kind) in [
        ("workflows", DefinitionKind::Workflow),
        ("endpoints", DefinitionKind::Endpoint),
    ] {
        let folder_path = dir.join(folder);
        if !folder_path.is_dir() {
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder_path)
            .map_err(io(&folder_path))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            if let Some(d) = outside_link(dir, &path) {
                files.push(LoadedFile {
                    path: relative,
                    text: String::new(),
                    definition: None,
                    diagnostics: vec![d],
                });
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            // faults name the file as the user can open it; the store keeps the relative path
            let parsed = parse_definition(&text, &path, Some(kind));
            files.push(LoadedFile {
                path: relative,
                text,
                definition: parsed.definition,
                diagnostics: parsed.diagnostics,
            });
        }
    }
    let (tests, snapshots) = load_tests(dir)?;
    let mut project = LoadedProject {
        root: Some(dir.to_path_buf()),
        config,
        config_text,
        schema,
        files,
        project_diagnostics,
        tests,
        snapshots,
    };
    check_unique_keys(&mut project);
    Ok(project)
}

/// The JSON files of `folder` whose names end with `suffix`, sorted (none when it is absent).
fn files_in(folder: &Path, suffix: &str) -> Result<Vec<PathBuf>, ProjectError> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(io(folder))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(suffix))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// The test files of a project folder, read, and the snapshots beside them.
pub fn load_tests(dir: &Path) -> Result<(Vec<TestFile>, Vec<KeptFile>), ProjectError> {
    let mut tests = Vec::new();
    for path in files_in(&dir.join(TESTS_DIR), TEST_SUFFIX)? {
        if let Some(d) = outside_link(dir, &path) {
            tests.push(TestFile {
                path: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
                text: String::new(),
                suite: None,
                diagnostics: vec![d],
            });
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let parsed = super::parse_suite(&text, &path);
        tests.push(TestFile {
            path: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
            text,
            suite: parsed.suite,
            diagnostics: parsed.diagnostics,
        });
    }
    let mut snapshots = Vec::new();
    for path in files_in(&dir.join(SNAPSHOTS_DIR), ".json")? {
        if outside_link(dir, &path).is_some() {
            // a snapshot linked from elsewhere is not the project's: its case is compared
            // as if it had none (and says so)
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        snapshots.push(KeptFile {
            path: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
            text,
        });
    }
    Ok((tests, snapshots))
}

/// Two files defining the same workflow name or endpoint route: the second is refused.
fn check_unique_keys(project: &mut LoadedProject) {
    let mut seen: HashMap<(DefinitionKind, String), PathBuf> = HashMap::new();
    for file in &mut project.files {
        let Some(def) = &file.definition else {
            continue;
        };
        let key = (def.kind(), def.key());
        if let Some(first) = seen.get(&key) {
            file.diagnostics.push(
                Diagnostic::new(
                    file.path.clone(),
                    format!(
                        "{} {:?} is also defined in {}",
                        def.kind(),
                        key.1,
                        first.display()
                    ),
                )
                .hint("give each workflow its own name and each endpoint its own method and path"),
            );
            file.definition = None;
        } else {
            seen.insert(key, file.path.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_rules_read_from_toml_survive_the_stored_json() {
        let config: ProjectConfig =
            toml::from_str("name = \"p\"\n[store]\nretain = \"7d\"\nmax_size = \"2 GB\"\n")
                .unwrap();
        assert_eq!(
            config.store.retain,
            Some(std::time::Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            config.store.max_size.map(|s| s.as_u64()),
            Some(2_000_000_000)
        );
        let stored = serde_json::to_string(&config).unwrap();
        let back: ProjectConfig = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, config);
        // a project without them stores what it stored before
        let plain: ProjectConfig = toml::from_str("name = \"p\"\n").unwrap();
        assert!(!serde_json::to_string(&plain).unwrap().contains("store"));
    }
}
