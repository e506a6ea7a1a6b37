//! Rego policy files: `policies/*.rego` of a commit (the repository's own policies, at the
//! revision being checked), and `--policy` paths read from disk.
//!
//! Route snapshots hold YAML only; policies are read apart so that nothing that loads a
//! snapshot ever mistakes a `.rego` file for a route.

use std::path::Path;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use meshcd_core::policy::rego::{is_rego_path, MAX_POLICY_BYTES};
use meshcd_core::SourceFile;

use super::SourceError;

/// The repository folder policies are read from, at the revision.
pub const POLICY_FOLDER: &str = "policies";

/// The `.rego` files below `policies/` at `commit` (hidden folders skipped), with
/// repository-relative paths, sorted; none when the folder does not exist. Files larger than
/// the policy limit are kept (the policy engine reports them).
pub fn from_commit(repo: &Repository, commit: &str) -> Result<Vec<SourceFile>, SourceError> {
    let read_error = |e: git2::Error| SourceError::Read(e.message().to_string());
    let oid = Oid::from_str(commit).map_err(read_error)?;
    let tree = repo
        .find_commit(oid)
        .and_then(|c| c.tree())
        .map_err(read_error)?;
    let Ok(entry) = tree.get_path(Path::new(POLICY_FOLDER)) else {
        return Ok(Vec::new());
    };
    if entry.kind() != Some(ObjectType::Tree) {
        return Ok(Vec::new());
    }
    let folder = repo.find_tree(entry.id()).map_err(read_error)?;
    let mut blobs = Vec::new();
    folder
        .walk(TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or("");
            if name.starts_with('.') {
                return TreeWalkResult::Skip;
            }
            if entry.kind() == Some(ObjectType::Blob) && is_rego_path(name) {
                blobs.push((format!("{POLICY_FOLDER}/{dir}{name}"), entry.id()));
            }
            TreeWalkResult::Ok
        })
        .map_err(read_error)?;
    let mut files = Vec::with_capacity(blobs.len());
    for (path, id) in blobs {
        let blob = repo.find_blob(id).map_err(read_error)?;
        files.push(SourceFile::new(
            path,
            text_of(blob.content(), MAX_POLICY_BYTES.saturating_mul(2)),
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The `.rego` files of a `--policy` path: the file itself, or every `.rego` file below the
/// folder (hidden folders skipped). Paths are shown as given, joined with `/`.
pub fn from_disk(path: &Path) -> Result<Vec<SourceFile>, SourceError> {
    files_from_disk(path, is_rego_path, MAX_POLICY_BYTES.saturating_mul(2))
}

/// The YAML files of a `--crd` path, as [`from_disk`] reads `.rego` files.
pub fn yaml_from_disk(path: &Path) -> Result<Vec<SourceFile>, SourceError> {
    files_from_disk(path, meshcd_core::load::is_yaml_path, MAX_CRD_BYTES)
}

/// Largest CRD file read (the biggest upstream route CRDs are about 400 KiB).
pub const MAX_CRD_BYTES: usize = 16 * 1024 * 1024;

fn files_from_disk(
    path: &Path,
    wanted: fn(&str) -> bool,
    limit: usize,
) -> Result<Vec<SourceFile>, SourceError> {
    let shown = display(path);
    let metadata = fs_err::metadata(path).map_err(|_| SourceError::BadPath {
        path: shown.clone(),
        reason: "does not exist".into(),
    })?;
    let mut files = Vec::new();
    if metadata.is_dir() {
        walk(path, &shown, (wanted, limit), &mut files)?;
    } else {
        files.push(read(path, shown, limit)?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(
    dir: &Path,
    shown: &str,
    (wanted, limit): (fn(&str) -> bool, usize),
    files: &mut Vec<SourceFile>,
) -> Result<(), SourceError> {
    let entries = fs_err::read_dir(dir).map_err(|e| SourceError::Read(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| SourceError::Read(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let child = if shown.is_empty() || shown == "." {
            name.clone()
        } else {
            format!("{}/{name}", shown.trim_end_matches('/'))
        };
        if path.is_dir() {
            walk(&path, &child, (wanted, limit), files)?;
        } else if wanted(&name) {
            files.push(read(&path, child, limit)?);
        }
    }
    Ok(())
}

fn read(path: &Path, shown: String, limit: usize) -> Result<SourceFile, SourceError> {
    let bytes = fs_err::read(path).map_err(|e| SourceError::Read(e.to_string()))?;
    Ok(SourceFile::new(shown, text_of(&bytes, limit)))
}

/// A file's text; one beyond `limit` is cut (the policy engine reports a policy that large;
/// a cut CRD fails to parse), so a stray dump cannot exhaust memory.
fn text_of(bytes: &[u8], limit: usize) -> String {
    let cut = bytes.len().min(limit);
    String::from_utf8_lossy(&bytes[..cut]).into_owned()
}

/// A path as the user wrote it, with `/` separators and no leading `./`.
fn display(path: &Path) -> String {
    let text = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join("/");
    if path.has_root() {
        format!("/{}", text.trim_start_matches('/'))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_paths_are_shown_as_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("p/sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("p/.hidden")).unwrap();
        std::fs::write(dir.path().join("p/a.rego"), "package main\n").unwrap();
        std::fs::write(dir.path().join("p/sub/b_test.rego"), "package t\n").unwrap();
        std::fs::write(dir.path().join("p/.hidden/c.rego"), "package c\n").unwrap();
        std::fs::write(dir.path().join("p/notes.md"), "no\n").unwrap();
        let files = from_disk(&dir.path().join("p")).unwrap();
        let root = display(dir.path());
        let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                format!("{root}/p/a.rego"),
                format!("{root}/p/sub/b_test.rego")
            ]
        );
        assert_eq!(display(Path::new("./policies/x.rego")), "policies/x.rego");
        assert!(from_disk(&dir.path().join("missing")).is_err());
    }
}
