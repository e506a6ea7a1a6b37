//! Regression tests for problems found by fuzzing (`fuzz/`, targets `load` and `plan`) and by
//! `tests/it/robustness.rs`, each with its minimized input inline.

use meshcd_core::finding::attach_snippets;
use meshcd_core::{policy, SourceFile};

/// Loads one file and runs the policy; findings carry snippets, as the CLI shows them.
fn findings(text: &str) -> Vec<meshcd_core::Finding> {
    let loaded = meshcd_core::load(vec![SourceFile::new("fuzz.yaml", text)]);
    let mut findings = policy::check(&loaded);
    attach_snippets(&mut findings, &loaded.files);
    findings
}

/// Found by `robustness::arbitrary_text_never_panics`: a syntax error at the end of a file that
/// does not end in a line break was reported on the line *after* the last one (4:1 in this
/// three-line file), with no snippet. saphyr's error marker counts the end of input as a new
/// line; fixed by `clamp_to_text` in `agent/core/src/yaml.rs`.
#[test]
fn syntax_error_at_end_of_file_without_newline() {
    let text = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\n𐧒";
    let findings = findings(text);
    let error = findings
        .iter()
        .find(|f| f.rule == "MC001")
        .expect("a syntax error");
    assert!(
        error.location.pos.line <= 3,
        "syntax error past the end of a 3-line file: {error}"
    );
    assert!(error.snippet.is_some(), "no snippet: {error}");
}

/// Found by the `load` fuzz target (crash-498d8f2a…, minimized by hand): YAML ends a line at a
/// lone `\r` (old Mac line endings), so finding positions count such lines, but
/// `SourceFile::line_text` split at `\n` only (`str::lines`): the finding at line 9 below got
/// no snippet, and in a file mixing `\n` and lone `\r` it would have quoted the wrong line.
/// Fixed in `agent/core/src/source.rs` (`SourceFile::line_text`).
#[test]
fn lone_carriage_returns_end_lines_for_snippets_too() {
    let text = "apiVersion: networkservices.googleapis.com/v1\rkind: HttpRoute\rname: r\r\
                hostnames: [r.internal]\rrules:\r- action:\r    destinations:\r    \
                - serviceName: a\r      weight: -5\r    - serviceName: b\r      weight: 5\r";
    let findings = findings(text);
    let negative = findings
        .iter()
        .find(|f| f.rule == "MC101")
        .unwrap_or_else(|| panic!("a weight-negative finding in {findings:#?}"));
    assert_eq!(negative.location.pos.line, 9, "{negative}");
    assert_eq!(
        negative.snippet.as_deref().and_then(|s| s.lines().next()),
        Some("      weight: -5"),
        "{negative}"
    );
}

/// Found with the `load` fuzz target, same root cause as the test above: `clamp_to_text`
/// (`agent/core/src/yaml.rs`) counted lines with `str::lines` too, so in a file with lone `\r`
/// line breaks a syntax error on line 4 (as the parser counts, and as it is for the same file
/// with `\n`) was moved to line 1, and its snippet was the whole file with raw `\r`s in it.
#[test]
fn lone_carriage_returns_keep_syntax_error_positions() {
    let unix = findings("a: 1\nb: 2\nc: [1, 2\nd: 4\n");
    let mac = findings("a: 1\rb: 2\rc: [1, 2\rd: 4\r");
    assert_eq!(unix[0].location.pos.to_string(), "4:2", "{}", unix[0]);
    assert_eq!(
        mac[0].location.pos, unix[0].location.pos,
        "{} / snippet {:?}",
        mac[0], mac[0].snippet
    );
    assert_eq!(mac[0].snippet, unix[0].snippet);
}

/// Found by the `load` fuzz target: `MC002 duplicate key `null`` reported at line 42 of a
/// 41-line file. Two `?` complex keys left empty (the second followed only by a comment at the
/// end of the file) are both `null`; saphyr places an empty scalar where the next token starts,
/// which after the last line is the line past the end, so the duplicate was reported there,
/// with no snippet. Fixed in `agent/core/src/yaml.rs` (`parse` keeps every position inside the
/// text). The input below is the crash minimized by hand (the original artifact was not kept),
/// and the same ending after a real route.
#[test]
fn empty_complex_key_before_a_final_comment_stays_in_the_file() {
    let route = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  \
                 name: reviews\n  namespace: prod\nspec:\n  hosts: [reviews]\n  http:\n  - \
                 route:\n    - destination: {host: reviews}\n";
    for text in [
        "? \n? # c".to_string(),
        "?\n: 1\n?\n# c\n".to_string(),
        format!("{route}---\n?\n? # the end, no line break"),
    ] {
        let lines = text.lines().count() as u32;
        let found = findings(&text);
        let duplicate = found
            .iter()
            .find(|f| f.rule == "MC002")
            .unwrap_or_else(|| panic!("no duplicate key in {text:?}: {found:#?}"));
        assert!(duplicate.message.contains("`null`"), "{duplicate}");
        for f in &found {
            assert!(
                (1..=lines).contains(&f.location.pos.line) && f.location.pos.column >= 1,
                "finding outside the {lines}-line file {text:?}: {f}"
            );
            assert!(f.snippet.is_some(), "no snippet: {f}");
        }
    }
}
