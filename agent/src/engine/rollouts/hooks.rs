//! Rollout webhooks: POST the rollout's facts as JSON to the policy's hooks.

use std::time::Duration;

use meshcd_core::model::meshcd::Hook;
use meshcd_core::rollout::duration;
use meshcd_core::rollout::machine::HookKind;
use serde::Serialize;

use super::events::RolloutEvent;

/// How long a hook may take when it sets no `timeout`.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a hook receives.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookPayload<'a> {
    /// `preStep`, `postPromotion` or `onRollback`.
    pub hook: HookKind,
    /// The target's id (e.g. `envoy:127.0.0.1:9901`).
    pub target: &'a str,
    /// The rollout: route, commit, policy, phase, step, weights, conditions, reason.
    pub rollout: &'a RolloutEvent,
}

/// A short name for a hook in messages: its `name`, else the URL without query or credentials.
pub fn hook_label(hook: &Hook) -> String {
    if let Some(name) = &hook.name {
        return name.clone();
    }
    match url::Url::parse(&hook.url) {
        Ok(url) => {
            format!(
                "{}{}",
                url.host_str().unwrap_or(""),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ) + url.path()
        }
        Err(_) => "hook".to_string(),
    }
}

/// Calls every hook in order; the first that does not answer 2xx in time stops the call and is
/// returned as the error ("`gate` answered 503: body…").
pub async fn call_all(
    client: &reqwest::Client,
    hooks: &[Hook],
    payload: &HookPayload<'_>,
) -> Result<(), String> {
    for hook in hooks {
        call(client, hook, payload).await?;
    }
    Ok(())
}

async fn call(
    client: &reqwest::Client,
    hook: &Hook,
    payload: &HookPayload<'_>,
) -> Result<(), String> {
    let label = hook_label(hook);
    let timeout = hook
        .timeout
        .as_deref()
        .and_then(duration::parse)
        .unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let mut request = client.post(&hook.url).timeout(timeout).json(payload);
    for (name, value) in &hook.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            format!("no answer within {}", duration::format(timeout))
        } else if e.is_connect() {
            "could not connect".to_string()
        } else {
            "request failed".to_string()
        };
        format!("hook `{label}`: {why}")
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.trim().chars().take(200).collect();
    Err(if body.is_empty() {
        format!("hook `{label}` answered {}", status.as_u16())
    } else {
        format!("hook `{label}` answered {}: {body}", status.as_u16())
    })
}
