//! Envoy's log: a managed Envoy writes its stderr to a file in its folder (`run/envoy.log`), not to
//! a pipe, so that it needs no meshcd to write to and a restarted meshcd can read the log of an
//! Envoy it adopted. [`LogBuffer`] keeps the last lines in memory; one that follows the file reads
//! what was appended each time it is asked (so a reader always sees every line written before it
//! asked) and when the supervisor polls, and copies the file to `envoy.log.1` and empties it once
//! it passes [`MAX_LOG_BYTES`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::envoy::EnvoyError;

/// How many of Envoy's log lines [`LogBuffer`] keeps.
pub const LOG_LINES: usize = 200;
/// Past this size the log file is copied to `<name>.1` and emptied.
pub const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;
/// At most this much of the file is read at once (more is skipped: only the last lines are kept).
const MAX_READ: u64 = 256 * 1024;

/// The last [`LOG_LINES`] lines of Envoy's log, shared between the supervisor and whoever reports
/// errors; optionally following the file Envoy writes its log to.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    inner: Arc<Mutex<Ring>>,
    file: Option<Arc<Mutex<Follow>>>,
}

#[derive(Debug)]
struct Ring {
    lines: VecDeque<String>,
    capacity: usize,
    /// Lines ever pushed; the number of the next line.
    total: u64,
}

/// Where to begin following a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowFrom {
    /// At its current end: only lines written from now on (a freshly started Envoy).
    End,
    /// With its last `n` bytes (an adopted Envoy: what it logged lately).
    Tail(u64),
}

/// A log file being followed.
#[derive(Debug)]
struct Follow {
    path: PathBuf,
    file: File,
    /// Bytes of the file read so far.
    offset: u64,
    /// The start of a line whose end was not written yet.
    partial: Vec<u8>,
    /// Skip up to the first newline (after starting or skipping in the middle of a line).
    skip_to_newline: bool,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(LOG_LINES)
    }
}

impl LogBuffer {
    /// An empty buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Ring {
                lines: VecDeque::with_capacity(capacity.min(1024)),
                capacity: capacity.max(1),
                total: 0,
            })),
            file: None,
        }
    }

    /// A buffer of [`LOG_LINES`] lines following the log file `path` (created if missing) from
    /// `from`.
    pub fn following(path: &Path, from: FollowFrom) -> Result<Self, EnvoyError> {
        let file = open_log(path)?;
        let len = file.metadata().map_err(|e| EnvoyError::io(path, e))?.len();
        let (offset, skip_to_newline) = match from {
            FollowFrom::End => (len, false),
            FollowFrom::Tail(n) => (len.saturating_sub(n), n < len),
        };
        let logs = Self {
            file: Some(Arc::new(Mutex::new(Follow {
                path: path.to_path_buf(),
                file,
                offset,
                partial: Vec::new(),
                skip_to_newline,
            }))),
            ..Self::default()
        };
        logs.refresh();
        Ok(logs)
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the lines appended to the followed file since the last call (nothing for a buffer
    /// that follows no file); rotates the file when it is too big. Errors are logged, not
    /// returned: the log is for messages only.
    pub fn refresh(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let mut follow = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match follow.read_lines() {
            Ok(lines) => {
                for line in lines {
                    tracing::trace!(target: "envoy", "{line}");
                    self.push(line);
                }
            }
            Err(e) => tracing::debug!("cannot read Envoy's log {}: {e}", follow.path.display()),
        }
        if follow.offset > MAX_LOG_BYTES {
            if let Err(e) = follow.rotate() {
                tracing::warn!("cannot rotate Envoy's log {}: {e}", follow.path.display());
            }
        }
    }

    /// Adds a line, dropping the oldest if full.
    pub fn push(&self, line: String) {
        let mut ring = self.ring();
        if ring.lines.len() == ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
        ring.total += 1;
    }

    /// Every line kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.refresh();
        self.ring().lines.iter().cloned().collect()
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> Vec<String> {
        self.refresh();
        let ring = self.ring();
        ring.lines
            .iter()
            .skip(ring.lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// A position: [`Self::since`] returns the lines pushed after it.
    pub fn mark(&self) -> u64 {
        self.refresh();
        self.ring().total
    }

    /// The lines pushed after `mark` that are still kept.
    pub fn since(&self, mark: u64) -> Vec<String> {
        self.refresh();
        let ring = self.ring();
        let new = ring.total.saturating_sub(mark);
        let kept = ring.lines.len();
        let skip = kept.saturating_sub(usize::try_from(new).unwrap_or(usize::MAX));
        ring.lines.iter().skip(skip).cloned().collect()
    }
}

/// Opens (creating) a log file for reading.
fn open_log(path: &Path) -> Result<File, EnvoyError> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| EnvoyError::io(dir, e))?;
    }
    File::options()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| EnvoyError::io(path, e))
}

/// The file an Envoy's stderr goes to: `path` opened for appending (created if missing).
pub fn stderr_file(path: &Path) -> Result<File, EnvoyError> {
    open_log(path)
}

impl Follow {
    /// The complete lines appended since the last read.
    fn read_lines(&mut self) -> std::io::Result<Vec<String>> {
        let len = self.file.metadata()?.len();
        if len < self.offset {
            // Emptied (rotated): start again at its beginning.
            self.offset = 0;
            self.partial.clear();
            self.skip_to_newline = false;
        }
        if len - self.offset > MAX_READ {
            self.offset = len - MAX_READ;
            self.partial.clear();
            self.skip_to_newline = true;
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        (&mut self.file)
            .take(len - self.offset)
            .read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        let mut data = std::mem::take(&mut self.partial);
        data.extend_from_slice(&bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, byte) in data.iter().enumerate() {
            if *byte != b'\n' {
                continue;
            }
            if self.skip_to_newline {
                self.skip_to_newline = false;
            } else {
                lines.push(
                    String::from_utf8_lossy(&data[start..i])
                        .trim_end()
                        .to_string(),
                );
            }
            start = i + 1;
        }
        self.partial = data[start..].to_vec();
        Ok(lines)
    }

    /// Copies the file to `<name>.1` and empties it (Envoy appends, so it goes on at the start).
    fn rotate(&mut self) -> std::io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        fs_err::copy(&self.path, &old)?;
        self.file.set_len(0)?;
        self.offset = 0;
        self.partial.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn log_buffer_keeps_the_last_lines() {
        let logs = LogBuffer::new(3);
        let mark = logs.mark();
        for i in 0..5 {
            logs.push(format!("line {i}"));
        }
        assert_eq!(logs.lines(), ["line 2", "line 3", "line 4"]);
        assert_eq!(logs.tail(2), ["line 3", "line 4"]);
        assert_eq!(logs.since(mark), ["line 2", "line 3", "line 4"]);
        let mark = logs.mark();
        logs.push("line 5".into());
        assert_eq!(logs.since(mark), ["line 5"]);
    }

    #[test]
    fn a_followed_file_is_read_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run/envoy.log");
        let mut writer = stderr_file(&path).expect("open");
        writer.write_all(b"old 1\nold 2\n").expect("write");
        let fresh = LogBuffer::following(&path, FollowFrom::End).expect("follow");
        let adopted = LogBuffer::following(&path, FollowFrom::Tail(8)).expect("follow");
        // From the end: nothing yet. From the tail: the last whole line in the last 8 bytes.
        assert!(fresh.lines().is_empty());
        assert_eq!(adopted.lines(), ["old 2"]);

        let mark = fresh.mark();
        writer.write_all(b"new 1\nnew ").expect("write");
        assert_eq!(fresh.since(mark), ["new 1"], "a partial line waits");
        writer.write_all(b"2\n").expect("write");
        assert_eq!(fresh.since(mark), ["new 1", "new 2"]);

        // Emptied behind its back (rotated): it starts again at the beginning.
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
        writer.write_all(b"after\n").expect("write");
        assert_eq!(fresh.tail(1), ["after"]);
    }

    #[test]
    fn a_big_log_is_rotated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("envoy.log");
        let mut writer = stderr_file(&path).expect("open");
        let logs = LogBuffer::following(&path, FollowFrom::End).expect("follow");
        let line = vec![b'x'; 1023];
        let mut written = 0;
        while written <= MAX_LOG_BYTES {
            writer
                .write_all(&line)
                .and_then(|()| writer.write_all(b"\n"))
                .expect("write");
            written += 1024;
            if written % MAX_READ == 0 {
                logs.refresh();
            }
        }
        logs.refresh();
        assert_eq!(std::fs::metadata(&path).expect("log").len(), 0);
        assert!(
            std::fs::metadata(dir.path().join("envoy.log.1"))
                .expect("rotated")
                .len()
                > MAX_LOG_BYTES
        );
        writer.write_all(b"next\n").expect("write");
        assert_eq!(logs.tail(1), ["next"]);
    }
}
