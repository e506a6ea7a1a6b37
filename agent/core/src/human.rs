//! Durations written for people: `183 ms`, `1.2 s`, `45 s`, `3 min 20 s`, `2 h 5 min`.
//!
//! Each duration is rounded (half up) to the precision of the unit it is shown in, and the unit
//! is chosen after rounding, so `59.96 s` reads `1 min`, never `60 s`. The precision shrinks as
//! the duration grows: tenths of a millisecond below 10 ms, milliseconds below a second, tenths
//! of a second below 10 s, seconds below an hour, minutes beyond.

use std::time::Duration;

const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SECOND: u128 = 1_000_000_000;
const NANOS_PER_MINUTE: u128 = 60 * NANOS_PER_SECOND;

/// A duration for people, rounded to two or three significant figures.
///
/// `0 ms`, `< 0.1 ms`, `4.2 ms`, `183 ms`, `1.2 s`, `45 s`, `3 min 20 s`, `2 h 5 min`. A whole
/// number drops its `.0` (`2 s`) and a zero second part its unit (`3 min`).
pub fn duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0 ms".into();
    }
    let tenth_millis = rounded(nanos, NANOS_PER_MILLI / 10);
    if tenth_millis == 0 {
        return "< 0.1 ms".into();
    }
    if tenth_millis < 100 {
        return format!("{} ms", tenths(tenth_millis));
    }
    let millis = rounded(nanos, NANOS_PER_MILLI);
    if millis < 1000 {
        return format!("{millis} ms");
    }
    let tenth_seconds = rounded(nanos, NANOS_PER_SECOND / 10);
    if tenth_seconds < 100 {
        return format!("{} s", tenths(tenth_seconds));
    }
    let seconds = rounded(nanos, NANOS_PER_SECOND);
    if seconds < 60 {
        return format!("{seconds} s");
    }
    if seconds < 3600 {
        return with_remainder(seconds / 60, "min", seconds % 60, "s");
    }
    let minutes = rounded(nanos, NANOS_PER_MINUTE);
    with_remainder(minutes / 60, "h", minutes % 60, "min")
}

/// [`duration`] of a number of milliseconds, as reports carry them (`ApplyReport::total_ms`):
/// `183.06328299999998` reads `183 ms`. A negative or NaN value reads `0 ms`; one too large
/// for a [`Duration`] is shown as the largest.
pub fn millis(ms: f64) -> String {
    let seconds = ms.max(0.0) / 1000.0;
    duration(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// `value / unit`, rounded half up.
fn rounded(value: u128, unit: u128) -> u128 {
    value / unit + u128::from(value % unit >= unit.div_ceil(2))
}

/// `42` tenths as `4.2`, `20` as `2`.
fn tenths(count: u128) -> String {
    match count % 10 {
        0 => (count / 10).to_string(),
        tenth => format!("{}.{tenth}", count / 10),
    }
}

/// `3 min 20 s`, or `3 min` when the smaller part is zero.
fn with_remainder(major: u128, major_unit: &str, minor: u128, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major} {major_unit}")
    } else {
        format!("{major} {major_unit} {minor} {minor_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn shows_the_examples_of_its_documentation() {
        assert_eq!(duration(ms(183)), "183 ms");
        assert_eq!(duration(ms(1_200)), "1.2 s");
        assert_eq!(duration(ms(45_000)), "45 s");
        assert_eq!(duration(ms(200_000)), "3 min 20 s");
        assert_eq!(duration(ms(7_500_000)), "2 h 5 min");
    }

    #[test]
    fn zero_and_below_a_millisecond() {
        assert_eq!(duration(Duration::ZERO), "0 ms");
        assert_eq!(duration(Duration::from_nanos(1)), "< 0.1 ms");
        assert_eq!(duration(Duration::from_nanos(49_999)), "< 0.1 ms");
        assert_eq!(duration(Duration::from_nanos(50_000)), "0.1 ms");
        assert_eq!(duration(Duration::from_micros(420)), "0.4 ms");
        assert_eq!(duration(Duration::from_micros(4_250)), "4.3 ms");
        assert_eq!(duration(ms(5)), "5 ms");
    }

    #[test]
    fn rounding_moves_to_the_next_unit_at_its_boundary() {
        assert_eq!(duration(Duration::from_micros(9_949)), "9.9 ms");
        assert_eq!(duration(Duration::from_micros(9_950)), "10 ms");
        assert_eq!(duration(ms(999)), "999 ms");
        assert_eq!(duration(Duration::from_micros(999_499)), "999 ms");
        assert_eq!(duration(Duration::from_micros(999_500)), "1 s");
        assert_eq!(duration(ms(9_949)), "9.9 s");
        assert_eq!(duration(ms(9_950)), "10 s");
        assert_eq!(duration(ms(59_499)), "59 s");
        assert_eq!(duration(ms(59_960)), "1 min");
        assert_eq!(duration(ms(3_599_499)), "59 min 59 s");
        assert_eq!(duration(ms(3_599_500)), "1 h");
    }

    #[test]
    fn whole_values_drop_their_zero_parts() {
        assert_eq!(duration(ms(2_000)), "2 s");
        assert_eq!(duration(ms(180_000)), "3 min");
        assert_eq!(duration(ms(7_200_000)), "2 h");
        assert_eq!(duration(ms(7_229_000)), "2 h");
        assert_eq!(duration(ms(7_230_000)), "2 h 1 min");
        assert_eq!(duration(ms(90_000_000)), "25 h");
    }

    #[test]
    fn the_largest_duration_does_not_overflow() {
        assert_eq!(duration(Duration::MAX), "5124095576030431 h");
    }

    #[test]
    fn millis_rounds_what_reports_carry() {
        assert_eq!(millis(183.063_282_999_999_98), "183 ms");
        assert_eq!(millis(0.0), "0 ms");
        assert_eq!(millis(999.0), "999 ms");
        assert_eq!(millis(1_234.5), "1.2 s");
        assert_eq!(millis(59_960.0), "1 min");
        assert_eq!(millis(0.42), "0.4 ms");
    }

    #[test]
    fn millis_of_nonsense_is_zero_or_the_largest() {
        assert_eq!(millis(-5.0), "0 ms");
        assert_eq!(millis(f64::NAN), "0 ms");
        assert_eq!(millis(f64::INFINITY), duration(Duration::MAX));
    }
}
