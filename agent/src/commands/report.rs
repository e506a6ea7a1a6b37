//! `meshcd report` (and `meshcd plan --format markdown`): the pull-request report of a head
//! revision against a base, as Markdown comments that fit the host's limit, as JSON for a CI
//! script that posts them, or as SARIF / GitHub annotations of the head's findings.

use std::path::Path;

use anyhow::{anyhow, Context};
use clap::ValueEnum;

use super::compare::{compare, AppliedFrom, AppliedSide, Comparison, Outcome, RefuseOn};
use super::{cannot_run, Failure, EXIT_CHANGES, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PlanArgs, ReportArgs, ReportFormat, SourceArgs, TargetKind};
use crate::render::markdown::{self, RepoLinks, Report, ReportInput, Side};
use crate::render::{github, sarif};
use crate::source::RepoSpec;
use meshcd_core::plan::windows::held_changes;

/// How to write the report.
#[derive(Debug, Clone, Copy)]
struct Options<'a> {
    repo_url: Option<&'a str>,
    max_chars: usize,
    output_dir: Option<&'a Path>,
    format: ReportFormat,
    /// When change windows are judged.
    at: chrono::DateTime<chrono::Utc>,
}

/// What the report found, for the exit status.
#[derive(Debug, Clone, Copy)]
struct Status {
    /// Policy or translation errors.
    blocked: bool,
    /// The plan has changes.
    changes: bool,
}

/// Runs `report`: exit 0 without policy errors, 1 with, 2 when it could not run.
pub fn run(args: &ReportArgs, cache_dir: &Path) -> Result<u8, Failure> {
    let from = AppliedFrom {
        base: args.base.as_deref(),
        applied: args.applied.as_deref(),
        target: args.target,
        config: args.config.as_deref(),
        policy: &args.policy,
    };
    let options = Options {
        repo_url: args.repo_url.as_deref(),
        max_chars: args.max_comment_chars as usize,
        output_dir: args.output_dir.as_deref(),
        format: args.format,
        at: args.at.unwrap_or_else(chrono::Utc::now),
    };
    let status = report(&args.source, &from, &options, cache_dir)?;
    Ok(if status.blocked {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// `plan --format markdown`: the report with its defaults, and `plan`'s exit statuses
/// (`--detailed-exitcode` included).
pub fn run_for_plan(args: &PlanArgs, cache_dir: &Path) -> Result<u8, Failure> {
    let options = Options {
        repo_url: None,
        max_chars: markdown::GITHUB_COMMENT_LIMIT,
        output_dir: None,
        format: ReportFormat::Markdown,
        at: args.at.unwrap_or_else(chrono::Utc::now),
    };
    let status = report(&args.source, &AppliedFrom::from(args), &options, cache_dir)?;
    Ok(if status.blocked {
        EXIT_FINDINGS
    } else if args.detailed_exitcode && status.changes {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

fn report(
    source: &SourceArgs,
    from: &AppliedFrom<'_>,
    options: &Options<'_>,
    cache_dir: &Path,
) -> Result<Status, Failure> {
    let links = links(source, options.repo_url)?;
    let comparison = compare(source, from, RefuseOn::LoadErrors, cache_dir)?;
    let (plan, translation_errors) = match &comparison.outcome {
        Outcome::Planned(plan) => (Some(plan), &[][..]),
        Outcome::Refused => (None, &[][..]),
        Outcome::Untranslatable(errors) => (None, errors.as_slice()),
    };
    let head = Side {
        role: "head".into(),
        name: comparison.desired.label(),
        commit: comparison.desired.commit.clone(),
        title: comparison.desired.summary.clone(),
    };
    let base = base_side(&comparison, from.target);
    let held = plan
        .map(|plan| held_changes(plan, &comparison.loaded, options.at))
        .unwrap_or_default();
    let input = ReportInput {
        head: &head,
        base: &base,
        plan,
        findings: &comparison.findings,
        resources: &comparison.loaded.resources,
        translation_errors,
        links: links.as_ref(),
        held: &held,
    };
    let report = markdown::render(&input, options.max_chars);
    let status = Status {
        blocked: report.summary.blocked(),
        changes: plan.is_some_and(|p| !p.is_empty()),
    };
    match options.format {
        ReportFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&sarif::render(&comparison.findings)).unwrap_or_default()
        ),
        ReportFormat::Github => print!("{}", github::render(&comparison.findings)),
        ReportFormat::Markdown | ReportFormat::Json => write(&report, options)?,
    }
    Ok(status)
}

/// Writes the comments to `--output-dir` (when given) and the requested output to stdout.
fn write(report: &Report, options: &Options<'_>) -> Result<(), Failure> {
    let written = match options.output_dir {
        Some(dir) => write_files(&report.comments, dir)?,
        None => Vec::new(),
    };
    match options.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        ),
        _ if options.output_dir.is_some() => {
            for path in written {
                println!("{}", path.display());
            }
        }
        _ => print!("{}", joined(&report.comments)),
    }
    Ok(())
}

/// All comments, with a marker line before each one after the first.
fn joined(comments: &[String]) -> String {
    let mut out = String::new();
    for (i, comment) in comments.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!(
                "\n<!-- ======== meshcd: comment {} of {} ======== -->\n\n",
                i + 1,
                comments.len()
            ));
        }
        out.push_str(comment);
    }
    out
}

/// Writes `comment-1.md`, `comment-2.md`, ... and removes any `comment-N.md` left from a longer
/// report; returns the paths written.
fn write_files(comments: &[String], dir: &Path) -> Result<Vec<std::path::PathBuf>, Failure> {
    fs_err::create_dir_all(dir).map_err(cannot_run)?;
    let mut written = Vec::new();
    for (i, comment) in comments.iter().enumerate() {
        let path = dir.join(format!("comment-{}.md", i + 1));
        fs_err::write(&path, comment).map_err(cannot_run)?;
        written.push(path);
    }
    let entries = fs_err::read_dir(dir).map_err(cannot_run)?;
    for entry in entries {
        let entry = entry
            .context("reading the output folder")
            .map_err(cannot_run)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name
            .strip_prefix("comment-")
            .and_then(|rest| rest.strip_suffix(".md"))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > comments.len());
        if stale {
            fs_err::remove_file(entry.path()).map_err(cannot_run)?;
        }
    }
    Ok(written)
}

/// The base as the report names it.
fn base_side(comparison: &Comparison, target: Option<TargetKind>) -> Side {
    match &comparison.applied {
        Some(AppliedSide::Snapshot(revision)) if !revision.commit.is_empty() => Side {
            role: "base".into(),
            name: revision.label(),
            commit: revision.commit.clone(),
            title: revision.summary.clone(),
        },
        Some(AppliedSide::Snapshot(folder)) => Side {
            role: "applied folder".into(),
            name: folder.label(),
            ..Side::default()
        },
        Some(AppliedSide::Target(id)) => Side {
            role: "live target".into(),
            name: id.clone(),
            ..Side::default()
        },
        // Refused before the target was read: named by its kind.
        None => Side {
            role: "live target".into(),
            name: target
                .and_then(|t| t.to_possible_value())
                .map_or_else(|| "target".into(), |v| v.get_name().to_string()),
            ..Side::default()
        },
    }
}

/// Where files are linked: `--repo-url`, else the web address of `--repo` or of the local
/// repository's `origin` remote when it is on GitHub or GitLab.
fn links(source: &SourceArgs, repo_url: Option<&str>) -> Result<Option<RepoLinks>, Failure> {
    if let Some(url) = repo_url {
        return RepoLinks::from_web_url(url).map(Some).ok_or_else(|| {
            cannot_run(anyhow!(
                "--repo-url `{}` is not the web address of a repository (e.g. https://github.com/org/repo)",
                crate::source::git::redact_url(url)
            ))
        });
    }
    Ok(match RepoSpec::parse(source.repo()) {
        RepoSpec::Remote(url) => RepoLinks::from_remote(&url),
        RepoSpec::Local(path) => origin_url(&path).and_then(|url| RepoLinks::from_remote(&url)),
    })
}

/// The URL of a local repository's `origin` remote.
fn origin_url(path: &Path) -> Option<String> {
    let repo = git2::Repository::discover(path).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(str::to_string)
}
