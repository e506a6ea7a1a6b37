//! One ChangeWindow, parsed once: its kind, selection, and when its occurrences are active.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;

use super::schedule::{self, Schedule};
use super::select::Selection;
use super::zone;
use crate::model::meshcd::{ChangeWindowSpec, WindowKind};
use crate::rollout::duration;

/// A parsed window.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// The resource's name.
    pub name: String,
    /// Allow or deny; a window of another kind counts as an invalid deny window.
    pub kind: WindowKind,
    /// The routes it applies to.
    pub selection: Selection,
    /// When it is active; `Err` says why the window is invalid.
    pub timing: Result<Timing, String>,
}

/// When a valid window is active.
#[derive(Debug, Clone)]
pub(super) struct Timing {
    schedule: Schedule,
    zone: Tz,
    duration: TimeDelta,
    /// `Fri 18:00 Europe/Paris for 62h`.
    label: String,
}

/// How long an active window stays active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Until this instant (the end of its last back-to-back occurrence).
    Until(DateTime<Utc>),
    /// Past the search limit.
    Beyond,
    /// Further than the search budget could tell (occurrences back to back, many of them).
    Unknown,
}

impl Window {
    /// Parses a window's spec.
    pub fn new(name: &str, spec: &ChangeWindowSpec) -> Self {
        let kind = WindowKind::parse(&spec.kind);
        let timing = match kind {
            Some(_) => Timing::new(spec),
            None => Err(format!(
                "kind `{}` is neither `allow` nor `deny`",
                spec.kind
            )),
        };
        Self {
            name: name.to_string(),
            kind: kind.unwrap_or(WindowKind::Deny),
            selection: Selection::new(&spec.selector),
            timing,
        }
    }

    /// `weekend-freeze (Fri 18:00 Europe/Paris for 62h)`, or `name (invalid: ...)`.
    pub fn named(&self) -> String {
        match &self.timing {
            Ok(timing) => format!("{} ({})", self.name, timing.label),
            Err(problem) => format!("{} (invalid: {problem})", self.name),
        }
    }

    /// `deny window weekend-freeze (Fri 18:00 Europe/Paris for 62h)`.
    pub fn title(&self) -> String {
        format!("{} window {}", self.kind.as_str(), self.named())
    }
}

impl Timing {
    /// Parses the schedule, time zone and duration of a spec.
    pub fn new(spec: &ChangeWindowSpec) -> Result<Self, String> {
        let schedule = schedule::parse(&spec.schedule).map_err(|e| format!("schedule: {e}"))?;
        let zone_name = spec.time_zone.as_deref().unwrap_or(zone::DEFAULT);
        let zone = zone::parse(zone_name)?;
        let duration = duration::parse(&spec.duration)
            .and_then(|d| TimeDelta::from_std(d).ok())
            .ok_or_else(|| format!("duration `{}` is not a duration", spec.duration))?;
        let label = format!(
            "{} {} for {}",
            schedule.describe(),
            zone.name(),
            spec.duration.trim()
        );
        Ok(Self {
            schedule,
            zone,
            duration,
            label,
        })
    }

    /// The start of the occurrence active at `t`, if one is: the latest start `s` with
    /// `s <= t < s + duration`.
    pub fn active_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.duration <= TimeDelta::zero() {
            return None;
        }
        let floor = t
            .checked_sub_signed(self.duration)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.schedule.prev_start(self.zone, t, floor)
    }

    /// True when an occurrence is active at `t`.
    pub fn is_active(&self, t: DateTime<Utc>) -> bool {
        self.active_start(t).is_some()
    }

    /// When the window, active at `t`, stops being active: occurrences that start before the
    /// previous one ends extend it. `None` when it is not active at `t`. Each extension spends
    /// one unit of `budget`.
    pub fn active_until(
        &self,
        t: DateTime<Utc>,
        limit: DateTime<Utc>,
        budget: &mut u32,
    ) -> Option<Reach> {
        let start = self.active_start(t)?;
        let Some(mut end) = start.checked_add_signed(self.duration) else {
            return Some(Reach::Beyond);
        };
        loop {
            if end > limit {
                return Some(Reach::Beyond);
            }
            if *budget == 0 {
                return Some(Reach::Unknown);
            }
            *budget -= 1;
            match self.active_start(end) {
                None => return Some(Reach::Until(end)),
                Some(next) => match next.checked_add_signed(self.duration) {
                    Some(next_end) => end = next_end,
                    None => return Some(Reach::Beyond),
                },
            }
        }
    }

    /// The first occurrence that starts after `t` and makes the window active, up to `limit`.
    pub fn next_start(&self, t: DateTime<Utc>, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.duration <= TimeDelta::zero() {
            return None;
        }
        self.schedule.next_start(self.zone, t, limit)
    }

    /// An instant as RFC 3339 in the window's time zone: `2026-11-23T08:00:00+01:00`.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}
