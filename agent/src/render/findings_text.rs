//! Findings for people: `error[MC101]: message`, `--> file:line:col`, the line and a caret.

use std::fmt::Write;

use meshcd_core::{Finding, Severity};

use super::{plural, Style};

/// Renders findings, each with its snippet (call `attach_snippets` first).
pub fn render(findings: &[Finding], style: Style) -> String {
    let mut out = String::new();
    for finding in findings {
        let label = format!("{}[{}]", finding.severity, finding.rule);
        let label = match finding.severity {
            Severity::Error => style.error(&label),
            Severity::Warning => style.warning(&label),
        };
        let _ = writeln!(out, "{label}: {}", style.bold(&finding.message));
        let _ = writeln!(out, "  {} {}", style.note("-->"), finding.location);
        if let Some(snippet) = &finding.snippet {
            let line_no = finding.location.pos.line.to_string();
            let gutter = " ".repeat(line_no.len());
            let mut lines = snippet.lines();
            let source = lines.next().unwrap_or("");
            let caret = lines.next().unwrap_or("");
            let _ = writeln!(out, "{gutter} {}", style.note("|"));
            let _ = writeln!(out, "{} {} {source}", style.note(&line_no), style.note("|"));
            let _ = writeln!(
                out,
                "{gutter} {} {} {}",
                style.note("|"),
                style.note(caret),
                finding.name
            );
        }
        out.push('\n');
    }
    out
}

/// The closing line: `2 errors, 1 warning in 3 files (5 resources) at abc1234.`
pub fn summary(findings: &[Finding], files: usize, resources: usize, at: &str) -> String {
    let counts = meshcd_core::finding::Counts::of(findings);
    let scope = format!(
        "{} ({}) at {at}",
        plural(files, "file"),
        plural(resources, "resource")
    );
    if findings.is_empty() {
        format!("No problems found in {scope}.")
    } else {
        format!(
            "{}, {} in {scope}.",
            plural(counts.errors, "error"),
            plural(counts.warnings, "warning")
        )
    }
}
