//! Change windows: whether a route may change now, from the repository's `ChangeWindow`s.
//!
//! ```yaml
//! apiVersion: meshcd.dev/v1alpha1
//! kind: ChangeWindow
//! metadata: {name: weekend-freeze}
//! spec:
//!   kind: deny                 # allow | deny
//!   schedule: "0 18 * * 5"     # cron: minute hour day-of-month month day-of-week
//!   duration: 62h              # how long each occurrence lasts
//!   timeZone: Europe/Paris     # IANA name (default UTC)
//!   selector:                  # which routes; empty: every route
//!     routes: [checkout]
//!     hostnames: ["*.shop.example.com"]
//!     matchLabels: {tier: critical}
//!     meshes: [prod]
//! ```
//!
//! **Active.** A window is active at `now` when some occurrence start `s` of its schedule, read
//! in its time zone, has `s <= now < s + duration`. The duration is elapsed time: `24h` from
//! midnight on a 23-hour spring-forward day ends at 01:00 the next day. A window of duration
//! zero is never active. Schedules are cron as Argo CD reads them (see [`schedule`]).
//!
//! **Daylight saving.** An occurrence at a local time that does not exist (clocks spring
//! forward over it) starts at the first instant after the gap: `30 2 * * *` in Europe/Paris on
//! 2026-03-29 starts at 03:00 CEST. An occurrence at a local time that exists twice (clocks
//! fall back) starts at the first of the two and only then: on 2026-10-25 it starts at
//! 02:30 CEST, not again at 02:30 CET. See [`zone::resolve`].
//!
//! **Selection.** A window applies to a route when its selector is empty, or when any of its
//! lists matches: `routes`, `hostnames` and `matchLabels` as a RolloutPolicy's selector
//! ([`crate::policy::selector::selects`]), and `meshes`, a mesh or gateway the route attaches to
//! ([`select::attachments`]).
//!
//! **Open or closed.** For a route, if any `deny` window that applies to it is active at `now`,
//! the route is closed; else if any `allow` window applies to it and none of those is active,
//! it is closed; else it is open. Closed means apply and rollout steps wait; plan and report
//! say so with [`WindowState::reason`].
//!
//! **Invalid windows** (those MC304 reports as errors: a kind other than allow/deny, a schedule,
//! duration or time zone meshcd cannot read) fail closed: an invalid deny window (or one of
//! unknown kind) is always active, an invalid allow window is never active.
//!
//! **When it opens.** [`WindowState::until`] is the first instant at or after which the route
//! is open, when that is within [`HORIZON_DAYS`] days; `None` when it is not, or when the
//! windows chain occurrences back to back so often that finding the end would take more than a
//! bounded amount of work.
//!
//! Instants outside the years 1000 to 9999 see no occurrences.

pub mod schedule;
pub mod select;
mod window;
pub mod zone;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ir::RouteIr;
use crate::load::Loaded;
use crate::model::meshcd::WindowKind;
use crate::model::{Kind, Resource, Spec};
use window::{Reach, Window};

/// How far ahead [`WindowState::until`] is looked for.
pub const HORIZON_DAYS: i64 = 366;

/// How many occurrence look-ups one route's state may take (back-to-back occurrences of a
/// window that is always active would otherwise be walked one by one to the horizon).
const BUDGET: u32 = 10_000;

/// Whether a route may change now, and why not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowState {
    /// True when changes may be applied.
    pub open: bool,
    /// Why the route is closed: `deny window weekend-freeze (Fri 18:00 Europe/Paris for 62h) is
    /// active until 2026-11-23T08:00:00+01:00`. `None` when open.
    pub reason: Option<String>,
    /// When a closed route opens next, if within [`HORIZON_DAYS`] days. `None` when open.
    pub until: Option<DateTime<Utc>>,
}

impl WindowState {
    fn open() -> Self {
        Self {
            open: true,
            reason: None,
            until: None,
        }
    }
}

/// The ChangeWindow resources of a revision, in file order.
pub fn windows_of(loaded: &Loaded) -> Vec<&Resource> {
    loaded
        .resources
        .iter()
        .filter(|r| r.id.kind == Kind::ChangeWindow)
        .collect()
}

/// Whether a route may change at `now` under some ChangeWindow resources (others are ignored).
/// To evaluate many routes, build [`Windows`] once and use [`Windows::at`].
pub fn window_state(windows: &[&Resource], route: &RouteIr<'_>, now: DateTime<Utc>) -> WindowState {
    Windows::new(windows).state(route, now)
}

/// ChangeWindows parsed once, to evaluate many routes.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<Window>,
}

impl Windows {
    /// Parses the ChangeWindow resources among `resources` (other kinds are ignored).
    pub fn new(resources: &[&Resource]) -> Self {
        let windows = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::ChangeWindow(spec) => Some(Window::new(&r.id.name, spec)),
                _ => None,
            })
            .collect();
        Self { windows }
    }

    /// Parses the ChangeWindows of a revision.
    pub fn from_loaded(loaded: &Loaded) -> Self {
        Self::new(&windows_of(loaded))
    }

    /// The number of windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// True when there are no windows (every route is always open).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Names of the windows that apply to a route, in file order.
    pub fn selecting(&self, route: &RouteIr<'_>) -> Vec<&str> {
        self.selected(route)
            .into_iter()
            .map(|i| self.windows[i].name.as_str())
            .collect()
    }

    /// Whether a route may change at `now`.
    pub fn state(&self, route: &RouteIr<'_>, now: DateTime<Utc>) -> WindowState {
        self.evaluate(&self.selected(route), now)
    }

    /// Whether a route no window names may change at `now`: only windows that select every
    /// route (an empty selector) count. Used for routes that are not in the revision any more
    /// (deletions).
    pub fn state_of_any_route(&self, now: DateTime<Utc>) -> WindowState {
        let every: Vec<usize> = (0..self.windows.len())
            .filter(|i| self.windows[*i].selection.is_every_route())
            .collect();
        self.evaluate(&every, now)
    }

    /// The windows at one instant: routes selected by the same windows share one evaluation.
    pub fn at(&self, now: DateTime<Utc>) -> WindowsAt<'_> {
        WindowsAt {
            windows: self,
            now,
            memo: RefCell::new(HashMap::new()),
        }
    }

    fn selected(&self, route: &RouteIr<'_>) -> Vec<usize> {
        (0..self.windows.len())
            .filter(|i| self.windows[*i].selection.selects(route))
            .collect()
    }

    fn evaluate(&self, selected: &[usize], now: DateTime<Utc>) -> WindowState {
        let (denies, allows): (Vec<&Window>, Vec<&Window>) = selected
            .iter()
            .map(|i| &self.windows[*i])
            .partition(|w| w.kind == WindowKind::Deny);
        if denies.is_empty() && allows.is_empty() {
            return WindowState::open();
        }
        let limit = now
            .checked_add_signed(TimeDelta::days(HORIZON_DAYS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);

        // The deny window that holds the route longest: invalid, then beyond the horizon or
        // of unknown end, then the latest end; the first in file order among equals.
        let mut budget = BUDGET;
        let mut holding: Vec<(&Window, Option<Reach>)> = Vec::new();
        for window in &denies {
            match &window.timing {
                Err(_) => holding.push((window, None)),
                Ok(timing) => {
                    if let Some(reach) = timing.active_until(now, limit, &mut budget) {
                        holding.push((window, Some(reach)));
                    }
                }
            }
        }
        let rank = |reach: &Option<Reach>| match reach {
            None => (2, None),
            Some(Reach::Beyond | Reach::Unknown) => (1, None),
            Some(Reach::Until(end)) => (0, Some(*end)),
        };
        let longest = holding
            .iter()
            .fold(None, |best: Option<&(_, _)>, item| match best {
                Some(b) if rank(&b.1) >= rank(&item.1) => Some(b),
                _ => Some(item),
            });
        if let Some((window, reach)) = longest {
            let mut reason = match (reach, &window.timing) {
                (None, Err(problem)) => format!(
                    "deny window {} is invalid ({problem}), so changes wait until it is fixed",
                    window.name
                ),
                (Some(Reach::Until(end)), Ok(timing)) => {
                    format!("{} is active until {}", window.title(), timing.local(*end))
                }
                (Some(Reach::Beyond), _) => format!(
                    "{} is active for more than {HORIZON_DAYS} days",
                    window.title()
                ),
                _ => format!(
                    "{} is active, and its occurrences follow each other too closely to tell \
                     when it ends",
                    window.title()
                ),
            };
            if holding.len() > 1 {
                let more = holding.len() - 1;
                let plural = if more == 1 { "" } else { "s" };
                reason.push_str(&format!(" (and {more} more deny window{plural})"));
            }
            return WindowState {
                open: false,
                reason: Some(reason),
                until: opens_at(&denies, &allows, now, limit),
            };
        }

        if allows.is_empty()
            || allows
                .iter()
                .any(|w| w.timing.as_ref().is_ok_and(|t| t.is_active(now)))
        {
            return WindowState::open();
        }
        let until = opens_at(&denies, &allows, now, limit);
        let plural = if allows.len() == 1 { "" } else { "s" };
        let names: Vec<String> = allows.iter().map(|w| w.named()).collect();
        let mut reason = format!("outside allow window{plural} {}", names.join(", "));
        let first_zone = allows.iter().find_map(|w| w.timing.as_ref().ok());
        if let (Some(until), Some(timing)) = (until, first_zone) {
            reason.push_str(&format!("; open again at {}", timing.local(until)));
        }
        WindowState {
            open: false,
            reason: Some(reason),
            until,
        }
    }
}

/// The first instant from `now` on at which no deny window is active and, when there are
/// allow windows, one of them is; `None` past `limit` or when it would take too long to tell.
fn opens_at(
    denies: &[&Window],
    allows: &[&Window],
    now: DateTime<Utc>,
    limit: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut deny_timings = Vec::with_capacity(denies.len());
    for window in denies {
        // An invalid deny window never ends.
        deny_timings.push(window.timing.as_ref().ok()?);
    }
    let allow_timings: Vec<_> = allows
        .iter()
        .filter_map(|w| w.timing.as_ref().ok())
        .collect();
    let mut budget = BUDGET;
    let mut t = now;
    loop {
        if t > limit || budget == 0 {
            return None;
        }
        budget -= 1;
        let mut deny_end: Option<DateTime<Utc>> = None;
        for timing in &deny_timings {
            match timing.active_until(t, limit, &mut budget) {
                None => {}
                Some(Reach::Beyond | Reach::Unknown) => return None,
                Some(Reach::Until(end)) => deny_end = deny_end.max(Some(end)),
            }
        }
        if let Some(end) = deny_end {
            t = end;
            continue;
        }
        if allows.is_empty() || allow_timings.iter().any(|a| a.is_active(t)) {
            return Some(t);
        }
        t = allow_timings
            .iter()
            .filter_map(|a| a.next_start(t, limit))
            .min()?;
    }
}

/// [`Windows`] at one instant, remembering the state of each set of windows that select a
/// route, so that thousands of routes cost one evaluation per distinct set.
#[derive(Debug)]
pub struct WindowsAt<'w> {
    windows: &'w Windows,
    now: DateTime<Utc>,
    memo: RefCell<HashMap<Vec<usize>, WindowState>>,
}

impl WindowsAt<'_> {
    /// The instant the windows are evaluated at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Whether a route may change at [`WindowsAt::now`].
    pub fn state(&self, route: &RouteIr<'_>) -> WindowState {
        let selected = self.windows.selected(route);
        if let Some(state) = self.memo.borrow().get(&selected) {
            return state.clone();
        }
        let state = self.windows.evaluate(&selected, self.now);
        self.memo.borrow_mut().insert(selected, state.clone());
        state
    }
}
