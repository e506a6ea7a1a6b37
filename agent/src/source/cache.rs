//! Snapshots cached by commit id: reading the same commit twice costs a map lookup.

use std::sync::Mutex;

use super::Snapshot;

/// An in-process cache of snapshots keyed by (commit id, sub-path).
///
/// Commits are immutable, so entries never go stale; the cache keeps the most recent
/// `capacity` entries, enough for a daemon that compares a few revisions at a time.
#[derive(Debug)]
pub struct SnapshotCache {
    entries: Mutex<Vec<((String, String), Snapshot)>>,
    capacity: usize,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        Self::with_capacity(16)
    }
}

impl SnapshotCache {
    /// A cache holding at most `capacity` snapshots.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    /// The cached snapshot of a commit and sub-path.
    pub fn get(&self, commit: &str, path: &str) -> Option<Snapshot> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|((c, p), _)| c == commit && p == path)
            .map(|(_, s)| s.clone())
    }

    /// Stores a snapshot, evicting the oldest entry when full.
    pub fn put(&self, snapshot: Snapshot) {
        let key = (
            snapshot.revision.commit.clone(),
            snapshot.revision.path.clone(),
        );
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, _)| k != &key);
        if entries.len() >= self.capacity {
            entries.remove(0);
        }
        entries.push((key, snapshot));
    }

    /// Number of cached snapshots.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
