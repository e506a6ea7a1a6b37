//! The upstream reference files the tests compare with, found outside the project: the
//! Gateway API standard CRDs in `../shared/upstream/gateway-api-v1.6.1` (next to the
//! repository), or in the folder `MESHCD_GATEWAY_API_CRDS` names. A missing folder fails the
//! tests that need it, with where it was looked for.

use std::path::PathBuf;

use meshcd_core::SourceFile;

/// The folder of the Gateway API v1.6.1 standard CRDs.
pub fn gateway_api_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MESHCD_GATEWAY_API_CRDS") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("../shared/upstream/gateway-api-v1.6.1")
}

/// Every CRD file of that folder.
pub fn gateway_api_crds() -> Vec<SourceFile> {
    let dir = gateway_api_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the Gateway API CRDs are not at {} ({e}); set MESHCD_GATEWAY_API_CRDS to their folder",
            dir.display()
        )
    });
    let mut files: Vec<SourceFile> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            SourceFile::new(p.display().to_string(), text)
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(!files.is_empty(), "no CRD files in {}", dir.display());
    files
}
