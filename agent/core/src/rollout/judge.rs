//! The judge: from what a step saw so far to a verdict.
//!
//! [`judge`] is called every analysis interval with the step's [`Observation`] (the canary's
//! and, when the provider has one, the stable backends' [`Sample`] since the step started,
//! custom query values, and how long the step has baked). It applies these rules, in order:
//!
//! 1. **Time-based steps.** Provider `none` reads no metrics: `Continue` until `elapsed >=
//!    bake`, then `Healthy` ("time-based step"). Its only condition is `bake`.
//! 2. **Fail fast, at any time** (before `minRequests` is reached, before the bake ends): a
//!    condition fails as soon as even the most optimistic plausible rate misses it, at
//!    `confidence` (default 0.99), by the one-sided Wilson upper bound
//!    ([`stats::exact_upper`], the exact Clopper-Pearson bound):
//!    - success rate: `exact_upper(successes, requests, confidence) < min/100` → `Failed`.
//!      At min 99 % and confidence 0.99, a canary that fails every request is caught at its
//!      first request, 3 failures out of 3 fail, 1 failure in 100 does not;
//!    - latency `pNN <= max`: with `fast` the requests whose bucket starts below `max` (the
//!      optimistic count of [`stats::share_at_most`], so coarse buckets never cause a
//!      failure), `exact_upper(fast, histogram total, confidence) < NN/100` → `Failed`.
//! 3. **During the bake**, with nothing failed: `Continue` (the reason is empty).
//! 4. **At the end of the bake** (`elapsed >= bake`):
//!    - fewer canary requests than `minRequests` (default 20): `Inconclusive` ("N requests, M
//!      needed"); the other conditions are not judged on so little traffic;
//!    - otherwise each condition is judged on what was observed: success rate below `min`,
//!      the interpolated percentile ([`stats::quantile_ms`]) above `max`, a query outside its
//!      `[min, max]`, and with `compare` set and a stable sample of at least `minRequests`
//!      requests, the canary's failure rate or latency significantly above stable's
//!      ([`stats::two_proportions_greater`] or [`stats::mann_whitney_greater`] below
//!      `alpha`, default 0.05): `Failed`. A stable sample that is missing or too small
//!      leaves the comparison not decided, which is not a failure;
//!    - else, a condition that could not be judged makes the step `Inconclusive`, naming it: a
//!      query whose value is an error or missing, no latency data, a percentile beyond the
//!      histogram's last bucket while that bucket ends below `max`. (A breach elsewhere wins
//!      over a missing value: a step is never let through because one of its metrics was
//!      unreadable.)
//!    - else `Healthy`.
//!
//! The first failing condition, in the order of [`Judgement::conditions`], gives the reason.
//! Custom `queries` are read only by the PromQL providers (`prometheus`, `cloud-monitoring`), so
//! only they judge them.
//!
//! Every configured condition is listed in [`Judgement::conditions`], in this order:
//! `requests`, `success-rate`, `latency-pNN` (each), each query by name, `compare-failure-rate`
//! and `compare-latency`; with what was observed, the threshold (`>= 99%`, `<= 500ms`,
//! `>= 20`, `p >= 0.05`) and whether it is met (`None` while not decided).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::analysis::{AnalysisSpec, Provider, DEFAULT_ALPHA};
use super::duration;
use super::sample::{Histogram, Sample};
use super::stats;

/// What the judge says about a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Keep baking: the bake time has not passed and nothing has failed.
    Continue,
    /// The step met every condition over its bake time with enough requests.
    Healthy,
    /// A condition is breached (fail-fast at any time, or at the end of the bake).
    Failed,
    /// The bake is over but the evidence is too thin to judge (too few requests, no data).
    Inconclusive,
}

/// One condition, observed against its threshold, for progress displays and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionReport {
    /// `success-rate`, `latency-p99`, `requests`, a query's name, `compare-latency`, ...
    pub name: String,
    /// What was observed, formatted (`98.5%`, `412ms`, `37`); `None` without data.
    pub observed: Option<String>,
    /// The threshold, formatted (`>= 99%`, `<= 500ms`, `>= 50`).
    pub threshold: String,
    /// Met (`true`), breached (`false`), or not decided yet (`None`).
    pub ok: Option<bool>,
}

/// The verdict and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// One line saying why (empty for `Continue` with nothing to say).
    pub reason: String,
    /// Every condition with what was observed.
    pub conditions: Vec<ConditionReport>,
}

/// A custom query's value (providers `prometheus`, `cloud-monitoring`): the number, or why there
/// is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryValue {
    /// The query's name.
    pub name: String,
    /// Its value, or the error that kept it from having one (no data, not a number, ...).
    pub value: Result<f64, String>,
}

/// What a step saw so far.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// The canary's sample since the step started.
    pub canary: Sample,
    /// The stable backends' sample over the same window, when the provider has one.
    pub stable: Option<Sample>,
    /// Custom query values.
    pub queries: Vec<QueryValue>,
    /// How long the step has baked.
    pub elapsed: Duration,
    /// The step's bake time.
    pub bake: Duration,
}

/// Judges a step (see the module docs).
pub fn judge(spec: &AnalysisSpec, observation: &Observation) -> Judgement {
    if spec.provider == Provider::None {
        return time_based(observation);
    }
    let mut judging = Judging::new(spec, observation);
    judging.requests();
    judging.success_rate();
    judging.latency();
    judging.queries();
    judging.compare();
    judging.finish()
}

/// Provider `none`: promoted once the bake time has passed.
fn time_based(observation: &Observation) -> Judgement {
    let done = observation.elapsed >= observation.bake;
    let condition = ConditionReport {
        name: "bake".to_string(),
        observed: Some(duration::format(observation.elapsed)),
        threshold: format!(">= {}", duration::format(observation.bake)),
        ok: done.then_some(true),
    };
    let (verdict, reason) = if done {
        (
            Verdict::Healthy,
            format!(
                "time-based step: baked {} (provider none, no metrics)",
                duration::format(observation.bake)
            ),
        )
    } else {
        (Verdict::Continue, String::new())
    };
    Judgement {
        verdict,
        reason,
        conditions: vec![condition],
    }
}

/// The judgement being built: the conditions so far and the first reason of each kind.
struct Judging<'a> {
    spec: &'a AnalysisSpec,
    observation: &'a Observation,
    /// The bake time has passed.
    done: bool,
    /// The bake time has passed with at least `minRequests` canary requests: the conditions
    /// are judged on what was observed.
    judged: bool,
    confidence: f64,
    min_requests: u64,
    conditions: Vec<ConditionReport>,
    fail_fast: Option<String>,
    too_few: Option<String>,
    failed: Option<String>,
    undecided: Option<String>,
    /// Why the canary-versus-stable comparison was not decided, for a healthy step's reason.
    compare_note: Option<String>,
}

impl<'a> Judging<'a> {
    fn new(spec: &'a AnalysisSpec, observation: &'a Observation) -> Judging<'a> {
        let done = observation.elapsed >= observation.bake;
        let min_requests = spec.min_requests();
        Judging {
            spec,
            observation,
            done,
            judged: done && observation.canary.requests >= min_requests,
            confidence: spec.confidence(),
            min_requests,
            conditions: Vec::new(),
            fail_fast: None,
            too_few: None,
            failed: None,
            undecided: None,
            compare_note: None,
        }
    }

    fn canary(&self) -> &'a Sample {
        &self.observation.canary
    }

    fn push(
        &mut self,
        name: String,
        observed: Option<String>,
        threshold: String,
        ok: Option<bool>,
    ) {
        self.conditions.push(ConditionReport {
            name,
            observed,
            threshold,
            ok,
        });
    }

    fn requests(&mut self) {
        let n = self.canary().requests;
        let enough = n >= self.min_requests;
        let ok = if enough {
            Some(true)
        } else if self.done {
            self.too_few = Some(format!(
                "too few canary requests: {n} requests, {} needed",
                self.min_requests
            ));
            Some(false)
        } else {
            None
        };
        self.push(
            "requests".into(),
            Some(n.to_string()),
            format!(">= {}", self.min_requests),
            ok,
        );
    }

    fn success_rate(&mut self) {
        let Some(min) = self.spec.success_rate.as_ref().map(|s| s.min) else {
            return;
        };
        let canary = self.canary();
        let n = canary.requests;
        let successes = n - canary.failures.min(n);
        let observed = canary.success_percent();
        let shown = observed.map(fmt_percent);
        let ok = if n > 0 && stats::exact_upper(successes, n, self.confidence) < min / 100.0 {
            self.fail_fast.get_or_insert_with(|| {
                format!(
                    "success rate {} over {n} requests is below {}% (fail-fast, {}% confidence)",
                    shown.as_deref().unwrap_or("?"),
                    fmt_num(min),
                    fmt_num(self.confidence * 100.0)
                )
            });
            Some(false)
        } else if !self.judged {
            None
        } else {
            match observed {
                Some(rate) if rate < min => {
                    self.failed.get_or_insert_with(|| {
                        format!(
                            "success rate {} over {n} requests is below {}%",
                            fmt_percent(rate),
                            fmt_num(min)
                        )
                    });
                    Some(false)
                }
                Some(_) => Some(true),
                None => {
                    self.undecided
                        .get_or_insert_with(|| "no canary requests to measure".to_string());
                    None
                }
            }
        };
        self.push(
            "success-rate".into(),
            shown,
            format!(">= {}%", fmt_num(min)),
            ok,
        );
    }

    fn latency(&mut self) {
        for (percentile, max) in self.spec.latency_conditions() {
            self.latency_condition(percentile, max);
        }
    }

    fn latency_condition(&mut self, percentile: f64, max: Duration) {
        let hist = &self.canary().latency;
        let max_ms = max.as_secs_f64() * 1000.0;
        let q = percentile / 100.0;
        let p = format!("p{}", fmt_num(percentile));
        let max_shown = fmt_ms(max_ms);
        let at = stats::share_at_most(hist, max_ms);
        let value = stats::quantile_ms(hist, q);
        let beyond = value.is_some() && in_overflow(hist, q);
        let shown = value.map(|v| {
            if beyond {
                format!("> {}", fmt_ms(v))
            } else {
                fmt_ms(v)
            }
        });
        let ok = if at.total > 0 && stats::exact_upper(at.optimistic, at.total, self.confidence) < q
        {
            self.fail_fast.get_or_insert_with(|| {
                format!(
                    "{p} latency is above {max_shown}: at most {} of {} requests took \
                     {max_shown} or less (fail-fast, {}% confidence)",
                    at.optimistic,
                    at.total,
                    fmt_num(self.confidence * 100.0)
                )
            });
            Some(false)
        } else if !self.judged {
            None
        } else {
            match value {
                None => {
                    self.undecided.get_or_insert_with(|| {
                        format!("no latency data for {p} (the canary's histogram is empty)")
                    });
                    None
                }
                Some(v) if beyond && v < max_ms => {
                    self.undecided.get_or_insert_with(|| {
                        format!(
                            "{p} latency is beyond the histogram's last bucket ({}), so it \
                             cannot be compared with {max_shown}",
                            fmt_ms(v)
                        )
                    });
                    None
                }
                Some(v) if v > max_ms || (beyond && v >= max_ms) => {
                    self.failed.get_or_insert_with(|| {
                        format!(
                            "{p} latency {} over {} requests is above {max_shown}",
                            shown.as_deref().unwrap_or("?"),
                            at.total
                        )
                    });
                    Some(false)
                }
                Some(_) => Some(true),
            }
        };
        self.push(format!("latency-{p}"), shown, format!("<= {max_shown}"), ok);
    }

    fn queries(&mut self) {
        if !self.spec.provider.reads_promql() {
            return;
        }
        for query in &self.spec.queries {
            let value = self
                .observation
                .queries
                .iter()
                .find(|v| v.name == query.name)
                .map(|v| &v.value);
            let threshold = match (query.min, query.max) {
                (Some(min), Some(max)) => format!(">= {} and <= {}", fmt_num(min), fmt_num(max)),
                (Some(min), None) => format!(">= {}", fmt_num(min)),
                (None, Some(max)) => format!("<= {}", fmt_num(max)),
                (None, None) => "any".to_string(),
            };
            let name = &query.name;
            let observed = match value {
                Some(Ok(v)) => Some(fmt_num(*v)),
                _ => None,
            };
            let ok = if !self.judged {
                None
            } else {
                match value {
                    Some(Ok(v)) if v.is_nan() => {
                        self.undecided
                            .get_or_insert_with(|| format!("query `{name}` is not a number"));
                        None
                    }
                    Some(Ok(v)) => {
                        let breach = if query.min.is_some_and(|min| *v < min) {
                            Some(format!(
                                "below its min {}",
                                fmt_num(query.min.unwrap_or(0.0))
                            ))
                        } else if query.max.is_some_and(|max| *v > max) {
                            Some(format!(
                                "above its max {}",
                                fmt_num(query.max.unwrap_or(0.0))
                            ))
                        } else {
                            None
                        };
                        match breach {
                            Some(breach) => {
                                self.failed.get_or_insert_with(|| {
                                    format!("query `{name}` = {} is {breach}", fmt_num(*v))
                                });
                                Some(false)
                            }
                            None => Some(true),
                        }
                    }
                    Some(Err(error)) => {
                        self.undecided
                            .get_or_insert_with(|| format!("query `{name}` has no value: {error}"));
                        None
                    }
                    None => {
                        self.undecided
                            .get_or_insert_with(|| format!("query `{name}` has no value"));
                        None
                    }
                }
            };
            self.push(name.clone(), observed, threshold, ok);
        }
    }

    fn compare(&mut self) {
        let Some(compare) = &self.spec.compare else {
            return;
        };
        let alpha = compare
            .alpha
            .filter(|a| *a > 0.0 && *a <= 0.5)
            .unwrap_or(DEFAULT_ALPHA);
        let threshold = format!("p >= {}", fmt_num(alpha));
        let canary = self.canary();
        let stable = match &self.observation.stable {
            None => {
                self.compare_note = Some("no stable sample to compare with".to_string());
                None
            }
            Some(stable) if stable.requests < self.min_requests => {
                self.compare_note = Some(format!(
                    "stable has {} requests, {} needed to compare",
                    stable.requests, self.min_requests
                ));
                None
            }
            Some(stable) => Some(stable),
        };
        let Some(stable) = stable else {
            let observed = self.compare_note.clone();
            for name in ["compare-failure-rate", "compare-latency"] {
                self.push(name.into(), observed.clone(), threshold.clone(), None);
            }
            return;
        };

        let failure_p = stats::two_proportions_greater(
            canary.failures,
            canary.requests,
            stable.failures,
            stable.requests,
        );
        let (canary_rate, stable_rate) = (failure_percent(canary), failure_percent(stable));
        let observed = failure_p.map(|p| {
            format!(
                "p = {} (canary {}, stable {})",
                fmt_p(p),
                canary_rate.map_or("?".into(), fmt_percent),
                stable_rate.map_or("?".into(), fmt_percent)
            )
        });
        let ok = match failure_p {
            Some(p) if self.judged => {
                if p < alpha {
                    self.failed.get_or_insert_with(|| {
                        format!(
                            "canary failure rate {} is significantly above stable's {} (p = {} < \
                             alpha {})",
                            canary_rate.map_or("?".into(), fmt_percent),
                            stable_rate.map_or("?".into(), fmt_percent),
                            fmt_p(p),
                            fmt_num(alpha)
                        )
                    });
                }
                Some(p >= alpha)
            }
            _ => None,
        };
        self.push(
            "compare-failure-rate".into(),
            observed,
            threshold.clone(),
            ok,
        );

        let latency_p = stats::mann_whitney_greater(&canary.latency, &stable.latency);
        let medians = match (
            stats::quantile_ms(&canary.latency, 0.5),
            stats::quantile_ms(&stable.latency, 0.5),
        ) {
            (Some(c), Some(s)) => format!("p50 {} against {}", fmt_ms(c), fmt_ms(s)),
            _ => String::new(),
        };
        let observed = latency_p.map(|p| {
            if medians.is_empty() {
                format!("p = {}", fmt_p(p))
            } else {
                format!("p = {} ({medians})", fmt_p(p))
            }
        });
        if latency_p.is_none() && self.compare_note.is_none() {
            self.compare_note =
                Some("no comparable latency histograms (empty, or different buckets)".to_string());
        }
        let ok = match latency_p {
            Some(p) if self.judged => {
                if p < alpha {
                    self.failed.get_or_insert_with(|| {
                        format!(
                            "canary latency is significantly above stable's ({medians}; \
                             Mann-Whitney p = {} < alpha {})",
                            fmt_p(p),
                            fmt_num(alpha)
                        )
                    });
                }
                Some(p >= alpha)
            }
            _ => None,
        };
        self.push("compare-latency".into(), observed, threshold, ok);
    }

    fn finish(self) -> Judgement {
        let n = self.canary().requests;
        let (verdict, reason) = if let Some(reason) = self.fail_fast {
            (Verdict::Failed, reason)
        } else if !self.done {
            (Verdict::Continue, String::new())
        } else if let Some(reason) = self.too_few {
            (Verdict::Inconclusive, reason)
        } else if let Some(reason) = self.failed {
            (Verdict::Failed, reason)
        } else if let Some(reason) = self.undecided {
            (Verdict::Inconclusive, reason)
        } else {
            let mut reason = format!(
                "all conditions met over {n} requests in {}",
                duration::format(self.observation.elapsed)
            );
            if let Some(note) = &self.compare_note {
                reason.push_str(&format!(" (comparison with stable not decided: {note})"));
            }
            (Verdict::Healthy, reason)
        };
        Judgement {
            verdict,
            reason,
            conditions: self.conditions,
        }
    }
}

/// Whether the `q`-quantile of `hist` falls in its overflow bucket (above the last bound).
fn in_overflow(hist: &Histogram, q: f64) -> bool {
    let total = hist.total();
    let overflow = hist.counts.last().copied().unwrap_or(0);
    let bounded = total - overflow;
    overflow > 0 && (bounded == 0 || q.clamp(0.0, 1.0) * total as f64 > bounded as f64)
}

fn failure_percent(sample: &Sample) -> Option<f64> {
    sample.success_percent().map(|s| 100.0 - s)
}

/// A number as YAML would write it: at most 4 decimals, no trailing zeros (`99`, `99.5`,
/// `0.05`).
fn fmt_num(x: f64) -> String {
    let text = format!("{x:.4}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A percentage with one decimal: `98.5%`.
fn fmt_percent(percent: f64) -> String {
    format!("{percent:.1}%")
}

/// A latency: `4.5ms`, `412ms`, `1.5s`.
fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{}ms", fmt_num((ms * 10.0).round() / 10.0))
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{}s", fmt_num((ms / 10.0).round() / 100.0))
    }
}

/// A p-value: `0.0312`, `3.2e-7`.
fn fmt_p(p: f64) -> String {
    if p > 0.0 && p < 1e-4 {
        format!("{p:.1e}")
    } else {
        fmt_num(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::analysis::{
        CompareSpec, LatencyCondition, MaxLatency, MinPercent, QuerySpec,
    };

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
        let first = (1..=100)
            .find(|&n| judge(&spec(), &observe(sample(n, n), 0)).verdict == Verdict::Failed);
        // At min 99 % two failed requests are enough: 0 of n has the exact bound
        // 1 − 0.01^(1/n): 0.99 at n = 1 (not below 0.99), 0.9 at n = 2.
        assert_eq!(first, Some(2));
        // At min 50 % it takes a handful: 1 − 0.01^(1/n) < 0.5 ⇔ n > ln 0.01 / ln 0.5 = 6.64.
        let lenient = AnalysisSpec {
            success_rate: Some(MinPercent { min: 50.0 }),
            ..spec()
        };
        let first = (1..=100)
            .find(|&n| judge(&lenient, &observe(sample(n, n), 0)).verdict == Verdict::Failed);
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
        // 3 failures in 200 (98.5%): the Wilson bound (≈ 0.995) is above 0.99, so no
        // fail-fast, but the observed rate misses 99% at the end.
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
        // bound z²/(n+z²) is below 0.99 from the first request.
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
}
