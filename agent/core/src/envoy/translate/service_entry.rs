//! Endpoints from Istio ServiceEntries (inline endpoints, selected WorkloadEntries, or the
//! host itself with DNS resolution), filtered by a DestinationRule subset's labels.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::clusters::{endpoint, Index, Resolved};
use super::context::BackendUse;
use super::destination_rule::subset_labels;
use crate::envoy::TranslateError;
use crate::model::istio::{ServiceEntrySpec, WorkloadEntrySpec};
use crate::model::Resource;
use crate::path::FieldPath;

/// The endpoints an Istio ServiceEntry for `host` declares, filtered by the backend's subset:
/// `None` when no ServiceEntry has the host, `Some(None)` when one has but is unusable (errors
/// recorded).
pub(super) fn from_service_entry(
    index: &Index<'_>,
    used: &BackendUse<'_>,
    host: &str,
    errors: &mut Vec<TranslateError>,
) -> Option<Option<Resolved>> {
    let (entry_resource, entry) = index
        .entries
        .iter()
        .find(|(_, se)| se.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
        .copied()?;
    Some(entry_endpoints(
        index,
        used,
        host,
        entry_resource,
        entry,
        errors,
    ))
}

fn entry_endpoints(
    index: &Index<'_>,
    used: &BackendUse<'_>,
    host: &str,
    resource: &Resource,
    entry: &ServiceEntrySpec,
    errors: &mut Vec<TranslateError>,
) -> Option<Resolved> {
    let root = resource.spec_path();
    let port_of = |p: &Json| p.get("number").and_then(Json::as_i64);
    let port = match used.port {
        Some(wanted) => entry
            .ports
            .iter()
            .find(|p| port_of(p) == Some(i64::from(wanted))),
        None if entry.ports.len() == 1 => entry.ports.first(),
        None => None,
    };
    let Some(port) = port else {
        let message = match used.port {
            Some(wanted) => format!("the ServiceEntry for `{host}` has no port {wanted}"),
            None => format!(
                "the ServiceEntry for `{host}` has {} ports; name one in the route's destination",
                entry.ports.len()
            ),
        };
        errors.push(TranslateError::new(resource, &root.key("ports"), message));
        return None;
    };
    let number = port_of(port).unwrap_or(0);
    let port_name = port.get("name").and_then(Json::as_str).unwrap_or("");
    let target = port
        .get("targetPort")
        .and_then(Json::as_i64)
        .unwrap_or(number);
    let http2 = port
        .get("protocol")
        .and_then(Json::as_str)
        .is_some_and(|p| matches!(p.to_ascii_uppercase().as_str(), "HTTP2" | "GRPC"));
    let subset_labels = match &used.backend.subset {
        Some(subset) => match subset_labels(index, host, subset) {
            Some(labels) => Some(labels),
            None => {
                errors.push(TranslateError::new(
                    used.resource,
                    &used.backend.path,
                    format!("no DestinationRule for `{host}` defines subset `{subset}`"),
                ));
                return None;
            }
        },
        None => None,
    };
    let selected = |labels: &BTreeMap<String, String>| {
        subset_labels
            .as_ref()
            .is_none_or(|want| want.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let mut workloads: Vec<(FieldPath, &Resource, &WorkloadEntrySpec)> = entry
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| (root.key("endpoints").index(i), resource, e))
        .collect();
    if let Some(selector) = entry
        .workload_selector
        .as_ref()
        .and_then(|s| s.get("labels"))
        .and_then(Json::as_object)
    {
        for (r, we) in &index.workloads {
            let matches = r.id.namespace == resource.id.namespace
                && selector
                    .iter()
                    .all(|(k, v)| we.labels.get(k).map(String::as_str) == v.as_str());
            if matches {
                workloads.push((r.spec_path(), r, we));
            }
        }
    }
    let mut endpoints = Vec::new();
    let mut ok = true;
    for (path, owner, we) in &workloads {
        if !selected(&we.labels) {
            continue;
        }
        let port = we.ports.get(port_name).copied().unwrap_or(target);
        match endpoint(we.address.as_deref().unwrap_or(""), port) {
            Ok(e) => {
                if !endpoints.contains(&e) {
                    endpoints.push(e);
                }
            }
            Err(message) => {
                errors.push(TranslateError::new(owner, &path.key("address"), message));
                ok = false;
            }
        }
    }
    let dns = matches!(
        entry.resolution.as_deref(),
        Some("DNS") | Some("DNS_ROUND_ROBIN")
    );
    if workloads.is_empty() && dns && !host.contains('*') {
        match endpoint(host, target) {
            Ok(e) => endpoints.push(e),
            Err(message) => {
                errors.push(TranslateError::new(resource, &root.key("hosts"), message));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    if endpoints.is_empty() {
        errors.push(TranslateError::new(
            resource,
            &root,
            format!(
                "the ServiceEntry for `{host}` gives backend `{}` no endpoints; declare a meshcd Backend",
                used.backend.key
            ),
        ));
        return None;
    }
    Some(Resolved {
        endpoints,
        http2,
        policy: Map::new(),
    })
}
