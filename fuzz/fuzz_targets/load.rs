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
    // Lines as YAML counts them: `\r\n`, `\r` and `\n` each end a line.
    let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() as u32 + 1;
    for f in &findings {
        let pos = f.location.pos;
        // Known bug (agent/core/tests/fuzz_regressions.rs): a syntax error at the very end of a
        // file without a final line break is put on the line after the last. Tolerated so the
        // fuzzer keeps looking for other problems.
        let past_end = f.rule == "MC001"
            && pos.line == lines + 1
            && pos.column == 1
            && !text.ends_with(['\n', '\r']);
        assert!(
            ((1..=lines).contains(&pos.line) || past_end) && pos.column >= 1,
            "finding outside the file ({lines} lines): {f}"
        );
        let _ = f.to_string();
    }
});
