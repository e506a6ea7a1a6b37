//! `meshcd history`: the audit log of the state store, newest first.

use std::path::Path;

use meshcd_core::human;
use serde_json::json;

use super::rollouts::DaemonClient;
use super::{cannot_run, Failure, EXIT_CANNOT_RUN, EXIT_OK};
use crate::cli::{HistoryArgs, HistoryFormat};
use crate::store::{resolve_state_path, AuditEntry, Store, StoreError};

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self {
            error: error.into(),
            exit: EXIT_CANNOT_RUN,
        }
    }
}

/// Runs `history` and returns the exit status (0, or 2 when the store cannot be read).
///
/// A store file that does not exist yet is an empty history; it is not created.
pub fn run(args: &HistoryArgs) -> Result<u8, Failure> {
    let path = resolve_state_path(args.state.as_deref(), args.state_dir.as_deref());
    let limit = if args.limit == 0 {
        usize::MAX
    } else {
        args.limit
    };
    let entries = if let Some(server) = &args.server {
        from_daemon(server, args.target.as_deref(), args.limit)?
    } else if path.exists() {
        Store::open(&path)
            .map_err(|e| match e {
                StoreError::InUse { .. } => cannot_run(anyhow::anyhow!(
                    "{e}; read the history from the daemon: meshcd history --server http://127.0.0.1:9090"
                )),
                other => other.into(),
            })?
            .history(args.target.as_deref(), limit)?
    } else {
        tracing::debug!(path = %path.display(), "no state store yet");
        Vec::new()
    };
    match args.format {
        HistoryFormat::Text => print!("{}", render_text(&entries, &path)),
        HistoryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "entries": entries })).unwrap_or_default()
        ),
    }
    Ok(EXIT_OK)
}

/// Reads `GET <server>/api/v1/history` from a running daemon.
fn from_daemon(
    server: &str,
    target: Option<&str>,
    limit: usize,
) -> Result<Vec<AuditEntry>, Failure> {
    let client = DaemonClient::new(server).map_err(cannot_run)?;
    let url = format!("{}/api/v1/history", client.server());
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &limit.to_string());
    if let Some(target) = target {
        query.append_pair("target", target);
    }
    let path = format!("/api/v1/history?{}", query.finish());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = runtime
        .block_on(client.get(&path, std::time::Duration::from_secs(10)))
        .map_err(|e| cannot_run(anyhow::Error::new(e).context(format!("cannot reach {url}"))))?;
    let body = answer
        .json()
        .map_err(|e| cannot_run(anyhow::anyhow!("{url}: not JSON: {e}")))?;
    if !answer.status.is_success() {
        return Err(cannot_run(anyhow::anyhow!(
            "{url}: HTTP {}: {}",
            answer.status,
            body["error"]
        )));
    }
    serde_json::from_value(body["entries"].clone())
        .map_err(|e| cannot_run(anyhow::anyhow!("{url}: unexpected answer: {e}")))
}

/// A compact table, one line per entry: time, target, action, short commit, author, counts
/// (`+created ~updated -deleted`) and message (the commit subject when there is no message).
pub fn render_text(entries: &[AuditEntry], path: &Path) -> String {
    if entries.is_empty() {
        return format!("No history in {}.\n", path.display());
    }
    let header = [
        "TIME", "TARGET", "ACTION", "COMMIT", "AUTHOR", "CHANGES", "MESSAGE",
    ];
    let rows: Vec<[String; 7]> = entries.iter().map(row).collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[column] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn row(entry: &AuditEntry) -> [String; 7] {
    let message = if entry.message.is_empty() {
        &entry.summary
    } else {
        &entry.message
    };
    let commit: String = entry.commit.chars().take(7).collect();
    let changes = &entry.changes;
    [
        entry.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        one_line(&entry.target),
        entry.action.to_string(),
        if commit.is_empty() {
            "-".to_string()
        } else {
            one_line(&commit)
        },
        if entry.author.is_empty() {
            "-".to_string()
        } else {
            one_line(&entry.author)
        },
        format!(
            "+{} ~{} -{}",
            changes.create, changes.update, changes.delete
        ),
        one_line(&rounded_millis(message)),
    ]
}

/// Rounds the raw milliseconds that earlier versions wrote into audit messages, so that
/// `verified live in 183.06328299999998 ms` reads `verified live in 183 ms`. Whole numbers and
/// everything else are left as they are.
fn rounded_millis(message: &str) -> String {
    const UNIT: &str = " ms";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(UNIT) {
        let (before, after) = rest.split_at(at);
        let after = &after[UNIT.len()..];
        let start = before
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |i| i + 1);
        let number = &before[start..];
        let word_ends = !after.starts_with(|c: char| c.is_alphanumeric());
        match number.parse::<f64>() {
            Ok(ms) if number.contains('.') && word_ends => {
                out.push_str(&before[..start]);
                out.push_str(&human::millis(ms));
            }
            _ => {
                out.push_str(before);
                out.push_str(UNIT);
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Control characters (newlines, escapes) become spaces, so one entry stays one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::AuditAction;

    #[test]
    fn text_table_is_aligned_and_one_line_per_entry() {
        let mut apply = AuditEntry::new("envoy:local", AuditAction::Apply);
        apply.time = Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
            .single()
            .expect("time");
        apply.commit = "0123456789abcdef".into();
        apply.author = "Ada".into();
        apply.summary = "Shift 10% to green".into();
        apply.changes.update = 1;
        let mut drift = AuditEntry::new("gcp:prod", AuditAction::DriftDetected);
        drift.time = apply.time;
        drift.message = "route changed\noutside meshcd".into();
        let text = render_text(&[drift, apply], Path::new("s.redb"));
        let expected = "\
TIME                  TARGET       ACTION          COMMIT   AUTHOR  CHANGES   MESSAGE
2024-05-01T12:00:00Z  gcp:prod     drift-detected  -        -       +0 ~0 -0  route changed outside meshcd
2024-05-01T12:00:00Z  envoy:local  apply           0123456  Ada     +0 ~1 -0  Shift 10% to green
";
        assert_eq!(text, expected);
    }

    #[test]
    fn raw_milliseconds_of_earlier_messages_are_rounded() {
        assert_eq!(
            rounded_millis(
                "envoy:local applied: 1 change(s), verified live in 183.06328299999998 ms"
            ),
            "envoy:local applied: 1 change(s), verified live in 183 ms"
        );
        assert_eq!(
            rounded_millis("live in 1234.5 ms, then 0.26 ms"),
            "live in 1.2 s, then 0.3 ms"
        );
        for unchanged in [
            "took 5 ms",
            "1.5 msg",
            "version 1.2 ms-compatible",
            " ms",
            "",
        ] {
            assert_eq!(rounded_millis(unchanged), unchanged);
        }
    }

    #[test]
    fn empty_history_says_so() {
        assert_eq!(
            render_text(&[], Path::new("s.redb")),
            "No history in s.redb.\n"
        );
    }
}
