//! MC506 `ns-service-name`: a networkservices destination names no backend service, or names
//! it in a form the API does not take.
//!
//! **What it does.** Checks `serviceName` in every destination of HttpRoute, GrpcRoute,
//! TcpRoute and TlsRoute rules, and in an HttpRoute's `requestMirrorPolicy.destination`:
//!
//! - it is required;
//! - a full name is `projects/PROJECT/locations/LOCATION/backendServices/NAME` (the mesh's
//!   backend services live in `global`), or Compute Engine's `projects/PROJECT/global/
//!   backendServices/NAME` or `projects/PROJECT/regions/REGION/backendServices/NAME`, with or
//!   without a `https://www.googleapis.com/compute/v1/` or `https://compute.googleapis.com/
//!   compute/v1/` prefix; a GrpcRoute may also name a Service Directory service,
//!   `projects/PROJECT/locations/LOCATION/namespaces/NAMESPACE/services/SERVICE`;
//! - a short name (no `/`) is accepted (meshcd resolves it through its `Backend`s);
//! - the backend service name is 1 to 63 lowercase letters, digits and hyphens, starting with
//!   a letter and not ending with a hyphen.
//!
//! **Why.** A destination is the URL of a backend service: the API rejects a route whose
//! destination has none, or whose `serviceName` names another kind of resource (a Cloud Run
//! service, a NEG, a route).
//!
//! **Example.** `serviceName: projects/my-project/locations/global/services/target` (a Cloud
//! Run service): name the backend service in front of it,
//! `projects/my-project/locations/global/backendServices/target`.

use crate::finding::{Finding, Severity};
use crate::model::resource_name::{check_id, is_project};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC506",
    name: "ns-service-name",
    summary:
        "a networkservices destination has no serviceName, or one that is not a backend service",
    check: Some(check),
};

/// Prefixes of Compute Engine URLs, dropped before the name is read.
const URL_PREFIXES: &[&str] = &[
    "https://www.googleapis.com/compute/v1/",
    "https://compute.googleapis.com/compute/v1/",
    "//compute.googleapis.com/",
];

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let rules = resource.spec_path().key("rules");
        let mut each = |path: FieldPath, name: Option<&str>, grpc: bool| {
            report(resource, &path, name, grpc, out);
        };
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action");
                    for (j, d) in action.destinations.iter().enumerate() {
                        each(
                            at.key("destinations").index(j),
                            d.service_name.as_deref(),
                            false,
                        );
                    }
                    if let Some(d) = action
                        .request_mirror_policy
                        .as_ref()
                        .and_then(|m| m.destination.as_ref())
                    {
                        let path = at.key("requestMirrorPolicy").key("destination");
                        each(path, d.service_name.as_deref(), false);
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action").key("destinations");
                    for (j, d) in action.destinations.iter().enumerate() {
                        each(at.index(j), d.service_name.as_deref(), true);
                    }
                }
            }
            Spec::NsTcpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action").key("destinations");
                    for (j, d) in action.destinations.iter().enumerate() {
                        each(at.index(j), d.service_name.as_deref(), false);
                    }
                }
            }
            Spec::NsTlsRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action").key("destinations");
                    for (j, d) in action.destinations.iter().enumerate() {
                        each(at.index(j), d.service_name.as_deref(), false);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Reports what is wrong with the `serviceName` of the destination at `at`.
fn report(
    resource: &Resource,
    at: &FieldPath,
    name: Option<&str>,
    grpc: bool,
    out: &mut Vec<Finding>,
) {
    let path = at.key("serviceName");
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        out.push(resource.finding(
            &RULE,
            Severity::Error,
            at,
            format!(
                "`{path}` is required: name the backend service, e.g. \
                 `projects/PROJECT/locations/global/backendServices/NAME`"
            ),
        ));
        return;
    };
    let Some(problem) = problem(name, grpc) else {
        return;
    };
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        &path,
        format!("`{path}` `{name}` {problem}"),
    ));
}

/// What is wrong with a service name, or `None` when it is one the API takes.
fn problem(name: &str, grpc: bool) -> Option<String> {
    let id_problem = |id: &str| {
        check_id(id).err().map(|p| {
            format!(
                "is not a valid backend service name: `{id}` {p}; use 1 to 63 lowercase \
                 letters, digits and hyphens, starting with a letter"
            )
        })
    };
    if !name.contains('/') {
        return id_problem(name);
    }
    let path = URL_PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    let parts: Vec<&str> = path.split('/').collect();
    let id = match parts.as_slice() {
        ["projects", project, "locations", location, "backendServices", id]
        | ["projects", project, "regions", location, "backendServices", id]
            if is_project(project) && !location.is_empty() =>
        {
            id
        }
        ["projects", project, "global", "backendServices", id] if is_project(project) => id,
        ["projects", project, "locations", location, "namespaces", namespace, "services", service]
            if grpc && is_project(project) && !location.is_empty() && !namespace.is_empty() =>
        {
            service
        }
        _ => {
            let also = if grpc {
                " (or a Service Directory service, \
                 `projects/PROJECT/locations/LOCATION/namespaces/NAMESPACE/services/NAME`)"
            } else {
                ""
            };
            return Some(format!(
                "is not a backend service: write \
                 `projects/PROJECT/locations/global/backendServices/NAME`{also}, or the backend \
                 service's short name"
            ));
        }
    };
    id_problem(id)
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn route(kind: &str, destinations: &str) -> String {
        format!("apiVersion: networkservices.googleapis.com/v1\nkind: {kind}\nname: ads\nhostnames: [ads.internal]\nrules:\n- action:\n    destinations:\n{destinations}")
    }

    #[test]
    fn backend_service_names_pass() {
        let http = route("HttpRoute", "    - serviceName: projects/my-project/locations/global/backendServices/ads\n    - serviceName: ads-v2\n    - serviceName: https://www.googleapis.com/compute/v1/projects/p/global/backendServices/ads-3\n    - serviceName: projects/p/regions/us-central1/backendServices/ads-4\n    requestMirrorPolicy:\n      destination: {serviceName: ads-shadow}\n");
        let grpc = route(
            "GrpcRoute",
            "    - serviceName: projects/p/locations/us-east1/namespaces/shop/services/ads\n",
        );
        let tcp = route(
            "TcpRoute",
            "    - serviceName: projects/123/locations/global/backendServices/db\n",
        );
        for yaml in [http, grpc, tcp] {
            assert_eq!(findings_of("MC506", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn missing_and_malformed_service_names() {
        let yaml = route("HttpRoute", "    - weight: 1\n    - serviceName: projects/p/locations/global/services/target\n    - serviceName: Ads_V2\n    - serviceName: projects/p/locations/us-east1/namespaces/shop/services/ads\n");
        assert_eq!(
            findings_of("MC506", &yaml),
            vec![
                "MC506 error 8:7 `rules[0].action.destinations[0].serviceName` is required: name the backend service, e.g. `projects/PROJECT/locations/global/backendServices/NAME`",
                "MC506 error 9:20 `rules[0].action.destinations[1].serviceName` `projects/p/locations/global/services/target` is not a backend service: write `projects/PROJECT/locations/global/backendServices/NAME`, or the backend service's short name",
                "MC506 error 10:20 `rules[0].action.destinations[2].serviceName` `Ads_V2` is not a valid backend service name: `Ads_V2` must start with a lowercase letter; use 1 to 63 lowercase letters, digits and hyphens, starting with a letter",
                "MC506 error 11:20 `rules[0].action.destinations[3].serviceName` `projects/p/locations/us-east1/namespaces/shop/services/ads` is not a backend service: write `projects/PROJECT/locations/global/backendServices/NAME`, or the backend service's short name",
            ]
        );
    }

    #[test]
    fn grpc_and_tls_destinations_are_checked_too() {
        let grpc = route(
            "GrpcRoute",
            "    - serviceName: projects/p/locations/global/grpcRoutes/ads\n",
        );
        assert_eq!(
            findings_of("MC506", &grpc),
            vec!["MC506 error 8:20 `rules[0].action.destinations[0].serviceName` `projects/p/locations/global/grpcRoutes/ads` is not a backend service: write `projects/PROJECT/locations/global/backendServices/NAME` (or a Service Directory service, `projects/PROJECT/locations/LOCATION/namespaces/NAMESPACE/services/NAME`), or the backend service's short name"]
        );
        let tls = "apiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: ads\nrules:\n- matches: [{sniHost: [ads.example.com]}]\n  action:\n    destinations: [{weight: 1}]\n";
        assert_eq!(
            findings_of("MC506", tls),
            vec!["MC506 error 7:20 `rules[0].action.destinations[0].serviceName` is required: name the backend service, e.g. `projects/PROJECT/locations/global/backendServices/NAME`"]
        );
    }
}
