//! MC212 `peer-authentication-invalid`: a PeerAuthentication Istio refuses.
//!
//! **What it does.** Checks PeerAuthentications as Istio's CRD and webhook
//! (`ValidatePeerAuthentication`) do: modes are `UNSET`, `DISABLE`, `PERMISSIVE` or `STRICT`;
//! `portLevelMtls` is only for a policy whose `selector` has labels (a namespace- or mesh-wide
//! policy cannot set ports), is not empty, and its keys are port numbers 1–65535; selector
//! labels have no `*` nor empty key and values of at most 63 characters (a selector without
//! labels selects the whole namespace: a warning).
//!
//! **Why.** The API server refuses the PeerAuthentication, so the revision cannot be applied.
//!
//! **Example.** `portLevelMtls: {8080: {mode: DISABLE}}` without a `selector`.

use crate::finding::Finding;
use crate::model::istio::PeerAuthenticationSpec;
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::shown;
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC212",
    name: "peer-authentication-invalid",
    summary: "a PeerAuthentication's modes, port-level settings or selector are invalid",
    check: Some(check),
};

/// mTLS modes.
const MODES: &[&str] = &["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];

fn mode(r: &mut Reporter<'_>, path: &FieldPath, mode: Option<&String>) {
    if let Some(mode) = mode.filter(|m| !MODES.contains(&m.as_str())) {
        r.error(
            path,
            format!(
                "`{path}` is `{}`; use one of {}",
                shown(mode),
                MODES.join(", ")
            ),
        );
    }
}

fn peer_authentication(r: &mut Reporter<'_>, spec: &FieldPath, pa: &PeerAuthenticationSpec) {
    if let Some(mtls) = &pa.mtls {
        mode(r, &spec.key("mtls").key("mode"), mtls.mode.as_ref());
    }
    let ports = spec.key("portLevelMtls");
    let written = r
        .resource()
        .body
        .pointer("/spec/portLevelMtls")
        .and_then(|v| v.as_object())
        .is_some();
    let labelled = pa
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty());
    if written && pa.port_level_mtls.is_empty() {
        r.error(
            &ports,
            format!("`{ports}` is empty; remove it or name a port"),
        );
    }
    if !pa.port_level_mtls.is_empty() && !labelled {
        r.error(
            &ports,
            format!("`{ports}` needs a `spec.selector` with labels: a namespace- or mesh-wide PeerAuthentication cannot set modes per port"),
        );
    }
    for (port, mtls) in &pa.port_level_mtls {
        let at = ports.key(port);
        if !port.parse::<i64>().is_ok_and(|p| (1..=65535).contains(&p)) {
            r.error(
                &at,
                format!(
                    "`{ports}` key `{}` is not a port number between 1 and 65535",
                    shown(port)
                ),
            );
        }
        mode(r, &at.key("mode"), mtls.mode.as_ref());
    }
    if let Some(selector) = &pa.selector {
        r.selector_labels(
            &spec.key("selector").key("matchLabels"),
            selector.match_labels.iter(),
            "every workload of the namespace",
        );
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        if let Spec::PeerAuthentication(pa) = &resource.spec {
            let spec = resource.spec_path();
            peer_authentication(&mut Reporter::new(&RULE, resource, out), &spec, pa);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc212(spec: &str) -> Vec<String> {
        findings_of(
            "MC212",
            &format!(
                "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: shop, namespace: web}}
spec:
{spec}"
            ),
        )
    }

    #[test]
    fn valid_peer_authentications_pass() {
        for spec in [
            "  mtls: {mode: STRICT}\n",
            "  selector: {matchLabels: {app: shop}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n    '9090': {mode: UNSET}\n",
            "  {}\n",
        ] {
            assert_eq!(mc212(spec), Vec::<String>::new(), "{spec}");
        }
    }

    #[test]
    fn invalid_peer_authentications_are_errors() {
        assert_eq!(
            mc212("  mtls: {mode: strict}\n  portLevelMtls:\n    0: {mode: STRICT}\n    http: {mode: OFF}\n"),
            vec![
                "MC212 error 5:16 `spec.mtls.mode` is `strict`; use one of UNSET, DISABLE, PERMISSIVE, STRICT",
                "MC212 error 7:5 `spec.portLevelMtls` needs a `spec.selector` with labels: a namespace- or mesh-wide PeerAuthentication cannot set modes per port",
                "MC212 error 7:8 `spec.portLevelMtls` key `0` is not a port number between 1 and 65535",
                "MC212 error 8:11 `spec.portLevelMtls` key `http` is not a port number between 1 and 65535",
                "MC212 error 8:18 `spec.portLevelMtls.http.mode` is `OFF`; use one of UNSET, DISABLE, PERMISSIVE, STRICT",
            ]
        );
        assert_eq!(
            mc212("  selector: {matchLabels: {'': x, app: 'shop-*'}}\n  portLevelMtls: {}\n"),
            vec![
                "MC212 error 5:32 `spec.selector.matchLabels` has an empty label key",
                "MC212 error 5:40 `spec.selector.matchLabels.app`: a selector cannot use `*`; name the labels exactly",
                "MC212 error 6:18 `spec.portLevelMtls` is empty; remove it or name a port",
            ]
        );
    }
}
