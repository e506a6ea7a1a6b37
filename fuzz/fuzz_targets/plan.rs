//! Fuzz target `plan`: the input split in two (at the first NUL byte, else in the middle) is a
//! desired and an applied file; planning either way must not panic, and the reverse plan has as
//! many changes as the forward plan and creates what it deletes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshcd_core::plan::plan;
use meshcd_core::SourceFile;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&byte| byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => data.split_at(data.len() / 2),
    };
    let load = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        meshcd_core::load(vec![SourceFile::new("routes.yaml", text.as_ref())])
    };
    let (a, b) = (load(a), load(b));
    let forward = plan(&a, &b);
    let backward = plan(&b, &a);
    assert_eq!(backward.changes.len(), forward.changes.len());
    assert_eq!(backward.summary.create, forward.summary.delete);
    assert_eq!(backward.summary.delete, forward.summary.create);
    assert_eq!(backward.summary.update, forward.summary.update);
});
