//! Keys: parsing key names (`ctrl-p`, `shift-tab`, `G`), and resolving a key pressed in a
//! context to a command. Built from the command registry plus the user's overrides.

use super::commands::{COMMANDS, Cmd, Context};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl and Alt (Shift is part of the character for character keys).
    pub mods: KeyModifiers,
}

impl Key {
    /// Normalise a terminal key event for lookup.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::BackTab => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            KeyCode::Char(c) => {
                // the character already says whether Shift was held
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            other => other,
        };
        Key { code, mods }
    }

    /// Parse a key name: `x`, `G`, `?`, `space`, `enter`, `esc`, `tab`, `shift-tab`,
    /// `ctrl-p`, `alt-x`, `up`, `pageup`, `f5`, …
    pub fn parse(name: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = name;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                mods |= KeyModifiers::ALT;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower
                .strip_prefix("shift-")
                .filter(|r| r.chars().count() > 1)
            {
                mods |= KeyModifiers::SHIFT;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "space" => KeyCode::Char(' '),
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" | "↑" => KeyCode::Up,
            "down" | "↓" => KeyCode::Down,
            "left" | "←" => KeyCode::Left,
            "right" | "→" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }),
                    _ => return Err(format!("unknown key {name:?}")),
                }
            }
        };
        Ok(Key { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// Keys of every command, the defaults with the user's overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    keys: BTreeMap<Cmd, Vec<Key>>,
}

impl Keymap {
    /// The registry's default keys.
    pub fn defaults() -> Keymap {
        let keys = COMMANDS
            .iter()
            .map(|c| {
                (
                    c.cmd,
                    c.keys.iter().filter_map(|k| Key::parse(k).ok()).collect(),
                )
            })
            .collect();
        Keymap { keys }
    }

    /// Defaults with `overrides` (command name → key names) applied; returns the faults
    /// (unknown commands or keys), which leave the defaults in place.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut map = Keymap::defaults();
        let mut faults = Vec::new();
        for (name, names) in overrides {
            let Some(info) = super::commands::by_name(name) else {
                faults.push(format!("keymap: unknown command {name:?}"));
                continue;
            };
            let parsed: Result<Vec<Key>, String> = names.iter().map(|n| Key::parse(n)).collect();
            match parsed {
                Ok(keys) => {
                    map.keys.insert(info.cmd, keys);
                }
                Err(e) => faults.push(format!("keymap.{name}: {e}")),
            }
        }
        (map, faults)
    }

    /// The keys of a command.
    pub fn keys(&self, cmd: Cmd) -> &[Key] {
        self.keys.get(&cmd).map_or(&[], Vec::as_slice)
    }

    /// The keys of a command as text (`k/↑`).
    pub fn describe(&self, cmd: Cmd) -> String {
        self.keys(cmd)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The command bound to `key` in `contexts` (searched in order).
    pub fn resolve(&self, key: Key, contexts: &[Context]) -> Option<Cmd> {
        for context in contexts {
            for info in COMMANDS.iter().filter(|c| c.contexts.contains(context)) {
                if self.keys(info.cmd).contains(&key) {
                    return Some(info.cmd);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: mods,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    #[test]
    fn parses_and_prints_key_names() {
        for name in [
            "x",
            "G",
            "?",
            "space",
            "enter",
            "esc",
            "tab",
            "shift-tab",
            "ctrl-p",
            "alt-x",
            "pageup",
            "f5",
        ] {
            let k = Key::parse(name).unwrap();
            assert_eq!(
                Key::parse(&k.to_string().replace('↑', "up")).unwrap(),
                k,
                "{name}"
            );
        }
        assert!(Key::parse("nope").is_err());
        assert_eq!(Key::parse("ctrl-P").unwrap(), Key::parse("ctrl-p").unwrap());
    }

    #[test]
    fn resolves_terminal_events() {
        let map = Keymap::defaults();
        let g = Key::from_event(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT));
        assert_eq!(map.resolve(g, &[Context::Global]), Some(Cmd::Bottom));
        let back = Key::from_event(&ev(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(map.resolve(back, &[Context::Global]), Some(Cmd::FocusPrev));
        let space = Key::from_event(&ev(KeyCode::Char(' '), KeyModifiers::NONE));
        assert_eq!(
            map.resolve(space, &[Context::Workflows, Context::Global]),
            Some(Cmd::Toggle)
        );
        assert_eq!(
            map.resolve(space, &[Context::Activity, Context::Global]),
            None
        );
    }

    #[test]
    fn overrides_replace_defaults_and_report_faults() {
        let mut o = BTreeMap::new();
        o.insert("emit".to_string(), vec!["E".to_string()]);
        o.insert("nope".to_string(), vec!["z".to_string()]);
        o.insert("help".to_string(), vec!["bogus-key".to_string()]);
        let (map, faults) = Keymap::with_overrides(&o);
        assert_eq!(map.describe(Cmd::Emit), "E");
        assert_eq!(map.describe(Cmd::Help), "?");
        assert_eq!(faults.len(), 2);
    }
}
