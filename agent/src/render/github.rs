//! GitHub Actions workflow commands: one `::error file=...,line=...::message` per finding, which
//! GitHub shows as annotations on the pull request's changed lines.

use meshcd_core::{Finding, Severity};

/// Renders findings as workflow commands.
pub fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            format!(
                "::{command} file={},line={},col={},title={}::{}\n",
                escape_property(&f.location.file),
                f.location.pos.line,
                f.location.pos.column,
                escape_property(&format!("{} {}", f.rule, f.name)),
                escape_data(&f.message)
            )
        })
        .collect()
}

/// Escapes a message as the Actions runner expects.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_runner_would_misread() {
        assert_eq!(escape_data("50% of a\nb"), "50%25 of a%0Ab");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
