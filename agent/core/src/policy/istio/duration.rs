//! Istio durations: Go's syntax (`500ms`, `1.5s`, `1h30m`), checked as Istio's CRDs and webhook
//! check them.

/// Nanoseconds per unit, by suffix (Go's `time.ParseDuration`).
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const MS: i128 = 1_000_000;
const SECOND: i128 = 1_000_000_000;

/// Parses a Go duration into nanoseconds (`None` when it is not one).
pub fn parse(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(digits);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        let scale = UNITS.iter().find(|(u, _)| *u == unit)?.1;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(scale)?;
        if !fraction.is_empty() {
            // Enough digits for nanoseconds of an hour; more cannot change the result.
            let kept = &fraction[..fraction.len().min(20)];
            let numerator: u128 = kept.parse().ok()?;
            let denominator = 10u128.checked_pow(u32::try_from(kept.len()).ok()?)?;
            value = value.checked_add(numerator.checked_mul(scale)? / denominator)?;
        }
        total = total.checked_add(value)?;
        if total > i64::MAX as u128 {
            return None;
        }
        rest = next;
    }
    let total = i128::try_from(total).ok()?;
    Some(if negative { -total } else { total })
}

/// What a duration field requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// At least 1ms (the CRD) in whole milliseconds (the webhook): most fields.
    Standard,
    /// At least 1ms only (the CRD checks it, the webhook does not).
    AtLeastOneMs,
    /// `0s` (off) or a standard duration: a TCP idle timeout.
    ZeroOrStandard,
    /// Any duration: a cookie's lifetime.
    Any,
    /// A standard duration in whole seconds: CORS `maxAge`.
    WholeSeconds,
}

/// Checks a duration; the error says what is required (the caller adds the field).
pub fn check(text: &str, need: Need) -> Result<(), String> {
    let Some(nanos) = parse(text) else {
        return Err(format!(
            "`{}` is not a duration: write a number and a unit (`ms`, `s`, `m`, `h`), such as \
             `500ms`, `10s` or `1m30s`",
            super::names::shown(text)
        ));
    };
    if need == Need::Any || (need == Need::ZeroOrStandard && nanos == 0) {
        return Ok(());
    }
    if nanos < MS {
        return Err(format!("`{text}` is below 1ms; it must be at least 1ms"));
    }
    if need == Need::AtLeastOneMs {
        return Ok(());
    }
    if nanos % MS != 0 {
        return Err(format!(
            "`{text}` is not a whole number of milliseconds; Istio only takes durations to the \
             millisecond"
        ));
    }
    if need == Need::WholeSeconds && nanos % SECOND != 0 {
        return Err(format!(
            "`{text}` is not a whole number of seconds; this duration is only accurate to the \
             second"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("1s"), Some(SECOND));
        assert_eq!(parse("1.5s"), Some(1_500_000_000));
        assert_eq!(parse("1h30m"), Some(5_400 * SECOND));
        assert_eq!(parse("250ms"), Some(250 * MS));
        assert_eq!(parse("10us"), Some(10_000));
        assert_eq!(parse("10\u{b5}s"), Some(10_000));
        assert_eq!(parse(".5s"), Some(500 * MS));
        assert_eq!(parse("-2s"), Some(-2 * SECOND));
        assert_eq!(parse("0"), Some(0));
        for bad in ["", "5", "1d", "s", "1.s.", "--1s", "1 s", "9999999999999h"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn checks_what_istio_requires() {
        assert_eq!(check("10s", Need::Standard), Ok(()));
        assert!(check("0s", Need::Standard).is_err());
        assert!(check("500us", Need::Standard).is_err());
        assert!(check("1.0005s", Need::Standard).is_err());
        assert_eq!(check("1.0005s", Need::AtLeastOneMs), Ok(()));
        assert_eq!(check("0s", Need::ZeroOrStandard), Ok(()));
        assert_eq!(check("0s", Need::Any), Ok(()));
        assert!(check("1500ms", Need::WholeSeconds).is_err());
        assert_eq!(check("24h", Need::WholeSeconds), Ok(()));
        assert!(check("ten seconds", Need::Any).is_err());
    }
}
