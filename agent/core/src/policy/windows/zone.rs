//! Time zones of change windows: IANA names (with a suggestion for a misspelled one), and local
//! wall-clock times resolved to instants across daylight-saving transitions.
//!
//! A local time that does not exist (the hour skipped when clocks spring forward) resolves to
//! the first instant after the gap; a local time that exists twice (the hour repeated when clocks
//! fall back) resolves to its first occurrence, the one before the clocks go back.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz, TZ_VARIANTS};

/// The zone a window uses when it names none.
pub const DEFAULT: &str = "UTC";

/// The years in which schedules have occurrences. Instants outside see none, which keeps every
/// date computation far from the limits of the date types.
pub const YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

/// Reads an IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`), spelled as the tz
/// database spells it. The error says which known name is closest, when one is close.
pub fn parse(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| match suggest(name) {
        Some(close) => format!("unknown time zone `{name}`; did you mean `{close}`?"),
        None => format!(
            "unknown time zone `{name}`; write an IANA name such as `Europe/Paris`, \
             `America/New_York` or `UTC`"
        ),
    })
}

/// The known zone name closest to `name`: the same name in other case, a zone whose city part is
/// `name` (`paris`, `New York`), or a name a few typos away. `None` when nothing is close.
pub fn suggest(name: &str) -> Option<&'static str> {
    let wanted = name.trim().to_ascii_lowercase().replace(' ', "_");
    if wanted.is_empty() || wanted.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &'static str)> = None;
    for zone in TZ_VARIANTS.iter() {
        let known = zone.name();
        let lower = known.to_ascii_lowercase();
        let city = lower.rsplit('/').next().unwrap_or(&lower);
        let distance = if lower == wanted {
            0
        } else if city == wanted {
            1
        } else {
            levenshtein(&wanted, &lower).min(levenshtein(&wanted, city) + 1)
        };
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, known));
        }
    }
    let allowed = (wanted.len() / 4).max(2);
    best.filter(|(d, _)| *d <= allowed).map(|(_, known)| known)
}

/// The edit distance between two strings, counted in bytes.
fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The local calendar date of an instant in a zone; `None` outside [`YEARS`].
pub fn local_date(zone: Tz, t: DateTime<Utc>) -> Option<NaiveDate> {
    YEARS
        .contains(&t.year())
        .then(|| t.with_timezone(&zone).date_naive())
}

/// The instant a local wall-clock time stands for in a zone: the first instant after the gap
/// for a time skipped by a transition, the earlier of the two for a repeated time. `None`
/// outside [`YEARS`].
pub fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if !YEARS.contains(&local.year()) {
        return None;
    }
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => GapInfo::new(&local, &zone)
            .and_then(|gap| gap.end)
            .map(|end| end.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iana_names_and_suggests_close_ones() {
        assert_eq!(parse("Europe/Paris"), Ok(chrono_tz::Europe::Paris));
        assert_eq!(parse("UTC"), Ok(chrono_tz::UTC));
        assert_eq!(
            parse("europe/paris").unwrap_err(),
            "unknown time zone `europe/paris`; did you mean `Europe/Paris`?"
        );
        assert_eq!(suggest("Europe/Pariss"), Some("Europe/Paris"));
        assert_eq!(suggest("Paris"), Some("Europe/Paris"));
        assert_eq!(suggest("New York"), Some("America/New_York"));
        assert_eq!(suggest("America/NewYork"), Some("America/New_York"));
        assert_eq!(suggest("utc"), Some("UTC"));
        assert_eq!(suggest("Mars/Olympus_Mons"), None);
        assert_eq!(suggest(""), None);
        assert_eq!(suggest(&"x".repeat(10_000)), None);
        assert!(parse("Mars/Olympus_Mons")
            .unwrap_err()
            .ends_with("write an IANA name such as `Europe/Paris`, `America/New_York` or `UTC`"));
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a local time")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    #[test]
    fn skipped_times_start_when_the_gap_ends_and_repeated_times_at_their_first() {
        use chrono_tz::{America::New_York, Europe::Paris};
        // Spring forward: 02:00 → 03:00 local.
        assert_eq!(
            resolve(Paris, local("2026-03-29 02:30")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            resolve(New_York, local("2026-03-08 02:30")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Fall back: 03:00 → 02:00 (Paris), 02:00 → 01:00 (New York).
        assert_eq!(
            resolve(Paris, local("2026-10-25 02:30")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            resolve(New_York, local("2026-11-01 01:30")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        assert_eq!(resolve(Paris, local("0999-12-31 23:00")), None);
    }
}
