//! The agent's preferences, kept in a JSON file in the OS config folder
//! (`~/.config/agent-inbox/config.json` on Linux). The token is never stored here: it lives
//! in the OS keychain (see [`crate::credentials`]).
//!
//! Reading is lenient about what is missing (defaults) and unknown (ignored, so an older app
//! reads a newer file), strict about what is wrong: a file that is not valid JSON or has a
//! wrong value is an error naming the file and the problem, and the file is left as it is.
//! Saving is atomic (temporary file in the same folder, flushed, renamed), and a save never
//! destroys an unreadable file: it is first kept beside it as `config.json.corrupt-<time>`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};

/// Overrides the folder that holds `config.json` (tests, portable installs).
pub const CONFIG_DIR_ENV: &str = "AGENT_INBOX_CONFIG_DIR";
/// The folder name under the OS config folder.
pub const APP_DIR: &str = "agent-inbox";
/// The file name inside that folder.
pub const FILE_NAME: &str = "config.json";

/// Light and dark themes follow the OS unless the agent picks one (R10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// Where the main window was, to put it back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WindowGeometry {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// Everything the desktop app remembers between runs, except the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Preferences {
    /// The chat service last signed in to, such as `https://chat.example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub service_url: Option<String>,
    /// The email last signed in with (the keychain entry is keyed by URL and email).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub email: Option<String>,
    /// Native notifications for new visitor messages while the window is not focused.
    pub notify_messages: bool,
    /// A sound with offers and their re-alerts (R9).
    pub sound: bool,
    /// Screen lock or suspend makes the agent unavailable; unlock or resume restores (R9).
    pub presence_follows_lock: bool,
    /// Start the app when the agent logs in to the computer (R8).
    pub launch_at_login: bool,
    pub theme: Theme,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub window: Option<WindowGeometry>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            service_url: None,
            email: None,
            notify_messages: true,
            sound: true,
            presence_follows_lock: false,
            launch_at_login: false,
            theme: Theme::System,
            window: None,
        }
    }
}

/// The preferences file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    path: PathBuf,
}

impl ConfigFile {
    /// A preferences file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigFile { path: path.into() }
    }

    /// `$AGENT_INBOX_CONFIG_DIR/config.json` when that is set, otherwise
    /// `<OS config folder>/agent-inbox/config.json` (`$XDG_CONFIG_HOME` or `~/.config` on
    /// Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
    pub fn default_location() -> Result<Self> {
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(ConfigFile::new(PathBuf::from(dir).join(FILE_NAME)));
        }
        let base = dirs::config_dir().ok_or_else(|| {
            Error::io(
                "finding the configuration folder",
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("the OS reports no config folder (set {CONFIG_DIR_ENV})"),
                ),
            )
        })?;
        Ok(ConfigFile::new(base.join(APP_DIR).join(FILE_NAME)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the preferences. A missing file gives the defaults. A file that cannot be read
    /// or parsed is an error naming the file and what is wrong; the file is left untouched.
    pub fn load(&self) -> Result<Preferences> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Preferences::default()),
            Err(e) => {
                return Err(Error::io(
                    format!("reading the settings file {}", self.path.display()),
                    e,
                ));
            }
        };
        parse(&bytes).map_err(|e| self.corrupt_error(e))
    }

    /// Writes the preferences atomically: a crash leaves either the old or the new file. If
    /// the current file is unreadable it is kept as `config.json.corrupt-<unix time>` first.
    pub fn save(&self, prefs: &Preferences) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(prefs).map_err(|e| {
            Error::io(
                "encoding the settings",
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        json.push(b'\n');
        self.keep_if_corrupt()?;
        crate::fsutil::write_atomically(&self.path, &json)
    }

    fn corrupt_error(&self, e: serde_json::Error) -> Error {
        Error::io(
            format!(
                "the settings file {} is not valid (it was left as it is; fix or delete it)",
                self.path.display()
            ),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    }

    /// Copies an existing file that does not parse to a name beside it, so that saving over
    /// it loses nothing the agent may want back.
    fn keep_if_corrupt(&self) -> Result<()> {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Ok(());
        };
        if parse(&bytes).is_ok() {
            return Ok(());
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".corrupt-{secs}"));
        let backup = PathBuf::from(name);
        std::fs::copy(&self.path, &backup).map_err(|e| {
            Error::io(
                format!(
                    "keeping the unreadable settings file as {}",
                    backup.display()
                ),
                e,
            )
        })?;
        tracing::warn!(
            file = %self.path.display(),
            kept_as = %backup.display(),
            "the settings file was unreadable; kept a copy before saving new settings"
        );
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> std::result::Result<Preferences, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_in(dir: &tempfile::TempDir) -> ConfigFile {
        ConfigFile::new(dir.path().join("nested").join(FILE_NAME))
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let prefs = file_in(&dir).load().expect("load");
        assert_eq!(prefs, Preferences::default());
        assert!(prefs.notify_messages && prefs.sound);
        assert!(!prefs.presence_follows_lock && !prefs.launch_at_login);
        assert_eq!(prefs.theme, Theme::System);
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_in(&dir);
        let prefs = Preferences {
            service_url: Some("https://chat.example.com".into()),
            email: Some("ada@example.com".into()),
            notify_messages: false,
            sound: false,
            presence_follows_lock: true,
            launch_at_login: true,
            theme: Theme::Dark,
            window: Some(WindowGeometry {
                x: -20,
                y: 40,
                width: 1200,
                height: 800,
            }),
        };
        file.save(&prefs).expect("save");
        assert_eq!(file.load().expect("load"), prefs);
        // Saving again replaces the file and leaves no temporary file behind.
        let prefs = Preferences {
            theme: Theme::Light,
            ..prefs
        };
        file.save(&prefs).expect("save again");
        assert_eq!(file.load().expect("load"), prefs);
        let names: Vec<_> = std::fs::read_dir(file.path().parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_in(&dir);
        std::fs::create_dir_all(file.path().parent().expect("parent")).expect("mkdir");
        std::fs::write(
            file.path(),
            r#"{"sound": false, "from_a_newer_version": 1}"#,
        )
        .expect("write");
        let prefs = file.load().expect("load");
        assert_eq!(
            prefs,
            Preferences {
                sound: false,
                ..Preferences::default()
            }
        );
    }

    #[test]
    fn corrupt_file_is_a_clear_error_and_is_never_lost() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_in(&dir);
        std::fs::create_dir_all(file.path().parent().expect("parent")).expect("mkdir");
        let garbage = b"{\"sound\": tru";
        std::fs::write(file.path(), garbage).expect("write");

        let err = file.load().expect_err("corrupt file must not load");
        let text = err.to_string();
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("not valid"), "{text}");
        // Loading leaves it as it is.
        assert_eq!(std::fs::read(file.path()).expect("read"), garbage);

        // A save keeps the unreadable file beside the new one.
        file.save(&Preferences::default()).expect("save");
        assert_eq!(file.load().expect("load"), Preferences::default());
        let kept: Vec<_> = std::fs::read_dir(file.path().parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(std::fs::read(&kept[0]).expect("read"), garbage);
    }

    #[test]
    fn wrong_value_names_the_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_in(&dir);
        std::fs::create_dir_all(file.path().parent().expect("parent")).expect("mkdir");
        std::fs::write(file.path(), r#"{"theme": "blue"}"#).expect("write");
        let text = file.load().expect_err("bad theme").to_string();
        assert!(text.contains("unknown variant `blue`"), "{text}");
    }

    #[test]
    fn env_override_picks_the_folder() {
        // Only reads the variable; set by whoever runs the tests (not set here: setting
        // process environment is unsafe in edition 2024 and the crate forbids unsafe code).
        let file = ConfigFile::default_location().expect("a config folder");
        assert!(file.path().ends_with(FILE_NAME));
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
            assert_eq!(file.path(), PathBuf::from(dir).join(FILE_NAME));
        } else {
            assert!(file.path().ends_with(Path::new(APP_DIR).join(FILE_NAME)));
        }
    }
}
