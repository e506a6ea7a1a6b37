//! The analysis that gates each rollout step, and the policy's hooks, in words.

use meshcd_core::model::meshcd::{Hook, Hooks};
use meshcd_core::rollout::analysis::QuerySpec;
use meshcd_core::rollout::duration;
use meshcd_core::rollout::{AnalysisSpec, Provider};

use super::text::{code, number};

/// One line: where metrics come from and every condition a step must meet.
pub fn describe(spec: &AnalysisSpec) -> String {
    if spec.provider == Provider::None {
        return "**No analysis:** each step is promoted once it has baked.".into();
    }
    let mut source = format!("metrics from {}", code(spec.provider.as_str()));
    if let Some(address) = &spec.address {
        source.push_str(&format!(" at {}", code(address)));
    }
    let mut conditions = vec![
        source,
        format!("at least {} canary requests", spec.min_requests()),
    ];
    if let Some(rate) = &spec.success_rate {
        conditions.push(format!("success rate ≥ {}%", number(rate.min)));
    }
    for (percentile, max) in spec.latency_conditions() {
        conditions.push(format!(
            "p{} latency ≤ {}",
            number(percentile),
            duration::format(max)
        ));
    }
    conditions.extend(spec.queries.iter().map(query));
    if let Some(probe) = &spec.probe {
        let method = probe.method.as_deref().unwrap_or("GET");
        let expect = if probe.expect_status.is_empty() {
            "2xx".to_string()
        } else {
            let codes: Vec<String> = probe.expect_status.iter().map(u16::to_string).collect();
            codes.join(" or ")
        };
        conditions.push(format!(
            "probe {} answers {expect}",
            code(&format!("{method} {}", probe.url))
        ));
    }
    if let Some(compare) = &spec.compare {
        let alpha = compare
            .alpha
            .unwrap_or(meshcd_core::rollout::analysis::DEFAULT_ALPHA);
        conditions.push(format!(
            "canary no worse than stable (α = {})",
            number(alpha)
        ));
    }
    if spec.interval.is_some() {
        conditions.push(format!("read every {}", duration::format(spec.interval())));
    }
    if spec.confidence.is_some() {
        conditions.push(format!(
            "fails fast at {} confidence",
            number(spec.confidence())
        ));
    }
    format!("**Analysis** gating each step: {}.", conditions.join("; "))
}

fn query(q: &QuerySpec) -> String {
    let name = code(&q.name);
    match (q.min, q.max) {
        (Some(min), Some(max)) => format!("{name} between {} and {}", number(min), number(max)),
        (Some(min), None) => format!("{name} ≥ {}", number(min)),
        (None, Some(max)) => format!("{name} ≤ {}", number(max)),
        (None, None) => format!("{name} answers"),
    }
}

/// One line naming the hooks, or `None` when there are none.
pub fn hooks(hooks: &Hooks) -> Option<String> {
    let groups = [
        ("before each step", &hooks.pre_step),
        ("after promotion", &hooks.post_promotion),
        ("on rollback", &hooks.on_rollback),
    ];
    let parts: Vec<String> = groups
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(when, list)| {
            let names: Vec<String> = list.iter().map(|h| code(&hook_name(h))).collect();
            format!("{when} {}", names.join(", "))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("**Hooks:** {}.", parts.join("; ")))
}

fn hook_name(hook: &Hook) -> String {
    hook.name.clone().unwrap_or_else(|| {
        url::Url::parse(&hook.url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.path())))
            .unwrap_or_else(|| hook.url.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_analysis_reads_as_one_line() {
        assert_eq!(
            describe(&AnalysisSpec::default_analysis()),
            "**Analysis** gating each step: metrics from `envoy`; at least 20 canary requests; \
             success rate ≥ 99%."
        );
        let none = AnalysisSpec {
            provider: Provider::None,
            ..AnalysisSpec::default()
        };
        assert!(describe(&none).starts_with("**No analysis:**"));
    }
}
