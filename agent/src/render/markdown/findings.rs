//! Policy findings as a table, errors first, each located at `file:line` and linked to the file
//! at the head commit when the repository's web address is known; and errors translating for a
//! live target as a list.

use meshcd_core::{Finding, Severity};

use super::split::Block;
use super::text::{cell, code, message};
use super::ReportInput;

const TABLE_HEADER: &str = "| | rule | where | message |\n|:--|:--|:--|:--|\n";

/// One block per finding: a table row; the first carries the section title and table header.
pub fn blocks(input: &ReportInput<'_>) -> Vec<Block> {
    let mut findings: Vec<&Finding> = input.findings.iter().collect();
    findings.sort_by(|a, b| {
        (a.severity, &a.location, a.rule, &a.message).cmp(&(
            b.severity,
            &b.location,
            b.rule,
            &b.message,
        ))
    });
    findings.dedup();
    findings
        .iter()
        .enumerate()
        .map(|(i, finding)| {
            let row = row(input, finding);
            if i == 0 {
                Block::new(format!("\n### Policy findings\n\n{TABLE_HEADER}{row}"))
            } else {
                Block {
                    text: row,
                    resume: format!("\n### Policy findings (continued)\n\n{TABLE_HEADER}"),
                }
            }
        })
        .collect()
}

fn row(input: &ReportInput<'_>, finding: &Finding) -> String {
    let severity = match finding.severity {
        Severity::Error => "❌ error",
        Severity::Warning => "⚠️ warning",
    };
    let location = &finding.location;
    let at = code(&format!("{}:{}", location.file, location.pos.line));
    let at = match input.links {
        Some(links) if !input.head.commit.is_empty() => format!(
            "[{at}]({})",
            links.file(&input.head.commit, &location.file, Some(location.pos.line))
        ),
        _ => at,
    };
    format!(
        "| {severity} | {} {} | {} | {} |\n",
        code(finding.rule),
        cell(finding.name),
        cell(&at),
        cell(&message(&finding.message))
    )
}

/// One block per error the live target reported translating the head.
pub fn translation_blocks(errors: &[String]) -> Vec<Block> {
    errors
        .iter()
        .enumerate()
        .map(|(i, error)| {
            let item = format!("- ❌ {}\n", message(error));
            if i == 0 {
                Block::new(format!(
                    "\n### Translation errors\n\nThe live target cannot serve the head \
                     revision:\n\n{item}"
                ))
            } else {
                Block {
                    text: item,
                    resume: "\n### Translation errors (continued)\n\n".into(),
                }
            }
        })
        .collect()
}
