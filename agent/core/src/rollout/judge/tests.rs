//! Tests of the judge: each rule of the module docs on small samples, and the conditions it
//! reports.

use super::*;
use crate::rollout::analysis::{CompareSpec, LatencyCondition, MaxLatency, MinPercent, QuerySpec};

const BOUNDS: [f64; 6] = [5.0, 10.0, 25.0, 50.0, 100.0, 1000.0];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// 99 % success, p99 under 500ms, 20 requests, 99 % confidence (the defaults spelled out).
fn spec() -> AnalysisSpec {
    AnalysisSpec {
        success_rate: Some(MinPercent { min: 99.0 }),
        latency_p99: Some(MaxLatency {
            max: "500ms".into(),
        }),
        ..AnalysisSpec::default()
    }
}

fn latency(counts: [u64; 7]) -> Histogram {
    Histogram {
        bounds_ms: BOUNDS.to_vec(),
        counts: counts.to_vec(),
    }
}

/// `requests` requests with `failures` failures, all fast (in the (5, 10] ms bucket).
fn sample(requests: u64, failures: u64) -> Sample {
    Sample {
        requests,
        failures,
        latency: latency([0, requests, 0, 0, 0, 0, 0]),
    }
}

fn observe(canary: Sample, elapsed: u64) -> Observation {
    Observation {
        canary,
        elapsed: secs(elapsed),
        bake: secs(30),
        ..Observation::default()
    }
}

fn condition<'a>(j: &'a Judgement, name: &str) -> &'a ConditionReport {
    j.conditions
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no condition {name} in {:?}", j.conditions))
}

#[test]
fn provider_none_is_time_based() {
    let spec = AnalysisSpec {
        provider: Provider::None,
        ..spec()
    };
    let j = judge(&spec, &observe(sample(0, 0), 29));
    assert_eq!((j.verdict, j.reason.as_str()), (Verdict::Continue, ""));
    assert_eq!(j.conditions[0].ok, None);
    // Exactly at the bake time: done. Failures are not looked at (no metrics).
    let j = judge(&spec, &observe(sample(10, 10), 30));
    assert_eq!(j.verdict, Verdict::Healthy);
    assert!(j.reason.starts_with("time-based step"), "{}", j.reason);
    assert_eq!(
        j.conditions,
        vec![ConditionReport {
            name: "bake".into(),
            observed: Some("30s".into()),
            threshold: ">= 30s".into(),
            ok: Some(true),
        }]
    );
}

#[test]
fn every_failure_fails_fast_before_min_requests_and_bake() {
    // 3 of 3 failed: exact upper bound 1 − 0.01^(1/3) = 0.785 < 0.99.
    let j = judge(&spec(), &observe(sample(3, 3), 1));
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(
        j.reason,
        "success rate 0.0% over 3 requests is below 99% (fail-fast, 99% confidence)"
    );
    let rate = condition(&j, "success-rate");
    assert_eq!(
        (rate.observed.as_deref(), rate.threshold.as_str(), rate.ok),
        (Some("0.0%"), ">= 99%", Some(false))
    );
    // Not enough requests yet, and not decided.
    assert_eq!(condition(&j, "requests").ok, None);
}

#[test]
fn a_canary_failing_everything_is_caught_after_a_handful_of_requests() {
    let first =
        (1..=100).find(|&n| judge(&spec(), &observe(sample(n, n), 0)).verdict == Verdict::Failed);
    // At min 99 % two failed requests are enough: 0 of n has the exact bound
    // 1 − 0.01^(1/n): 0.99 at n = 1 (not below 0.99), 0.9 at n = 2.
    assert_eq!(first, Some(2));
    // At min 50 % it takes a handful: 1 − 0.01^(1/n) < 0.5 ⇔ n > ln 0.01 / ln 0.5 = 6.64.
    let lenient = AnalysisSpec {
        success_rate: Some(MinPercent { min: 50.0 }),
        ..spec()
    };
    let first =
        (1..=100).find(|&n| judge(&lenient, &observe(sample(n, n), 0)).verdict == Verdict::Failed);
    assert_eq!(first, Some(7));
}

#[test]
fn one_failure_in_a_hundred_does_not_fail_fast_and_meets_99() {
    let j = judge(&spec(), &observe(sample(100, 1), 5));
    assert_eq!((j.verdict, j.reason.as_str()), (Verdict::Continue, ""));
    assert_eq!(condition(&j, "success-rate").ok, None);
    assert_eq!(condition(&j, "requests").ok, Some(true));
    // At the end of the bake 99.0% is exactly the minimum: met.
    let j = judge(&spec(), &observe(sample(100, 1), 30));
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    assert_eq!(
        condition(&j, "success-rate").observed.as_deref(),
        Some("99.0%")
    );
    assert_eq!(j.reason, "all conditions met over 100 requests in 30s");
}

#[test]
fn observed_success_rate_below_min_fails_at_the_end_of_the_bake() {
    // 3 failures in 200 (98.5%): the exact upper bound is above 0.99, so no fail-fast, but
    // the observed rate misses 99% at the end.
    let during = judge(&spec(), &observe(sample(200, 3), 10));
    assert_eq!(during.verdict, Verdict::Continue);
    let j = judge(&spec(), &observe(sample(200, 3), 30));
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(
        j.reason,
        "success rate 98.5% over 200 requests is below 99%"
    );
}

#[test]
fn too_few_requests_is_inconclusive_and_min_requests_itself_is_enough() {
    let j = judge(&spec(), &observe(sample(12, 0), 30));
    assert_eq!(j.verdict, Verdict::Inconclusive);
    assert_eq!(j.reason, "too few canary requests: 12 requests, 20 needed");
    let requests = condition(&j, "requests");
    assert_eq!(
        (
            requests.observed.as_deref(),
            requests.threshold.as_str(),
            requests.ok
        ),
        (Some("12"), ">= 20", Some(false))
    );
    assert_eq!(condition(&j, "success-rate").ok, None);
    let j = judge(&spec(), &observe(sample(20, 0), 30));
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    // Fail-fast still wins over too few requests.
    let j = judge(&spec(), &observe(sample(2, 2), 30));
    assert_eq!(j.verdict, Verdict::Failed);
}

#[test]
fn slow_canary_fails_fast_on_latency() {
    // Every request in (1000ms, ∞): none could have been ≤ 500ms; with 0 of n fast the
    // exact bound 1 − 0.01^(1/n) is below 0.99 from the second request.
    let slow = Sample {
        requests: 4,
        failures: 0,
        latency: latency([0, 0, 0, 0, 0, 0, 4]),
    };
    let j = judge(&spec(), &observe(slow, 1));
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(
        j.reason,
        "p99 latency is above 500ms: at most 0 of 4 requests took 500ms or less \
         (fail-fast, 99% confidence)"
    );
    let p99 = condition(&j, "latency-p99");
    assert_eq!(
        (p99.observed.as_deref(), p99.threshold.as_str(), p99.ok),
        (Some("> 1s"), "<= 500ms", Some(false))
    );
}

#[test]
fn coarse_buckets_never_fail_fast() {
    // All requests in (100, 1000]: they might all be ≤ 500ms, so no fail-fast...
    let coarse = Sample {
        requests: 50,
        failures: 0,
        latency: latency([0, 0, 0, 0, 0, 50, 0]),
    };
    let j = judge(&spec(), &observe(coarse.clone(), 5));
    assert_eq!(j.verdict, Verdict::Continue);
    // ...but at the end the interpolated p99 (100 + 900·0.99 = 991ms) is above 500ms.
    let j = judge(&spec(), &observe(coarse, 30));
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(
        j.reason,
        "p99 latency 991ms over 50 requests is above 500ms"
    );
}

#[test]
fn interpolated_percentile_on_the_threshold_is_met() {
    // 100 requests, 99 in (5, 10], 1 in (10, 25]: p99 is rank 99, the upper edge of
    // (5, 10] → exactly 10ms.
    let spec = AnalysisSpec {
        latency: vec![LatencyCondition {
            percentile: 99.0,
            max: "10ms".into(),
        }],
        ..spec()
    };
    let s = Sample {
        requests: 100,
        failures: 0,
        latency: latency([0, 99, 1, 0, 0, 0, 0]),
    };
    let j = judge(&spec, &observe(s.clone(), 30));
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    // The shorthand and the list are both listed.
    assert_eq!(
        j.conditions
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["requests", "success-rate", "latency-p99", "latency-p99"]
    );
    let lat = &j.conditions[3];
    assert_eq!(
        (lat.observed.as_deref(), lat.threshold.as_str(), lat.ok),
        (Some("10ms"), "<= 10ms", Some(true))
    );
    // One more slow request: rank 99.99 of 101 lands in (10, 25] → above 10ms.
    let mut slower = s;
    slower.requests = 101;
    slower.latency = latency([0, 99, 2, 0, 0, 0, 0]);
    assert_eq!(judge(&spec, &observe(slower, 30)).verdict, Verdict::Failed);
}

#[test]
fn latency_without_data_or_beyond_the_last_bucket_is_inconclusive() {
    let no_histogram = Sample {
        requests: 50,
        failures: 0,
        latency: Histogram::default(),
    };
    let j = judge(&spec(), &observe(no_histogram, 30));
    assert_eq!(j.verdict, Verdict::Inconclusive);
    assert_eq!(
        j.reason,
        "no latency data for p99 (the canary's histogram is empty)"
    );
    // p99 in the overflow of a histogram that ends at 100ms: maybe fine, maybe not.
    let short = Sample {
        requests: 100,
        failures: 0,
        latency: Histogram {
            bounds_ms: vec![10.0, 100.0],
            counts: vec![95, 3, 2],
        },
    };
    let j = judge(&spec(), &observe(short, 30));
    assert_eq!(j.verdict, Verdict::Inconclusive);
    assert!(
        j.reason
            .contains("beyond the histogram's last bucket (100ms)"),
        "{}",
        j.reason
    );
    assert_eq!(
        condition(&j, "latency-p99").observed.as_deref(),
        Some("> 100ms")
    );
}

fn prometheus(queries: Vec<QuerySpec>) -> AnalysisSpec {
    AnalysisSpec {
        provider: Provider::Prometheus,
        queries,
        ..spec()
    }
}

fn query(name: &str, min: Option<f64>, max: Option<f64>) -> QuerySpec {
    QuerySpec {
        name: name.into(),
        query: "sum(x)".into(),
        min,
        max,
    }
}

fn value(name: &str, value: Result<f64, String>) -> QueryValue {
    QueryValue {
        name: name.into(),
        value,
    }
}

#[test]
fn queries_are_judged_against_their_range() {
    let spec = prometheus(vec![
        query("error-budget", None, Some(0.5)),
        query("saturation", Some(0.1), Some(0.9)),
    ]);
    let mut o = observe(sample(50, 0), 30);
    // On the bounds: met.
    o.queries = vec![value("error-budget", Ok(0.5)), value("saturation", Ok(0.1))];
    let j = judge(&spec, &o);
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    let budget = condition(&j, "error-budget");
    assert_eq!(
        (
            budget.observed.as_deref(),
            budget.threshold.as_str(),
            budget.ok
        ),
        (Some("0.5"), "<= 0.5", Some(true))
    );
    assert_eq!(condition(&j, "saturation").threshold, ">= 0.1 and <= 0.9");
    o.queries = vec![
        value("error-budget", Ok(0.7)),
        value("saturation", Ok(0.05)),
    ];
    let j = judge(&spec, &o);
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(j.reason, "query `error-budget` = 0.7 is above its max 0.5");
    assert_eq!(condition(&j, "saturation").ok, Some(false));
    // During the bake queries only show.
    o.elapsed = secs(3);
    assert_eq!(judge(&spec, &o).verdict, Verdict::Continue);
}

#[test]
fn cloud_monitoring_queries_are_judged_like_prometheus_ones() {
    let spec = AnalysisSpec {
        provider: Provider::CloudMonitoring,
        ..prometheus(vec![query("error-budget", None, Some(0.5))])
    };
    let mut o = observe(sample(50, 0), 30);
    o.queries = vec![value("error-budget", Ok(0.7))];
    let j = judge(&spec, &o);
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(j.reason, "query `error-budget` = 0.7 is above its max 0.5");
    o.queries = vec![value("error-budget", Ok(0.2))];
    assert_eq!(judge(&spec, &o).verdict, Verdict::Healthy);
}

#[test]
fn a_query_without_value_is_inconclusive_unless_something_failed() {
    let spec = prometheus(vec![query("error-budget", None, Some(0.5))]);
    let mut o = observe(sample(50, 0), 30);
    o.queries = vec![value("error-budget", Err("no data".into()))];
    let j = judge(&spec, &o);
    assert_eq!(j.verdict, Verdict::Inconclusive);
    assert_eq!(j.reason, "query `error-budget` has no value: no data");
    assert_eq!(condition(&j, "error-budget").ok, None);
    o.queries.clear();
    assert_eq!(judge(&spec, &o).reason, "query `error-budget` has no value");
    // A breach elsewhere is a failure, not an inconclusive step.
    let mut o = observe(sample(200, 3), 30);
    o.queries = vec![value("error-budget", Err("no data".into()))];
    assert_eq!(judge(&spec, &o).verdict, Verdict::Failed);
}

fn comparing(alpha: Option<f64>) -> AnalysisSpec {
    AnalysisSpec {
        compare: Some(CompareSpec { alpha }),
        ..spec()
    }
}

#[test]
fn compare_with_a_small_stable_sample_is_not_decided() {
    let mut o = observe(sample(50, 0), 30);
    o.stable = Some(sample(5, 0));
    let j = judge(&comparing(None), &o);
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    assert!(
        j.reason.contains("stable has 5 requests, 20 needed"),
        "{}",
        j.reason
    );
    for name in ["compare-failure-rate", "compare-latency"] {
        let c = condition(&j, name);
        assert_eq!((c.threshold.as_str(), c.ok), ("p >= 0.05", None));
    }
    o.stable = None;
    assert_eq!(judge(&comparing(None), &o).verdict, Verdict::Healthy);
}

#[test]
fn compare_fails_a_canary_worse_than_stable() {
    // Canary 1 failure in 40 (2.5 %), stable 0 in 1000: too few failures for the z-test,
    // so Fisher: the one failure among 1040 requests is the canary's with probability
    // P(X ≥ 1) = 40/1040 = 0.0385 < 0.05.
    let spec = AnalysisSpec {
        success_rate: Some(MinPercent { min: 97.0 }),
        ..comparing(None)
    };
    let mut o = observe(sample(40, 1), 30);
    o.stable = Some(sample(1000, 0));
    let j = judge(&spec, &o);
    assert_eq!(j.verdict, Verdict::Failed, "{:?}", j);
    assert_eq!(
        j.reason,
        "canary failure rate 2.5% is significantly above stable's 0.0% (p = 0.0385 < alpha \
         0.05)"
    );
    // At alpha 0.01 the same evidence is not enough.
    let strict = AnalysisSpec {
        compare: Some(CompareSpec { alpha: Some(0.01) }),
        ..spec
    };
    let j = judge(&strict, &o);
    assert_eq!(j.verdict, Verdict::Healthy, "{}", j.reason);
    assert_eq!(condition(&j, "compare-failure-rate").ok, Some(true));
}

#[test]
fn compare_fails_a_canary_slower_than_stable() {
    let mut o = observe(
        Sample {
            requests: 100,
            failures: 0,
            latency: latency([0, 10, 40, 50, 0, 0, 0]),
        },
        30,
    );
    o.stable = Some(Sample {
        requests: 100,
        failures: 0,
        latency: latency([30, 60, 10, 0, 0, 0, 0]),
    });
    let j = judge(&comparing(None), &o);
    assert_eq!(j.verdict, Verdict::Failed, "{:?}", j);
    assert!(
        j.reason
            .starts_with("canary latency is significantly above stable's (p50 25ms against"),
        "{}",
        j.reason
    );
    assert_eq!(condition(&j, "compare-latency").ok, Some(false));
    assert_eq!(condition(&j, "compare-failure-rate").ok, Some(true));
}

#[test]
fn conditions_list_everything_configured_in_order() {
    let spec = AnalysisSpec {
        provider: Provider::Prometheus,
        queries: vec![query("errors", None, Some(1.0))],
        latency_p50: Some(MaxLatency {
            max: "1500ms".into(),
        }),
        ..comparing(Some(0.01))
    };
    let j = judge(&spec, &observe(sample(5, 0), 3));
    assert_eq!(j.verdict, Verdict::Continue);
    let rows: Vec<(&str, &str, Option<bool>)> = j
        .conditions
        .iter()
        .map(|c| (c.name.as_str(), c.threshold.as_str(), c.ok))
        .collect();
    assert_eq!(
        rows,
        [
            ("requests", ">= 20", None),
            ("success-rate", ">= 99%", None),
            ("latency-p50", "<= 1.5s", None),
            ("latency-p99", "<= 500ms", None),
            ("errors", "<= 1", None),
            ("compare-failure-rate", "p >= 0.01", None),
            ("compare-latency", "p >= 0.01", None),
        ]
    );
    assert_eq!(
        condition(&j, "success-rate").observed.as_deref(),
        Some("100.0%")
    );
    // 5 requests in (5, 10]: p50 is rank 2.5 → 5 + 5·0.5 = 7.5ms.
    assert_eq!(
        condition(&j, "latency-p50").observed.as_deref(),
        Some("7.5ms")
    );
}

#[test]
fn formatting() {
    assert_eq!(fmt_num(99.0), "99");
    assert_eq!(fmt_num(99.5), "99.5");
    assert_eq!(fmt_num(0.05), "0.05");
    assert_eq!(fmt_num(0.99 * 100.0), "99");
    assert_eq!(fmt_percent(98.5), "98.5%");
    assert_eq!(fmt_ms(412.3), "412ms");
    assert_eq!(fmt_ms(4.55), "4.6ms");
    assert_eq!(fmt_ms(1250.0), "1.25s");
    assert_eq!(fmt_p(0.03124), "0.0312");
    assert_eq!(fmt_p(3.2e-7), "3.2e-7");
}
