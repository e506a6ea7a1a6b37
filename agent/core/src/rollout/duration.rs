//! Durations as RolloutPolicies write them: `500ms`, `30s`, `5m`, `1h30m`, `1.5h`.

use std::time::Duration;

/// Parses a duration: one or more numbers, each followed by a unit (`ms`, `s`, `m`, `h`).
/// `None` for anything else (an empty string, a bare number, an unknown unit).
pub fn parse(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..end];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[end..];
        let (unit_secs, after) = if let Some(after) = rest.strip_prefix("ms") {
            (0.001, after)
        } else if let Some(after) = rest.strip_prefix('h') {
            (3600.0, after)
        } else if let Some(after) = rest.strip_prefix('m') {
            (60.0, after)
        } else if let Some(after) = rest.strip_prefix('s') {
            (1.0, after)
        } else {
            return None;
        };
        total += value * unit_secs;
        rest = after;
    }
    (total.is_finite() && total < 1e12).then(|| Duration::from_secs_f64(total))
}

/// Formats a duration the way [`parse`] reads it back, to the millisecond: `1m30s`, `250ms`.
pub fn format(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("2m5s"), Some(Duration::from_secs(125)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in ["", "5", "5 minutes", "s", ".5s", "5.s", "-1s", "1d", "1e3s"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn format_reads_back() {
        for ms in [1u64, 999, 1000, 61_001, 3_600_000, 5_430_250] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)), Some(d), "{ms}");
        }
    }
}
