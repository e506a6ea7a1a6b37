//! Durations as Go writes them (`1h30m`, `250ms`, `1.5s`): what the API server's `duration()`
//! reads in validation rules.

/// Nanoseconds in one unit.
fn unit_nanos(unit: &str) -> Option<i128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// The length of the leading run of ASCII digits.
fn digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// The duration `text` spells, in nanoseconds; `None` when it is not a duration or does not fit
/// in 64 bits (as Go's `time.ParseDuration`).
pub fn nanos(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
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
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(tail) => tail.split_at(digits(tail)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = unit_nanos(unit)?;
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        let mut weight = scale as f64;
        for digit in fraction.bytes() {
            weight /= 10.0;
            part += (f64::from(digit - b'0') * weight) as i128;
        }
        total = total.checked_add(part)?;
        if total > i128::from(i64::MAX) + 1 {
            return None;
        }
        rest = next;
    }
    let signed = if negative { -total } else { total };
    i64::try_from(signed).ok()
}

#[cfg(test)]
mod tests {
    use super::nanos;

    #[test]
    fn reads_go_durations() {
        assert_eq!(nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(nanos("250ms"), Some(250_000_000));
        assert_eq!(nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(nanos("0"), Some(0));
        assert_eq!(nanos("0s"), Some(0));
        assert_eq!(nanos("-1m"), Some(-60_000_000_000));
        for bad in [
            "",
            "1",
            "1d",
            "s",
            "1s1d",
            "1h-1m",
            ".s",
            "99999999999999999999h",
        ] {
            assert_eq!(nanos(bad), None, "{bad}");
        }
    }
}
