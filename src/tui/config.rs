//! The studio's configuration file: `$XDG_CONFIG_HOME/flowdeck/config.toml` (or the path in
//! `FLOWDECK_CONFIG`). Every key is optional; `flowdeck config --print-default` prints the
//! whole default file, generated from the command registry.

use super::commands::COMMANDS;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// The configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Terminal behaviour.
    pub ui: UiConfig,
    /// Colours of the studio (`[theme]`).
    pub theme: ThemeConfig,
    /// Command name → keys.
    pub keymap: BTreeMap<String, Vec<String>>,
}

/// Terminal behaviour.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Capture the mouse (click to select, wheel to scroll).
    pub mouse: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { mouse: true }
    }
}

/// Colours, by name (`cyan`, `lightred`, `darkgray`, …) or `#rrggbb`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ThemeConfig {
    /// Focus, titles, the selected pane.
    pub accent: String,
    /// Succeeded, valid, active.
    pub ok: String,
    /// Failed, invalid.
    pub error: String,
    /// Running, changed, warnings.
    pub warn: String,
    /// Secondary text.
    pub muted: String,
    /// Background of the selected row.
    pub selection: String,
}

impl Default for ThemeConfig {
    fn default() -> Self {
        Self {
            accent: "cyan".into(),
            ok: "green".into(),
            error: "lightred".into(),
            warn: "yellow".into(),
            muted: "darkgray".into(),
            selection: "#264f78".into(),
        }
    }
}

/// Where the config file is looked for.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWDECK_CONFIG") {
        return Some(PathBuf::from(p));
    }
    Some(dirs::config_dir()?.join("flowdeck").join("config.toml"))
}

/// Load the config; a missing file gives the defaults, a broken one the defaults plus the
/// fault (the studio says so and starts anyway).
pub fn load() -> (Config, Option<String>) {
    let Some(path) = path() else {
        return (Config::default(), None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return (Config::default(), None);
    };
    match toml::from_str::<Config>(&text) {
        Ok(c) => (c, None),
        Err(e) => (
            Config::default(),
            Some(format!(
                "{}: {} (using the defaults)",
                path.display(),
                e.message()
            )),
        ),
    }
}

/// The default config file, with a comment on every setting.
pub fn default_text() -> String {
    let t = ThemeConfig::default();
    let mut out = String::new();
    out.push_str("# flowdeck studio configuration.\n");
    out.push_str("# Copy to ~/.config/flowdeck/config.toml (or point FLOWDECK_CONFIG at a file) and change\n");
    out.push_str("# what you like; anything left out keeps its default.\n\n");
    out.push_str("[ui]\n# Capture the mouse: click to focus and select, wheel to scroll. `m` switches it at run time.\nmouse = true\n\n");
    out.push_str("[theme]\n# Colour names (black, red, green, yellow, blue, magenta, cyan, gray, darkgray,\n# lightred, …) or #rrggbb. With NO_COLOR set the studio uses no colour at all.\n");
    for (k, v, what) in [
        ("accent", &t.accent, "focus, titles"),
        ("ok", &t.ok, "succeeded, valid, active"),
        ("error", &t.error, "failed, invalid"),
        ("warn", &t.warn, "running, changed"),
        ("muted", &t.muted, "secondary text"),
        ("selection", &t.selection, "background of the selected row"),
    ] {
        let _ = writeln!(out, "{k} = \"{v}\"  # {what}");
    }
    out.push_str("\n[keymap]\n# command = [keys]. Keys: a character (x, G, ?), space, enter, esc, tab, shift-tab,\n# backspace, up, down, left, right, home, end, pageup, pagedown, f1…f12, with ctrl-/alt-.\n");
    for c in COMMANDS {
        let keys: Vec<String> = c.keys.iter().map(|k| format!("\"{k}\"")).collect();
        let _ = writeln!(
            out,
            "{} = [{}]  # {}",
            c.name,
            keys.join(", "),
            c.description
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_text_parses_back_to_the_defaults() {
        let c: Config = toml::from_str(&default_text()).unwrap();
        assert_eq!(c.ui, UiConfig::default());
        assert_eq!(c.theme, ThemeConfig::default());
        let (map, faults) = super::super::keymap::Keymap::with_overrides(&c.keymap);
        assert!(faults.is_empty(), "{faults:?}");
        for info in COMMANDS {
            assert_eq!(
                map.keys(info.cmd),
                super::super::keymap::Keymap::defaults().keys(info.cmd)
            );
        }
    }

    #[test]
    fn partial_files_keep_the_defaults() {
        let c: Config = toml::from_str("[ui]\nmouse = false\n").unwrap();
        assert!(!c.ui.mouse);
        assert_eq!(c.theme, ThemeConfig::default());
        assert!(toml::from_str::<Config>("[ui]\nmice = 1\n").is_err());
    }
}
