//! `meshcd validate`: load a revision, run the built-in rules and the Rego policies, report
//! every finding.

use std::path::Path;

use meshcd_core::finding::Counts;
use serde_json::json;

use super::{open_source, policy, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::engine::check::check_revision;
use crate::render::{findings_text, github, sarif, Style};

/// Runs `validate` and returns the exit status.
pub fn run(args: &ValidateArgs, cache_dir: &Path) -> Result<u8, Failure> {
    let source = open_source(&args.source, cache_dir)?;
    let snapshot = source.snapshot(args.source.rev.as_deref(), args.source.path())?;
    let (policies, schemas) = policy::read(&source, &snapshot, &args.policy)?;
    let checked = check_revision(&snapshot, policies, &schemas);
    let (loaded, findings) = (checked.loaded, checked.findings);
    let counts = Counts::of(&findings);
    let output = match args.format {
        ValidateFormat::Text => {
            let mut text = findings_text::render(&findings, Style::for_stdout());
            text.push_str(&findings_text::summary(
                &findings,
                loaded.files.len(),
                loaded.resources.len(),
                &snapshot.revision.label(),
            ));
            text.push('\n');
            text
        }
        ValidateFormat::Json => {
            let value = json!({
                "revision": snapshot.revision,
                "summary": {
                    "errors": counts.errors,
                    "warnings": counts.warnings,
                    "files": loaded.files.len(),
                    "resources": loaded.resources.len(),
                },
                "findings": findings,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            )
        }
        ValidateFormat::Sarif => format!(
            "{}\n",
            serde_json::to_string_pretty(&sarif::render(&findings)).unwrap_or_default()
        ),
        ValidateFormat::Github => github::render(&findings),
    };
    print!("{output}");
    let failed = counts.errors > 0 || (args.deny_warnings && counts.warnings > 0);
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}
