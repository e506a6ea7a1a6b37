//! Durations as RolloutPolicies write them: `500ms`, `30s`, `5m`, `1h30m`, `1.5h`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// How to write a duration, for messages about one that is not.
pub const HINT: &str = "write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`";

/// A text that is not a duration (see [`parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration; {HINT}")]
pub struct NotADuration(pub String);

/// Reads a duration as a RolloutPolicy field holds it: [`parse`], without spaces around it.
pub fn parse_field(text: &str) -> Result<Duration, NotADuration> {
    (text == text.trim())
        .then(|| parse(text))
        .flatten()
        .ok_or_else(|| NotADuration(text.to_string()))
}

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

/// Serde of a [`Duration`] as the text [`format()`] writes (`"30s"`, `"1m30s"`), read back with
/// [`parse_field`]: `#[serde(with = "crate::rollout::duration::text")]`.
pub mod text {
    use super::*;

    /// Writes `duration` as [`format()`](super::format) does.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*duration))
    }

    /// Reads a duration text; an error for anything [`parse_field`] refuses.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        parse_field(&text).map_err(serde::de::Error::custom)
    }
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
    fn fields_refuse_spaces_and_say_how_to_write_one() {
        assert_eq!(parse_field("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(
            parse_field(" 1m").unwrap_err().to_string(),
            "` 1m` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or \
             `500ms`"
        );
        assert!(parse_field("3 parsecs").is_err());
    }

    #[test]
    fn serde_writes_the_text_form_and_reads_it_back() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Bake(#[serde(with = "text")] Duration);
        let json = serde_json::to_string(&Bake(Duration::from_secs(90))).expect("serializes");
        assert_eq!(json, "\"1m30s\"");
        assert_eq!(
            serde_json::from_str::<Bake>("\"1.5h\"").ok(),
            Some(Bake(Duration::from_secs(5400)))
        );
        let error = serde_json::from_str::<Bake>("\"3 parsecs\"").unwrap_err();
        assert!(
            error.to_string().contains("`3 parsecs` is not a duration"),
            "{error}"
        );
    }

    #[test]
    fn format_reads_back() {
        for ms in [1u64, 999, 1000, 61_001, 3_600_000, 5_430_250] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)), Some(d), "{ms}");
        }
    }
}
