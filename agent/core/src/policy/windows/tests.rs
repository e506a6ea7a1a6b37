//! Tests of change windows: selection, open/closed, `until`, across time zones and DST.
//!
//! 2026 transitions used below: Europe/Paris springs forward on March 29 (02:00 CET → 03:00
//! CEST, 01:00 UTC) and falls back on October 25 (03:00 CEST → 02:00 CET, 01:00 UTC);
//! America/New_York springs forward on March 8 (02:00 EST → 03:00 EDT, 07:00 UTC) and falls
//! back on November 1 (02:00 EDT → 01:00 EST, 06:00 UTC).

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::ir::{self, RouteIr};
use crate::load::{load, Loaded};
use crate::model::meshcd::ChangeWindowSpec;
use crate::source::SourceFile;

const ROUTES: &str = "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.shop.example.com]
meshes: [projects/p/locations/global/meshes/prod]
labels: {tier: critical}
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: books}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: store}
spec:
  parentRefs: [{name: internal-gw, namespace: infra}]
  hostnames: [store.example.internal]
  rules:
  - backendRefs: [{name: store, port: 80}]
";

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// The routes above plus some windows, as a revision.
fn revision(windows: &str) -> Loaded {
    let loaded = load(vec![SourceFile::new(
        "r.yaml",
        format!("{ROUTES}---\n{windows}"),
    )]);
    assert!(
        !loaded.has_errors(),
        "fixture must load: {:?}",
        loaded.findings
    );
    loaded
}

fn route<'a>(routes: &'a [RouteIr<'a>], name: &str) -> &'a RouteIr<'a> {
    routes
        .iter()
        .find(|r| r.resource.id.name == name)
        .unwrap_or_else(|| panic!("no route {name}"))
}

/// A window in YAML.
fn window(name: &str, kind: &str, schedule: &str, duration: &str, zone: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1\nkind: ChangeWindow\nmetadata: {{name: {name}}}\n\
         spec:\n  kind: {kind}\n  schedule: '{schedule}'\n  duration: {duration}\n  \
         timeZone: {zone}\n---\n"
    )
}

/// The state of route `checkout` at `now` under some windows (through [`window_state`]).
fn checkout_at(windows: &str, now: &str) -> WindowState {
    let loaded = revision(windows);
    let routes = ir::routes(&loaded.resources);
    window_state(&windows_of(&loaded), route(&routes, "checkout"), utc(now))
}

fn closed(reason: &str, until: Option<&str>) -> WindowState {
    WindowState {
        open: false,
        reason: Some(reason.to_string()),
        until: until.map(utc),
    }
}

fn open() -> WindowState {
    WindowState {
        open: true,
        reason: None,
        until: None,
    }
}

#[test]
fn no_window_leaves_every_route_open() {
    assert_eq!(checkout_at("", "2026-06-01T00:00:00Z"), open());
}

#[test]
fn weekly_weekend_freeze_in_paris() {
    let freeze = window(
        "weekend-freeze",
        "deny",
        "0 18 * * 5",
        "62h",
        "Europe/Paris",
    );
    // Friday 2026-11-20 18:00 CET (17:00 UTC) for 62 hours: Monday 08:00 CET.
    assert_eq!(checkout_at(&freeze, "2026-11-20T16:59:59Z"), open());
    assert_eq!(
        checkout_at(&freeze, "2026-11-21T11:00:00Z"),
        closed(
            "deny window weekend-freeze (Fri 18:00 Europe/Paris for 62h) is active until \
             2026-11-23T08:00:00+01:00",
            Some("2026-11-23T07:00:00Z")
        )
    );
    assert!(!checkout_at(&freeze, "2026-11-20T17:00:00Z").open);
    assert_eq!(checkout_at(&freeze, "2026-11-23T07:00:00Z"), open());
    assert!(checkout_at(&freeze, "2026-11-25T12:00:00Z").open);
}

#[test]
fn weekend_freeze_over_the_fall_back_lasts_62_hours_not_62_wall_clock_hours() {
    let freeze = window(
        "weekend-freeze",
        "deny",
        "0 18 * * 5",
        "62h",
        "Europe/Paris",
    );
    // Friday 2026-10-23 18:00 CEST (16:00 UTC) + 62h = Monday 06:00 UTC, 07:00 CET.
    assert_eq!(
        checkout_at(&freeze, "2026-10-25T12:00:00Z"),
        closed(
            "deny window weekend-freeze (Fri 18:00 Europe/Paris for 62h) is active until \
             2026-10-26T07:00:00+01:00",
            Some("2026-10-26T06:00:00Z")
        )
    );
}

#[test]
fn spring_forward_paris_0230_starts_at_0300_cest() {
    let nightly = window("nightly", "deny", "30 2 * * *", "1h", "Europe/Paris");
    // The day before: 02:30 CET = 01:30 UTC.
    assert!(!checkout_at(&nightly, "2026-03-28T01:30:00Z").open);
    // 02:30 does not exist on 2026-03-29: the occurrence starts at 03:00 CEST (01:00 UTC).
    assert_eq!(checkout_at(&nightly, "2026-03-29T00:59:59Z"), open());
    assert_eq!(
        checkout_at(&nightly, "2026-03-29T01:00:00Z"),
        closed(
            "deny window nightly (daily 02:30 Europe/Paris for 1h) is active until \
             2026-03-29T04:00:00+02:00",
            Some("2026-03-29T02:00:00Z")
        )
    );
    assert_eq!(checkout_at(&nightly, "2026-03-29T02:00:00Z"), open());
    // The day after: 02:30 CEST = 00:30 UTC.
    assert!(!checkout_at(&nightly, "2026-03-30T00:30:00Z").open);
    assert!(checkout_at(&nightly, "2026-03-30T00:29:59Z").open);
}

#[test]
fn spring_forward_new_york_0230_starts_at_0300_edt() {
    let nightly = window("nightly", "deny", "30 2 * * *", "1h", "America/New_York");
    assert_eq!(checkout_at(&nightly, "2026-03-08T06:59:59Z"), open());
    assert_eq!(
        checkout_at(&nightly, "2026-03-08T07:00:00Z"),
        closed(
            "deny window nightly (daily 02:30 America/New_York for 1h) is active until \
             2026-03-08T04:00:00-04:00",
            Some("2026-03-08T08:00:00Z")
        )
    );
}

#[test]
fn fall_back_paris_0230_starts_once_at_its_first_occurrence() {
    let nightly = window("nightly", "deny", "30 2 * * *", "30m", "Europe/Paris");
    // 02:30 happens twice on 2026-10-25: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    assert_eq!(
        checkout_at(&nightly, "2026-10-25T00:45:00Z"),
        closed(
            "deny window nightly (daily 02:30 Europe/Paris for 30m) is active until \
             2026-10-25T02:00:00+01:00",
            Some("2026-10-25T01:00:00Z")
        )
    );
    assert_eq!(checkout_at(&nightly, "2026-10-25T01:45:00Z"), open());
}

#[test]
fn fall_back_new_york_0130_starts_once_at_its_first_occurrence() {
    let nightly = window("nightly", "deny", "30 1 * * *", "30m", "America/New_York");
    // 01:30 happens twice on 2026-11-01: at 05:30 UTC (EDT) and at 06:30 UTC (EST).
    assert!(!checkout_at(&nightly, "2026-11-01T05:45:00Z").open);
    assert_eq!(checkout_at(&nightly, "2026-11-01T06:45:00Z"), open());
    // The day after, 01:30 EST = 06:30 UTC.
    assert!(!checkout_at(&nightly, "2026-11-02T06:45:00Z").open);
}

#[test]
fn duration_is_elapsed_time_across_a_spring_forward_day() {
    let sunday = window("sunday", "deny", "0 0 * * 0", "24h", "Europe/Paris");
    // Sunday 2026-03-29 00:00 CET (23:00 UTC the day before) has 23 hours: 24h ends at
    // 01:00 CEST on Monday.
    assert_eq!(
        checkout_at(&sunday, "2026-03-29T22:30:00Z"),
        closed(
            "deny window sunday (Sun 00:00 Europe/Paris for 24h) is active until \
             2026-03-30T01:00:00+02:00",
            Some("2026-03-29T23:00:00Z")
        )
    );
}

#[test]
fn an_occurrence_that_began_yesterday_is_still_active() {
    let nightly = window("nightly", "deny", "0 22 * * *", "12h", "UTC");
    assert_eq!(
        checkout_at(&nightly, "2026-06-02T09:00:00Z"),
        closed(
            "deny window nightly (daily 22:00 UTC for 12h) is active until 2026-06-02T10:00:00Z",
            Some("2026-06-02T10:00:00Z")
        )
    );
    assert_eq!(checkout_at(&nightly, "2026-06-02T10:00:00Z"), open());
}

#[test]
fn overlapping_allow_and_deny_windows() {
    let windows = window(
        "business-hours",
        "allow",
        "0 9 * * 1-5",
        "8h",
        "Europe/Paris",
    ) + &window("lunch", "deny", "0 12 * * *", "1h", "Europe/Paris");
    // Wednesday 2026-06-03 (CEST, +02:00).
    assert_eq!(checkout_at(&windows, "2026-06-03T08:00:00Z"), open());
    assert_eq!(
        checkout_at(&windows, "2026-06-03T10:30:00Z"),
        closed(
            "deny window lunch (daily 12:00 Europe/Paris for 1h) is active until \
             2026-06-03T13:00:00+02:00",
            Some("2026-06-03T11:00:00Z")
        )
    );
    assert_eq!(
        checkout_at(&windows, "2026-06-03T16:00:00Z"),
        closed(
            "outside allow window business-hours (Mon-Fri 09:00 Europe/Paris for 8h); open \
             again at 2026-06-04T09:00:00+02:00",
            Some("2026-06-04T07:00:00Z")
        )
    );
    // Friday evening: Monday morning.
    assert_eq!(
        checkout_at(&windows, "2026-06-05T16:00:00Z").until,
        Some(utc("2026-06-08T07:00:00Z"))
    );
    // Several deny windows at once: the one that ends last is named.
    let two = windows.clone() + &window("long-lunch", "deny", "30 11 * * *", "3h", "Europe/Paris");
    assert_eq!(
        checkout_at(&two, "2026-06-03T10:30:00Z"),
        closed(
            "deny window long-lunch (daily 11:30 Europe/Paris for 3h) is active until \
             2026-06-03T14:30:00+02:00 (and 1 more deny window)",
            Some("2026-06-03T12:30:00Z")
        )
    );
}

#[test]
fn until_is_when_the_deny_window_ends_inside_an_allow_window_or_the_next_allow_start() {
    let business = window(
        "business-hours",
        "allow",
        "0 9 * * 1-5",
        "8h",
        "Europe/Paris",
    );
    // Deny 08:00-10:00 local: at 08:30 the route opens at 10:00, inside business hours.
    let morning = business.clone() + &window("morning", "deny", "0 8 * * *", "2h", "Europe/Paris");
    assert_eq!(
        checkout_at(&morning, "2026-06-03T06:30:00Z").until,
        Some(utc("2026-06-03T08:00:00Z"))
    );
    // Friday 15:00 to Saturday 11:00: the route opens on Monday at 09:00.
    let release = business
        + &window(
            "release-freeze",
            "deny",
            "0 15 * * 5",
            "20h",
            "Europe/Paris",
        );
    assert_eq!(
        checkout_at(&release, "2026-06-05T13:30:00Z"),
        closed(
            "deny window release-freeze (Fri 15:00 Europe/Paris for 20h) is active until \
             2026-06-06T11:00:00+02:00",
            Some("2026-06-08T07:00:00Z")
        )
    );
}

#[test]
fn until_is_none_beyond_the_horizon() {
    let leap = window("leap-day", "allow", "0 0 29 2 *", "24h", "UTC");
    assert_eq!(
        checkout_at(&leap, "2026-06-01T00:00:00Z"),
        closed(
            "outside allow window leap-day (`0 0 29 2 *` UTC for 24h)",
            None
        )
    );
    assert_eq!(
        checkout_at(&leap, "2027-06-01T00:00:00Z").until,
        Some(utc("2028-02-29T00:00:00Z"))
    );
    assert!(checkout_at(&leap, "2028-02-29T12:00:00Z").open);
}

#[test]
fn back_to_back_occurrences_hold_until_the_last_one_ends() {
    let chained = window("chained", "deny", "0 9-11 * * *", "1h", "UTC");
    assert_eq!(
        checkout_at(&chained, "2026-06-03T09:30:00Z"),
        closed(
            "deny window chained (`0 9-11 * * *` UTC for 1h) is active until 2026-06-03T12:00:00Z",
            Some("2026-06-03T12:00:00Z")
        )
    );
    for (always, ending) in [
        (
            window("always", "deny", "0 */6 * * *", "6h", "UTC"),
            "is active for more than 366 days",
        ),
        (
            window("always", "deny", "* * * * *", "1m", "UTC"),
            "is active, and its occurrences follow each other too closely to tell when it ends",
        ),
        (
            window("always", "deny", "* * 9-17 * * *", "2s", "UTC"),
            "is active, and its occurrences follow each other too closely to tell when it ends",
        ),
    ] {
        let state = checkout_at(&always, "2026-06-03T09:30:00Z");
        assert!(!state.open);
        assert_eq!(state.until, None);
        assert!(
            state.reason.as_deref().is_some_and(|r| r.ends_with(ending)),
            "{state:?}"
        );
    }
}

#[test]
fn zero_length_allow_windows_never_open() {
    let never = window("never", "allow", "0 9 * * *", "0s", "UTC");
    assert_eq!(
        checkout_at(&never, "2026-06-03T09:00:00Z"),
        closed("outside allow window never (daily 09:00 UTC for 0s)", None)
    );
    let also = never + &window("weekdays", "allow", "0 9 * * 1-5", "1h", "UTC");
    assert!(checkout_at(&also, "2026-06-03T09:30:00Z").open);
    assert_eq!(
        checkout_at(&also, "2026-06-03T10:30:00Z").until,
        Some(utc("2026-06-04T09:00:00Z"))
    );
}

#[test]
fn invalid_windows_fail_closed() {
    let bad_deny = window("bad", "deny", "0 18 * * 5", "62h", "Europe/Pariss");
    assert_eq!(
        checkout_at(&bad_deny, "2026-06-03T09:00:00Z"),
        closed(
            "deny window bad is invalid (unknown time zone `Europe/Pariss`; did you mean \
             `Europe/Paris`?), so changes wait until it is fixed",
            None
        )
    );
    let unknown_kind = window("odd", "block", "0 18 * * 5", "62h", "UTC");
    assert_eq!(
        checkout_at(&unknown_kind, "2026-06-03T09:00:00Z"),
        closed(
            "deny window odd is invalid (kind `block` is neither `allow` nor `deny`), so changes \
             wait until it is fixed",
            None
        )
    );
    let bad_allow = window("bad", "allow", "0 25 * * *", "1h", "UTC");
    assert_eq!(
        checkout_at(&bad_allow, "2026-06-03T09:00:00Z"),
        closed(
            "outside allow window bad (invalid: schedule: hour `25` is outside 0-23)",
            None
        )
    );
    let with_valid = bad_allow + &window("day", "allow", "0 8 * * *", "2h", "UTC");
    assert!(checkout_at(&with_valid, "2026-06-03T09:00:00Z").open);
    let bad_duration = window("bad", "deny", "0 8 * * *", "2 days", "UTC");
    assert!(!checkout_at(&bad_duration, "2026-06-03T12:00:00Z").open);
}

#[test]
fn selectors_pick_routes_by_name_host_label_or_mesh_and_empty_picks_all() {
    let selector = |name: &str, selector: &str| {
        format!(
            "apiVersion: meshcd.dev/v1alpha1\nkind: ChangeWindow\nmetadata: {{name: {name}}}\n\
             spec: {{kind: deny, schedule: '0 0 * * *', duration: 1h, selector: {selector}}}\n---\n"
        )
    };
    let windows = [
        selector("everything", "{}"),
        selector("by-name", "{routes: [books/reviews]}"),
        selector("by-host", "{hostnames: ['*.shop.example.com']}"),
        selector("by-label", "{matchLabels: {tier: critical}}"),
        selector("prod-mesh", "{meshes: [prod]}"),
        selector(
            "full-mesh",
            "{meshes: [projects/p/locations/global/meshes/prod]}",
        ),
        selector("istio-mesh", "{meshes: [mesh]}"),
        selector("gateway", "{meshes: [internal-gw]}"),
        selector("gateway-ns", "{meshes: [infra/internal-gw]}"),
        selector("nothing", "{meshes: [staging], routes: [chekout]}"),
    ]
    .concat();
    let loaded = revision(&windows);
    let routes = ir::routes(&loaded.resources);
    let parsed = Windows::from_loaded(&loaded);
    assert_eq!(parsed.len(), 10);
    assert_eq!(
        parsed.selecting(route(&routes, "checkout")),
        vec![
            "everything",
            "by-host",
            "by-label",
            "prod-mesh",
            "full-mesh"
        ]
    );
    assert_eq!(
        parsed.selecting(route(&routes, "reviews")),
        vec!["everything", "by-name", "istio-mesh"]
    );
    assert_eq!(
        parsed.selecting(route(&routes, "store")),
        vec!["everything", "gateway", "gateway-ns"]
    );
}

#[test]
fn one_evaluation_per_set_of_windows_gives_the_same_states() {
    let windows = window(
        "business-hours",
        "allow",
        "0 9 * * 1-5",
        "8h",
        "Europe/Paris",
    ) + &window("lunch", "deny", "0 12 * * *", "1h", "Europe/Paris")
        + "apiVersion: meshcd.dev/v1alpha1\nkind: ChangeWindow\nmetadata: {name: prod}\n\
           spec: {kind: deny, schedule: '0 18 * * 5', duration: 62h, selector: {meshes: [prod]}}\n";
    let loaded = revision(&windows);
    let routes = ir::routes(&loaded.resources);
    let parsed = Windows::from_loaded(&loaded);
    for now in [
        "2026-06-03T08:00:00Z",
        "2026-06-03T10:30:00Z",
        "2026-06-05T17:00:00Z",
        "2026-06-06T12:00:00Z",
    ] {
        let at = parsed.at(utc(now));
        assert_eq!(at.now(), utc(now));
        // Many routes, few distinct sets of windows: a few evaluations in all.
        for _ in 0..2_000 {
            for route in &routes {
                assert_eq!(at.state(route), parsed.state(route, utc(now)), "{now}");
            }
        }
        assert_eq!(at.memo.borrow().len(), 2, "{now}");
    }
}

fn any_schedule() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("*".to_string()),
        Just("?".to_string()),
        (0u32..70).prop_map(|v| v.to_string()),
        (0u32..30, 0u32..30).prop_map(|(a, b)| format!("{a}-{b}")),
        (0u32..30, 0u32..8).prop_map(|(a, s)| format!("{a}/{s}")),
        (0u32..8).prop_map(|s| format!("*/{s}")),
        Just("MON-FRI".to_string()),
        Just("SAT,SUN".to_string()),
        Just("JAN".to_string()),
        Just("L".to_string()),
        Just(String::new()),
    ];
    prop_oneof![
        proptest::collection::vec(field, 0..8).prop_map(|fields| fields.join(" ")),
        Just("@daily".to_string()),
        Just("@yearly".to_string()),
        Just("0 0 29 2 *".to_string()),
        Just("30 2 * * *".to_string()),
        "\\PC{0,24}",
    ]
}

fn any_duration() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0s".to_string()),
        Just("1s".to_string()),
        Just("1m".to_string()),
        Just("90m".to_string()),
        Just("25h".to_string()),
        Just("62h".to_string()),
        Just("9000h".to_string()),
        Just("999999999999s".to_string()),
        Just("2 days".to_string()),
        "\\PC{0,8}",
    ]
}

fn any_zone() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("UTC".to_string())),
        Just(Some("Europe/Paris".to_string())),
        Just(Some("America/New_York".to_string())),
        Just(Some("Australia/Lord_Howe".to_string())),
        Just(Some("Pacific/Apia".to_string())),
        Just(Some("Asia/Kathmandu".to_string())),
        Just(Some("Europe/Pariss".to_string())),
    ]
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    prop_oneof![
        // Around 2026 and its transitions.
        1_767_225_600i64..1_798_761_600,
        // Near the edges of the years windows are evaluated in.
        -30_610_224_000i64..-30_500_000_000,
        253_370_000_000i64..253_402_300_799,
        min..=max,
    ]
    .prop_map(|secs| DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default())
}

fn any_window() -> impl Strategy<Value = ChangeWindowSpec> {
    (
        prop_oneof![Just("allow"), Just("deny"), Just("block")],
        any_schedule(),
        any_duration(),
        any_zone(),
    )
        .prop_map(|(kind, schedule, duration, time_zone)| ChangeWindowSpec {
            kind: kind.to_string(),
            schedule,
            duration,
            time_zone,
            ..ChangeWindowSpec::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn window_state_never_panics(
        specs in proptest::collection::vec(any_window(), 1..4),
        now in any_instant(),
    ) {
        let template = revision(&window("w", "deny", "0 0 * * *", "1h", "UTC"));
        let base = windows_of(&template)[0].clone();
        let resources: Vec<Resource> = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut resource = base.clone();
                resource.id.name = format!("w{i}");
                resource.spec = Spec::ChangeWindow(spec);
                resource
            })
            .collect();
        let refs: Vec<&Resource> = resources.iter().collect();
        let routes = ir::routes(&template.resources);
        let state = window_state(&refs, route(&routes, "checkout"), now);
        prop_assert_eq!(state.open, state.reason.is_none());
        if let Some(until) = state.until {
            prop_assert!(!state.open && until > now);
        }
    }
}
