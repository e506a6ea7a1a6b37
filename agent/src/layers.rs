//! The layering rule of ARCHITECTURE.md, checked on the source: each module of `agent/src` may
//! import only modules of lower layers, and no two modules import each other, directly or
//! through others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first. A module may use modules of lower layers (later in this list) and,
/// where listed in [`SAME_LAYER`], one of its own layer.
const LAYERS: &[&[&str]] = &[
    &["main", "commands", "cli"],
    &["daemon"],
    &["engine"],
    &["targets", "analysis"],
    &["config", "render"],
    &["envoy", "xds", "gcp", "cluster", "source", "store"],
    &["errors"],
];

/// Imports allowed inside a layer.
const SAME_LAYER: &[(&str, &str)] = &[
    ("main", "commands"),
    ("main", "cli"),
    ("commands", "cli"),
    ("cli", "commands"),
    ("envoy", "source"),
    ("gcp", "source"),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read agent/src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module path of a file (`engine/rollouts/book.rs` → `["engine", "rollouts", "book"]`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file
        .strip_prefix(root)
        .expect("below root")
        .with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) && parts.len() > 1
    {
        parts.pop();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    parts
}

/// The code of a file without comments, tests and string contents that could look like paths.
fn code_of(text: &str) -> String {
    // Test modules (`#[cfg(test)] mod …`) may use anything.
    let end = text
        .match_indices("#[cfg(test)]")
        .find(|(i, m)| text[i + m.len()..].trim_start().starts_with("mod "))
        .map_or(text.len(), |(i, _)| i);
    let text = &text[..end];
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a file names with `crate::…` or `super::…`, resolved from `module`.
fn references(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    // The lower-case segments of the path that starts `s` (`engine::check::X;` → engine, check).
    let word = |s: &str| -> Vec<String> {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(s.len());
        s[..end]
            .split("::")
            .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .map(str::to_string)
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with('$') {
            continue;
        }
        found.insert(word(&code[i + "crate::".len()..]));
    }
    let mut at = 0;
    while let Some(i) = code[at..].find("super::") {
        let start = at + i;
        let mut rest = &code[start..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        at = start + (code[start..].len() - rest.len());
        if start > 0
            && code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        // `module` is already the folder for a `mod.rs`: `super` is its parent either way.
        let base = module.len().saturating_sub(ups);
        let mut path: Vec<String> = module[..base].to_vec();
        path.extend(word(rest));
        found.insert(path);
    }
    found
}

/// `module → modules it uses`, at `depth` path segments.
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&root) {
        let module = module_of(&root, &file);
        let text = std::fs::read_to_string(&file).expect("read source");
        let from = if module.is_empty() {
            "main".to_string()
        } else {
            module[..module.len().min(depth)].join("::")
        };
        for reference in references(&module, &code_of(&text)) {
            if reference.is_empty() {
                continue;
            }
            let to = reference[..reference.len().min(depth)].join("::");
            if to != from && !from.starts_with(&format!("{to}::")) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

#[test]
fn layers_point_one_way() {
    let mut wrong = Vec::new();
    for (from, tos) in graph(1) {
        let Some(from_layer) = layer_of(&from) else {
            wrong.push(format!("{from} is in no layer: add it to LAYERS"));
            continue;
        };
        for to in tos {
            let Some(to_layer) = layer_of(&to) else {
                continue; // a macro or an item of lib.rs
            };
            let allowed =
                to_layer > from_layer || SAME_LAYER.contains(&(from.as_str(), to.as_str()));
            if !allowed {
                wrong.push(format!(
                    "{from} (layer {from_layer}) uses {to} (layer {to_layer})"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_cycles() {
    let edges = graph(2);
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|n| n == node) {
            cycles.push(format!("{} -> {node}", path[i..].join(" -> ")));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The checker itself: a file of the engine that names the daemon is caught.
    let module = vec!["engine".to_string(), "x".to_string()];
    let refs = references(&module, "use crate::daemon::Shared;\nuse super::check;");
    assert!(refs.contains(&vec!["daemon".to_string()]));
    assert!(refs.contains(&vec!["engine".to_string(), "check".to_string()]));
}
