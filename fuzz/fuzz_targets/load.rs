//! Fuzz target `load`: arbitrary bytes as one YAML file through load, policy and the route IR.
//! None of it may panic, and every finding must point inside the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshcd_core::{finding, ir, policy, SourceFile};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = SourceFile::new("fuzz.yaml", text.as_ref());
    let loaded = meshcd_core::load(vec![file]);
    let _ = ir::routes(&loaded.resources);
    let mut findings = policy::check(&loaded);
    finding::attach_snippets(&mut findings, &loaded.files);
    // Lines as YAML counts them (`\r\n`, `\r` and `\n` each end a line; a final line break
    // starts no new line): a finding past the last one has no line to show.
    let lines = meshcd_core::source::yaml_lines(&text).count().max(1) as u32;
    for f in &findings {
        let pos = f.location.pos;
        assert!(
            (1..=lines).contains(&pos.line) && pos.column >= 1,
            "finding outside the file ({lines} lines): {f}"
        );
        let _ = f.to_string();
    }
});
