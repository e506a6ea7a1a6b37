//! Reads a folder of previously rendered resources (an applied state kept on disk).

use std::path::Path;
use std::sync::Arc;

use meshcd_core::load::is_yaml_path;
use meshcd_core::SourceFile;

use super::{Revision, Snapshot, SourceError};

/// Reads every `*.yaml`/`*.yml` file below `dir` (hidden folders skipped), with paths relative
/// to `dir`.
pub fn snapshot(dir: &Path) -> Result<Snapshot, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::BadPath {
            path: dir.display().to_string(),
            reason: "is not a folder".into(),
        });
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Snapshot {
        revision: Revision {
            source: dir.display().to_string(),
            commit: String::new(),
            rev: String::new(),
            summary: String::new(),
            author: String::new(),
            path: String::new(),
        },
        files: Arc::new(files),
    })
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) -> Result<(), SourceError> {
    let entries = fs_err::read_dir(dir).map_err(|e| SourceError::Read(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| SourceError::Read(e.to_string()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files)?;
        } else if is_yaml_path(&name) {
            let text =
                fs_err::read_to_string(&path).map_err(|e| SourceError::Read(e.to_string()))?;
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect::<Vec<_>>()
                .join("/");
            files.push(SourceFile::new(relative, text));
        }
    }
    Ok(())
}
