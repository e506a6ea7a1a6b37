//! The judge: from what a step saw so far to a verdict. (Skeleton: a helper fills it in.)

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::analysis::AnalysisSpec;
use super::sample::Sample;

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

/// A custom query's value (provider `prometheus`): the number, or why there is none.
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
    let _ = spec;
    let verdict = if observation.elapsed < observation.bake {
        Verdict::Continue
    } else {
        Verdict::Inconclusive
    };
    Judgement {
        verdict,
        reason: String::new(),
        conditions: Vec::new(),
    }
}
