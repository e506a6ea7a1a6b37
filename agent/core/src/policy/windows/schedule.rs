//! Cron schedules of change windows, read as Argo CD (and crontab) read them, and their
//! occurrences in a time zone.
//!
//! **Syntax.** Five fields, `minute hour day-of-month month day-of-week`, or six with a
//! `second` field first. Each field is a comma-separated list of `*` (or `?`), a value, or a
//! range `a-b`, each optionally followed by a step `/n` (`a/n` means `a-max/n`). Months may be
//! named `JAN`..`DEC` and days of the week `SUN`..`SAT` (any case). Days of the week count from
//! Sunday: `0` and `7` are Sunday, `5` is Friday. The descriptors `@yearly` (`@annually`),
//! `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their usual fields.
//!
//! **Days.** When both day-of-month and day-of-week are restricted (neither starts with `*`
//! or `?`), a day matches when either matches, as in crontab: `0 0 13 * 5` fires on every 13th
//! and every Friday. Otherwise both must match.
//!
//! **Why not the `cron` crate** (which meshcd's daemon config uses): it numbers days of the week
//! from Sunday = 1 (so `5` would be Thursday and `0` an error), requires both day fields to
//! match, skips local times that a DST transition skips and fires twice on repeated ones.
//! Change windows follow Argo CD's reading instead, and [`super::zone::resolve`]'s DST rules.
//!
//! **Occurrences.** Every matching local date and time of day is one occurrence, resolved to an
//! instant by [`super::zone::resolve`]: a skipped local time starts when the gap ends, a repeated
//! one at its first occurrence, so each local time of a date occurs at most once.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::zone;

/// How many days a search for an occurrence walks at most: eight years and a few days, the
/// longest gap between two occurrences of a schedule that fires at all (February 29th skips
/// 2100).
pub const MAX_SCAN_DAYS: usize = 366 * 8 + 3;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: u64,
    months: u64,
    /// Bits 0 (Sunday) to 6 (Saturday).
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names of the values from `min` on, three letters each.
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const FORM_HINT: &str = "write 5 fields, `minute hour day-of-month month day-of-week` (as in \
                         `0 18 * * 5`), or 6 with seconds first";

/// Parses a schedule (see the module docs). The error names the field and value at fault.
pub fn parse(text: &str) -> Result<Schedule, String> {
    let source = text.trim();
    let expanded = match source.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => {
            return Err(format!(
                "`{source}` is not a descriptor meshcd knows; use `@yearly`, `@monthly`, \
                 `@weekly`, `@daily` or `@hourly`, or {FORM_HINT}"
            ))
        }
        _ => source,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let (second, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        0 => return Err(format!("the schedule is empty; {FORM_HINT}")),
        n => return Err(format!("the schedule has {n} fields; {FORM_HINT}")),
    };
    let (seconds, _) = parse_field(second, &SECOND)?;
    let (minutes, _) = parse_field(rest[0], &MINUTE)?;
    let (hours, _) = parse_field(rest[1], &HOUR)?;
    let (days_of_month, dom_star) = parse_field(rest[2], &DAY_OF_MONTH)?;
    let (months, _) = parse_field(rest[3], &MONTH)?;
    let (mut days_of_week, dow_star) = parse_field(rest[4], &DAY_OF_WEEK)?;
    if days_of_week & (1 << 7) != 0 {
        days_of_week = (days_of_week | 1) & !(1 << 7);
    }
    Ok(Schedule {
        source: source.to_string(),
        seconds: values(seconds),
        minutes: values(minutes),
        hours: values(hours),
        days_of_month,
        months,
        days_of_week,
        dom_star,
        dow_star,
    })
}

fn values(bits: u64) -> Vec<u32> {
    (0..64).filter(|v| bits & (1 << v) != 0).collect()
}

/// The values a field selects, as bits, and whether it is a star (`*` or `?` without a step).
fn parse_field(text: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        if part.is_empty() {
            return Err(format!(
                "{} field `{text}` has an empty list item",
                field.name
            ));
        }
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        let step_by = match step {
            None => 1,
            Some(step) => match step.parse::<u32>() {
                Ok(n) if n >= 1 && step.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(format!(
                        "{} field `{part}`: step `{step}` is not a whole number of at least 1",
                        field.name
                    ))
                }
            },
        };
        let (low, high, is_star) = if range == "*" || range == "?" {
            (field.min, field.max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, field)?, value(b, field)?, false)
        } else {
            let v = value(range, field)?;
            (v, if step.is_some() { field.max } else { v }, false)
        };
        if low > high {
            return Err(format!(
                "{} field `{part}`: the range goes backwards ({low} is after {high})",
                field.name
            ));
        }
        for v in (low..=high).step_by(step_by as usize) {
            bits |= 1 << v;
        }
        star |= is_star && step_by == 1;
    }
    Ok((bits, star))
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
            _ => Err(format!(
                "{} `{text}` is outside {}-{}",
                field.name, field.min, field.max
            )),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        return Ok(field.min + i as u32);
    }
    let named = match field.names.first() {
        Some(first) => format!(", or a name such as `{}`", first.to_ascii_uppercase()),
        None => String::new(),
    };
    Err(format!(
        "{} `{text}` is not a value of {}-{}{named}",
        field.name, field.min, field.max
    ))
}

impl Schedule {
    /// The schedule as written (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A short description for messages: `Fri 18:00`, `Mon-Fri 09:00`, `daily 02:30` for a
    /// schedule that fires once on some days of the week; otherwise the schedule in backticks.
    pub fn describe(&self) -> String {
        let all_months = (1..=12).all(|m| self.months & (1 << m) != 0);
        let once_a_day = self.seconds == [0] && self.minutes.len() == 1 && self.hours.len() == 1;
        if !(once_a_day && all_months && self.dom_star) {
            return format!("`{}`", self.source);
        }
        let time = format!("{:02}:{:02}", self.hours[0], self.minutes[0]);
        if self.dow_star {
            return format!("daily {time}");
        }
        // Monday first, so that weekdays and weekends read as runs.
        let order = [1usize, 2, 3, 4, 5, 6, 0];
        let chosen: Vec<usize> = order
            .iter()
            .copied()
            .filter(|d| self.days_of_week & (1 << d) != 0)
            .collect();
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < chosen.len() {
            let position = |d: usize| order.iter().position(|o| *o == d).unwrap_or(0);
            let mut j = i;
            while j + 1 < chosen.len() && position(chosen[j + 1]) == position(chosen[j]) + 1 {
                j += 1;
            }
            if j >= i + 2 {
                parts.push(format!("{}-{}", DAY_NAMES[chosen[i]], DAY_NAMES[chosen[j]]));
            } else {
                parts.extend(chosen[i..=j].iter().map(|d| DAY_NAMES[*d].to_string()));
            }
            i = j + 1;
        }
        format!("{} {time}", parts.join(","))
    }

    /// True when occurrences may start on this local date.
    pub fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// How many times of day the schedule fires at on a matching date.
    fn times_per_day(&self) -> usize {
        self.hours.len() * self.minutes.len() * self.seconds.len()
    }

    /// The `i`th time of day, in increasing order.
    fn time_of_day(&self, i: usize) -> Option<NaiveTime> {
        let (s, m) = (self.seconds.len(), self.minutes.len());
        NaiveTime::from_hms_opt(
            *self.hours.get(i / (m * s))?,
            *self.minutes.get((i / s) % m)?,
            *self.seconds.get(i % s)?,
        )
    }

    /// The `i`th occurrence of a date as an instant. Never decreases as `i` grows, nor from one
    /// date to the next (see [`zone::resolve`]).
    fn occurrence(&self, zone: Tz, date: NaiveDate, i: usize) -> Option<DateTime<Utc>> {
        zone::resolve(zone, date.and_time(self.time_of_day(i)?))
    }

    /// How many occurrences of a date start at or before `t` (they come first).
    fn count_at_or_before(&self, zone: Tz, date: NaiveDate, t: DateTime<Utc>) -> usize {
        let (mut low, mut high) = (0, self.times_per_day());
        while low < high {
            let mid = low + (high - low) / 2;
            if self
                .occurrence(zone, date, mid)
                .is_some_and(|start| start <= t)
            {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The latest occurrence start `s` with `floor < s <= t`, in `zone`.
    pub fn prev_start(
        &self,
        zone: Tz,
        t: DateTime<Utc>,
        floor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // The day after `t`'s local date too: a repeated hour across midnight.
        let mut date = zone::local_date(zone, t)?.succ_opt()?;
        let stop = zone::local_date(zone, floor).and_then(|d| d.pred_opt());
        for _ in 0..MAX_SCAN_DAYS {
            if stop.is_some_and(|stop| date < stop) {
                return None;
            }
            if self.day_matches(date) {
                let count = self.count_at_or_before(zone, date, t);
                if count > 0 {
                    return self
                        .occurrence(zone, date, count - 1)
                        .filter(|start| *start > floor);
                }
            }
            date = date.pred_opt()?;
        }
        None
    }

    /// The earliest occurrence start `s` with `t < s <= limit`, in `zone`.
    pub fn next_start(
        &self,
        zone: Tz,
        t: DateTime<Utc>,
        limit: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut date = zone::local_date(zone, t)?.pred_opt()?;
        let stop = zone::local_date(zone, limit).and_then(|d| d.succ_opt());
        for _ in 0..MAX_SCAN_DAYS {
            if stop.is_some_and(|stop| date > stop) {
                return None;
            }
            if self.day_matches(date) {
                let count = self.count_at_or_before(zone, date, t);
                if count < self.times_per_day() {
                    return self
                        .occurrence(zone, date, count)
                        .filter(|start| *start <= limit);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// True when the schedule has at least one occurrence (`0 0 30 2 *` has none).
    pub fn fires(&self) -> bool {
        let from = DateTime::<Utc>::from_timestamp(946_684_800, 0); // 2000-01-01T00:00:00Z
        from.is_some_and(|from| {
            let limit = from + chrono::TimeDelta::days(MAX_SCAN_DAYS as i64);
            self.next_start(chrono_tz::UTC, from, limit).is_some()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    fn next(schedule: &str, zone: Tz, after: &str) -> String {
        let after = utc(after);
        let limit = after + chrono::TimeDelta::days(3000);
        let start = parse(schedule)
            .expect("a valid schedule")
            .next_start(zone, after, limit)
            .expect("an occurrence");
        start
            .with_timezone(&zone)
            .format("%a %F %T %:z")
            .to_string()
    }

    #[test]
    fn days_of_week_count_from_sunday_as_in_crontab() {
        let utc_zone = chrono_tz::UTC;
        // 2026-03-01 is a Sunday.
        let from = "2026-03-01T00:00:00Z";
        assert_eq!(
            next("0 18 * * 5", utc_zone, from),
            "Fri 2026-03-06 18:00:00 +00:00"
        );
        assert_eq!(
            next("0 18 * * FRI", utc_zone, from),
            "Fri 2026-03-06 18:00:00 +00:00"
        );
        assert_eq!(
            next("0 9 * * 0", utc_zone, from),
            "Sun 2026-03-01 09:00:00 +00:00"
        );
        assert_eq!(
            next("0 9 * * 7", utc_zone, from),
            "Sun 2026-03-01 09:00:00 +00:00"
        );
        assert_eq!(
            next("0 9 * * 5-7", utc_zone, "2026-03-02T00:00:00Z"),
            "Fri 2026-03-06 09:00:00 +00:00"
        );
        assert_eq!(
            next("0 9 * * sat,sun", utc_zone, "2026-03-02T00:00:00Z"),
            "Sat 2026-03-07 09:00:00 +00:00"
        );
    }

    #[test]
    fn restricted_day_fields_match_either() {
        let zone = chrono_tz::UTC;
        // 2026-02-13 is a Friday; 2026-03-13 too. From 2026-02-14: next Friday the 20th, or
        // the 13th of March, whichever comes first.
        assert_eq!(
            next("0 0 13 * 5", zone, "2026-02-14T00:00:00Z"),
            "Fri 2026-02-20 00:00:00 +00:00"
        );
        assert_eq!(
            next("0 0 13 * *", zone, "2026-02-14T00:00:00Z"),
            "Fri 2026-03-13 00:00:00 +00:00"
        );
        assert_eq!(
            next("0 0 * * 1", zone, "2026-02-14T00:00:00Z"),
            "Mon 2026-02-16 00:00:00 +00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", zone, "2026-02-14T00:00:00Z"),
            "Tue 2028-02-29 00:00:00 +00:00"
        );
    }

    #[test]
    fn steps_ranges_descriptors_and_seconds() {
        let zone = chrono_tz::UTC;
        assert_eq!(
            next("*/20 9-17 * * MON-FRI", zone, "2026-03-06T17:45:00Z"),
            "Mon 2026-03-09 09:00:00 +00:00"
        );
        assert_eq!(
            next("5/20 * * * *", zone, "2026-03-06T17:46:00Z"),
            "Fri 2026-03-06 18:05:00 +00:00"
        );
        assert_eq!(
            next("@weekly", zone, "2026-03-02T00:00:00Z"),
            "Sun 2026-03-08 00:00:00 +00:00"
        );
        assert_eq!(
            next("@monthly", zone, "2026-03-02T00:00:00Z"),
            "Wed 2026-04-01 00:00:00 +00:00"
        );
        assert_eq!(
            next("30 0 18 * * 5", zone, "2026-03-01T00:00:00Z"),
            "Fri 2026-03-06 18:00:30 +00:00"
        );
        assert_eq!(
            next("0 0 1 jan,JUL *", zone, "2026-03-01T00:00:00Z"),
            "Wed 2026-07-01 00:00:00 +00:00"
        );
    }

    #[test]
    fn errors_name_the_field_and_value() {
        for (text, error) in [
            ("", "the schedule is empty; write 5 fields, `minute hour day-of-month month day-of-week` (as in `0 18 * * 5`), or 6 with seconds first"),
            ("0 18 * *", "the schedule has 4 fields; write 5 fields, `minute hour day-of-month month day-of-week` (as in `0 18 * * 5`), or 6 with seconds first"),
            ("60 18 * * 5", "minute `60` is outside 0-59"),
            ("0 24 * * 5", "hour `24` is outside 0-23"),
            ("0 18 0 * *", "day-of-month `0` is outside 1-31"),
            ("0 18 * 13 *", "month `13` is outside 1-12"),
            ("0 18 * * 8", "day-of-week `8` is outside 0-7"),
            ("0 18 * * FRI-MON", "day-of-week field `FRI-MON`: the range goes backwards (5 is after 1)"),
            ("0 18 * * fr", "day-of-week `fr` is not a value of 0-7, or a name such as `SUN`"),
            ("0 18 L * *", "day-of-month `L` is not a value of 1-31"),
            ("*/0 * * * *", "minute field `*/0`: step `0` is not a whole number of at least 1"),
            ("1,,2 * * * *", "minute field `1,,2` has an empty list item"),
            ("@reboot", "`@reboot` is not a descriptor meshcd knows; use `@yearly`, `@monthly`, `@weekly`, `@daily` or `@hourly`, or write 5 fields, `minute hour day-of-month month day-of-week` (as in `0 18 * * 5`), or 6 with seconds first"),
        ] {
            let got = parse(text).map(|_| ()).unwrap_err();
            assert_eq!(got, error, "{text}");
        }
    }

    #[test]
    fn descriptions() {
        for (text, description) in [
            ("0 18 * * 5", "Fri 18:00"),
            ("0 9 * * 1-5", "Mon-Fri 09:00"),
            ("30 2 * * *", "daily 02:30"),
            ("0 0 * * 6,0", "Sat,Sun 00:00"),
            ("0 0 * * 1,3,5", "Mon,Wed,Fri 00:00"),
            ("0 0 * * 0-6", "Mon-Sun 00:00"),
            ("0 18 1 * *", "`0 18 1 * *`"),
            ("*/5 * * * *", "`*/5 * * * *`"),
        ] {
            assert_eq!(
                parse(text).expect("valid").describe(),
                description,
                "{text}"
            );
        }
    }

    #[test]
    fn impossible_dates_never_fire() {
        assert!(!parse("0 0 30 2 *").expect("valid").fires());
        assert!(!parse("0 0 31 4,6,9,11 *").expect("valid").fires());
        assert!(parse("0 0 29 2 *").expect("valid").fires());
        assert!(parse("0 0 30 2 1").expect("valid").fires());
    }

    #[test]
    fn prev_start_respects_the_floor() {
        let schedule = parse("0 22 * * *").expect("valid");
        let t = utc("2026-06-02T09:00:00Z");
        assert_eq!(
            schedule.prev_start(chrono_tz::UTC, t, utc("2026-06-01T10:00:00Z")),
            Some(utc("2026-06-01T22:00:00Z"))
        );
        assert_eq!(
            schedule.prev_start(chrono_tz::UTC, t, utc("2026-06-01T22:00:00Z")),
            None
        );
    }
}
