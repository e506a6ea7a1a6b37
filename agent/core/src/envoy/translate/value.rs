//! Small value conversions shared by the translators: durations, percentages, gRPC codes.

use crate::model::istio::GRPC_STATUS_NAMES;
use serde_json::{json, Value as Json};

/// The protobuf JSON form of a duration written as Go (`1m30s`, `250ms`) or protobuf (`1.5s`)
/// text: whole seconds with 0, 3, 6 or 9 fractional digits, as Envoy prints it back (`90s`,
/// `0.250s`). `None` for anything else, negative durations included.
pub(crate) fn duration(text: &str) -> Option<String> {
    let nanos = parse_nanos(text.trim())?;
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    Some(if fraction == 0 {
        format!("{seconds}s")
    } else if fraction % 1_000_000 == 0 {
        format!("{seconds}.{:03}s", fraction / 1_000_000)
    } else if fraction % 1_000 == 0 {
        format!("{seconds}.{:06}s", fraction / 1_000)
    } else {
        format!("{seconds}.{fraction:09}s")
    })
}

/// The whole seconds of a duration (`86400s`, `24h`); `None` when it is not a duration or has a
/// fraction of a second.
pub(crate) fn whole_seconds(text: &str) -> Option<u64> {
    let nanos = parse_nanos(text.trim())?;
    (nanos % 1_000_000_000 == 0).then(|| u64::try_from(nanos / 1_000_000_000).ok())?
}

/// Nanoseconds of a duration such as `1h2m3.5s`; at most 10,000 years.
fn parse_nanos(text: &str) -> Option<u128> {
    if text.is_empty() {
        return None;
    }
    if text == "0" {
        return Some(0);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        let mut digit_scale = scale;
        for digit in fraction.chars() {
            digit_scale /= 10;
            part = part.checked_add(u128::from(digit.to_digit(10)?) * digit_scale)?;
        }
        total = total.checked_add(part)?;
        rest = next;
    }
    const MAX: u128 = 10_000 * 365 * 24 * 3_600 * 1_000_000_000;
    (total <= MAX).then_some(total)
}

/// A `FractionalPercent` for a percentage in `0..=100`: out of a hundred when whole, else out
/// of a million (`12.5` → 125000/MILLION). `None` outside the range.
pub(crate) fn fractional_percent(percent: f64) -> Option<Json> {
    if !(0.0..=100.0).contains(&percent) {
        return None;
    }
    if percent.fract() == 0.0 {
        Some(json!({"numerator": percent as u64, "denominator": "HUNDRED"}))
    } else {
        Some(json!({"numerator": (percent * 10_000.0).round() as u64, "denominator": "MILLION"}))
    }
}

/// A `FractionalPercent` for `numerator / denominator` (Gateway API `fraction`), as a share of a
/// million. `None` when the denominator is 0 or the fraction above 1.
pub(crate) fn fraction(numerator: u64, denominator: u64) -> Option<Json> {
    if denominator == 0 || numerator > denominator {
        return None;
    }
    let millionths = (u128::from(numerator) * 1_000_000 / u128::from(denominator)) as u64;
    Some(json!({"numerator": millionths, "denominator": "MILLION"}))
}

/// The number of a gRPC status name (`UNAVAILABLE` → 14), or of a number written as text.
pub(crate) fn grpc_status(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    if let Ok(n) = upper.parse::<u32>() {
        return (n < GRPC_STATUS_NAMES.len() as u32).then_some(n);
    }
    GRPC_STATUS_NAMES
        .iter()
        .position(|n| *n == upper)
        .map(|i| i as u32)
}

/// Envoy's name of a redirect status code.
pub(crate) fn redirect_code(code: i64) -> Option<&'static str> {
    Some(match code {
        301 => "MOVED_PERMANENTLY",
        302 => "FOUND",
        303 => "SEE_OTHER",
        307 => "TEMPORARY_REDIRECT",
        308 => "PERMANENT_REDIRECT",
        _ => return None,
    })
}

/// Retry conditions Envoy knows (`x-envoy-retry-on` and `x-envoy-retry-grpc-on`).
pub(crate) const RETRY_CONDITIONS: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// A regular expression matching `text` literally (RE2 syntax).
pub(crate) fn regex_escape(text: &str) -> String {
    regex::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_go_and_protobuf_forms() {
        assert_eq!(duration("30s").as_deref(), Some("30s"));
        assert_eq!(duration("1.5s").as_deref(), Some("1.500s"));
        assert_eq!(duration("250ms").as_deref(), Some("0.250s"));
        assert_eq!(duration("1m30s").as_deref(), Some("90s"));
        assert_eq!(duration("2h").as_deref(), Some("7200s"));
        assert_eq!(duration("1us").as_deref(), Some("0.000001s"));
        assert_eq!(duration("3ns").as_deref(), Some("0.000000003s"));
        assert_eq!(duration("0").as_deref(), Some("0s"));
        assert_eq!(whole_seconds("24h"), Some(86400));
        assert_eq!(whole_seconds("1.5s"), None);
        assert_eq!(whole_seconds("x"), None);
        for bad in [
            "",
            "s",
            "-1s",
            "10",
            "1x",
            "1.2.3s",
            ".s",
            "99999999999999999999999h",
        ] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn percents_are_hundredths_or_millionths() {
        assert_eq!(
            fractional_percent(10.0),
            Some(json!({"numerator": 10, "denominator": "HUNDRED"}))
        );
        assert_eq!(
            fractional_percent(12.5),
            Some(json!({"numerator": 125000, "denominator": "MILLION"}))
        );
        assert_eq!(fractional_percent(100.5), None);
        assert_eq!(fractional_percent(f64::NAN), None);
        assert_eq!(
            fraction(1, 4),
            Some(json!({"numerator": 250000, "denominator": "MILLION"}))
        );
        assert_eq!(fraction(1, 0), None);
    }

    #[test]
    fn grpc_status_names_and_redirect_codes() {
        assert_eq!(grpc_status("unavailable"), Some(14));
        assert_eq!(grpc_status("4"), Some(4));
        assert_eq!(grpc_status("NOPE"), None);
        assert_eq!(redirect_code(308), Some("PERMANENT_REDIRECT"));
        assert_eq!(redirect_code(300), None);
    }
}
