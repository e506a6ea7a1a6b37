//! The record of the Envoy meshcd started, `run/envoy.pid.json` in its folder, and what Linux's
//! `/proc` says about a process, so that a restarted meshcd can tell whether a process is still
//! that Envoy (same pid, same start time since the same boot, same command line).
//!
//! The record lives in `run/`, a subfolder: Envoy watches its folder for renames (any rename into
//! it reloads the resource files), and the record is written by atomic rename.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envoy::{files, EnvoyError};

/// The subfolder of an Envoy's folder with its pid file and log.
pub const RUN_DIR: &str = "run";
/// The pid file's name in [`RUN_DIR`].
pub const PID_FILE: &str = "envoy.pid.json";
/// The log file's name in [`RUN_DIR`].
pub const LOG_FILE: &str = "envoy.log";

/// `<config_dir>/run/envoy.pid.json`.
pub fn pid_path(config_dir: &Path) -> PathBuf {
    config_dir.join(RUN_DIR).join(PID_FILE)
}

/// `<config_dir>/run/envoy.log`.
pub fn log_path(config_dir: &Path) -> PathBuf {
    config_dir.join(RUN_DIR).join(LOG_FILE)
}

/// What meshcd records about an Envoy it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PidRecord {
    /// The process id.
    pub pid: u32,
    /// When the process started, in clock ticks since boot (`/proc/<pid>/stat`, field 22): with
    /// the boot id, it tells a reused pid apart.
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id` when it was started.
    pub boot_id: String,
    /// Envoy's admin port.
    pub admin_port: u16,
    /// The full command line (`argv`, the binary first).
    pub command: Vec<String>,
    /// SHA-256 (hex) of the bootstrap it was started with.
    pub bootstrap_sha256: String,
}

impl PidRecord {
    /// Writes the record to `path` (atomically, creating the folder).
    pub fn write(&self, path: &Path) -> Result<(), EnvoyError> {
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir).map_err(|e| EnvoyError::io(dir, e))?;
        }
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| EnvoyError::Invalid {
            reason: format!("{}: cannot serialize: {e}", path.display()),
        })?;
        text.push(b'\n');
        files::write_atomic(path, &text)
    }

    /// Reads the record at `path`: `Ok(None)` if there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, PidFileError> {
        let Some(bytes) = files::read_raw(path).map_err(|source| PidFileError::Read {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| PidFileError::Parse {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Removes the record at `path` (nothing if there is none).
    pub fn remove(path: &Path) {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
}

/// A pid file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// It could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<EnvoyError>,
    },
    /// It is not a record meshcd wrote.
    #[error("{} is not a meshcd pid file", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`); empty where there is none.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

/// What `/proc` says about a running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Start time in clock ticks since boot.
    pub start_time: u64,
    /// Exited, not yet reaped by its parent.
    pub zombie: bool,
    /// Its command line (`argv`).
    pub command: Vec<String>,
}

impl ProcessInfo {
    /// The process `pid`; `None` if there is none (or no `/proc`).
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (state, start_time) = parse_stat(&stat)?;
        let command = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|bytes| split_cmdline(&bytes))
            .unwrap_or_default();
        Some(Self {
            start_time,
            zombie: state == 'Z' || state == 'X',
            command,
        })
    }

    /// Whether `pid` still runs and started at `start_time` (not exited, not a reused pid).
    pub fn is_running(pid: u32, start_time: u64) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .is_some_and(|(state, started)| started == start_time && state != 'Z' && state != 'X')
    }
}

/// The state letter and the start time of a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces and parentheses itself: fields are counted after the
/// last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 is the state; field 22 the start time: 18 more after the state.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some((state, start_time))
}

fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_parsed_after_the_command_name() {
        let stat = "4242 (envoy (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 \
                    12 0 987654 123456789 2000 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
        assert_eq!(parse_stat("1 (init) Z"), None);
        assert_eq!(
            split_cmdline(b"/bin/envoy\0-c\0/x/bootstrap.yaml\0"),
            ["/bin/envoy", "-c", "/x/bootstrap.yaml"]
        );
    }

    #[test]
    fn this_process_is_running_and_its_record_round_trips() {
        let me = ProcessInfo::read(std::process::id()).expect("/proc of this process");
        assert!(!me.zombie);
        assert!(!me.command.is_empty());
        assert!(ProcessInfo::is_running(std::process::id(), me.start_time));
        assert!(!ProcessInfo::is_running(
            std::process::id(),
            me.start_time + 1
        ));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = pid_path(dir.path());
        assert!(PidRecord::read(&path).expect("no file is fine").is_none());
        let record = PidRecord {
            pid: std::process::id(),
            start_time: me.start_time,
            boot_id: boot_id(),
            admin_port: 9901,
            command: me.command,
            bootstrap_sha256: sha256_hex(b"{}"),
        };
        record.write(&path).expect("write");
        assert_eq!(PidRecord::read(&path).expect("read"), Some(record));
        std::fs::write(&path, "12345\n").expect("write");
        assert!(matches!(
            PidRecord::read(&path),
            Err(PidFileError::Parse { .. })
        ));
        PidRecord::remove(&path);
        assert!(!path.exists());
    }
}
