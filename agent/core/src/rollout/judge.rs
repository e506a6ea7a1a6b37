//! The judge: from what a step saw so far to a verdict.
//!
//! [`judge`] is called every analysis interval with the step's [`Observation`] (the canary's
//! and, when the provider has one, the stable backends' [`Sample`] since the step started,
//! custom query values, and how long the step has baked). It applies these rules, in order:
//!
//! 1. **Time-based steps.** Provider `none` reads no metrics: `Continue` until `elapsed >=
//!    bake`, then `Healthy` ("time-based step"). Its only condition is `bake`.
//! 2. **Fail fast, at any time** (before `minRequests` is reached, before the bake ends): a
//!    condition fails as soon as even the most optimistic plausible rate misses it: the
//!    one-sided exact (Clopper-Pearson) upper bound of the rate at `confidence` (default 0.99,
//!    [`stats::exact_upper`]) is below what the condition requires:
//!    - success rate: `exact_upper(successes, requests, confidence) < min/100` → `Failed`.
//!      At min 99 % and confidence 0.99, a canary that fails every request is caught at its
//!      *second* request (one failure alone has the bound 0.99, not below 99 %; two of two
//!      have 0.9), 3 failures out of 3 fail, 1 failure in 100 does not;
//!    - latency `pNN <= max`: with `fast` the requests whose bucket starts below `max` (the
//!      optimistic count of [`stats::share_at_most`], so coarse buckets never cause a
//!      failure), `exact_upper(fast, histogram total, confidence) < NN/100` → `Failed`; a
//!      canary whose every request is slow is likewise caught at its second request for p99.
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
mod tests;
