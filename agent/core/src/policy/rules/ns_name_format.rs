//! MC505 `ns-name-format`: a networkservices resource name, mesh or gateway reference is
//! malformed.
//!
//! **What it does.** Checks, for every networkservices resource:
//!
//! - `name`: a resource ID, or a full name `projects/PROJECT/locations/global/COLLECTION/ID`
//!   of the kind's own collection (`httpRoutes`, `grpcRoutes`, `tcpRoutes`, `tlsRoutes`,
//!   `meshes`; gateways may live in any location). Without `name`, the ID meshcd takes from
//!   `metadata.name` or the file name is checked the same way;
//! - each `meshes` entry: `projects/PROJECT/locations/global/meshes/ID`;
//! - each `gateways` entry: `projects/PROJECT/locations/LOCATION/gateways/ID`.
//!
//! A resource ID is 1 to 63 characters: a lowercase letter, then lowercase letters, digits and
//! hyphens, not ending with a hyphen.
//!
//! **Why.** The API takes its resource names in these forms only and rejects the route
//! otherwise; a mesh or gateway reference that is a bare ID, or that names a route by mistake,
//! never attaches.
//!
//! **Example.** `meshes: [mesh]`: write `projects/my-project/locations/global/meshes/mesh`.

use crate::finding::{Finding, Severity};
use crate::model::resource_name::{self, check_id, Pattern};
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC505",
    name: "ns-name-format",
    summary: "a networkservices name, mesh or gateway reference is not a valid resource name",
    check: Some(check),
};

const MESHES: Pattern = Pattern::global("meshes");
const GATEWAYS: Pattern = Pattern::any_location("gateways");

/// The pattern of a kind's own full names.
fn own_pattern(kind: Kind) -> Option<Pattern> {
    Some(match kind {
        Kind::NsHttpRoute => Pattern::global("httpRoutes"),
        Kind::NsGrpcRoute => Pattern::global("grpcRoutes"),
        Kind::NsTcpRoute => Pattern::global("tcpRoutes"),
        Kind::NsTlsRoute => Pattern::global("tlsRoutes"),
        Kind::NsMesh => MESHES,
        Kind::NsGateway => GATEWAYS,
        _ => return None,
    })
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Some(pattern) = own_pattern(resource.id.kind) else {
            continue;
        };
        let (name, meshes, gateways): (Option<&String>, &[String], &[String]) = match &resource.spec
        {
            Spec::NsHttpRoute(r) => (r.name.as_ref(), &r.meshes, &r.gateways),
            Spec::NsGrpcRoute(r) => (r.name.as_ref(), &r.meshes, &r.gateways),
            Spec::NsTcpRoute(r) => (r.name.as_ref(), &r.meshes, &r.gateways),
            Spec::NsTlsRoute(r) => (r.name.as_ref(), &r.meshes, &r.gateways),
            Spec::NsMesh(m) => (m.name.as_ref(), &[], &[]),
            Spec::NsGateway(g) => (g.name.as_ref(), &[], &[]),
            _ => continue,
        };
        own_name(resource, name, pattern, out);
        let root = resource.spec_path();
        for (field, refs, pattern) in [("meshes", meshes, MESHES), ("gateways", gateways, GATEWAYS)]
        {
            for (i, reference) in refs.iter().enumerate() {
                if let Err(problem) = resource_name::parse(reference, pattern) {
                    let path = root.key(field).index(i);
                    out.push(resource.finding(
                        &RULE,
                        Severity::Error,
                        &path,
                        format!(
                            "`{path}` `{reference}` is not a valid reference: {problem}; write \
                             the full name `{pattern}`"
                        ),
                    ));
                }
            }
        }
    }
}

/// The resource's own name: `name` as written, or the ID meshcd took from elsewhere.
fn own_name(resource: &Resource, name: Option<&String>, pattern: Pattern, out: &mut Vec<Finding>) {
    let path = resource.spec_path().key("name");
    match name {
        Some(name) if name.contains('/') => {
            if let Err(problem) = resource_name::parse(name, pattern) {
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "`name` `{name}` is not a valid {} name: {problem}; write a resource ID \
                         or `{pattern}`",
                        resource.id.kind
                    ),
                ));
            }
        }
        Some(name) => {
            if let Err(problem) = check_id(name) {
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "`name` `{name}` is not a valid resource ID: it {problem}; use 1 to 63 \
                         lowercase letters, digits and hyphens, starting with a letter"
                    ),
                ));
            }
        }
        None => {
            let id = &resource.id.name;
            if let Err(problem) = check_id(id) {
                let from_metadata = resource.body.pointer("/metadata/name").is_some();
                let (path, source) = if from_metadata {
                    (
                        FieldPath::root().key("metadata").key("name"),
                        "`metadata.name`",
                    )
                } else {
                    (
                        FieldPath::root(),
                        "the file name, as the document has no `name`",
                    )
                };
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "the ID `{id}` (taken from {source}) is not a valid resource ID: it \
                         {problem}; set `name` to 1 to 63 lowercase letters, digits and hyphens, \
                         starting with a letter"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{check_fixtures, findings_of};

    fn ns(kind: &str, rest: &str) -> String {
        format!("apiVersion: networkservices.googleapis.com/v1\nkind: {kind}\n{rest}")
    }

    const RULES: &str = "rules:\n- action:\n    destinations: [{serviceName: ads}]\n";

    #[test]
    fn ids_and_full_names_pass() {
        let http = ns("HttpRoute", &format!("name: projects/my-project/locations/global/httpRoutes/ads-v2\nhostnames: [ads.internal]\nmeshes: [projects/123456/locations/global/meshes/mesh]\ngateways: [projects/my-project/locations/us-central1/gateways/edge]\n{RULES}"));
        let short = ns(
            "GrpcRoute",
            &format!("name: ads\nhostnames: [ads.internal]\n{RULES}"),
        );
        let mesh = ns("Mesh", "name: projects/p/locations/global/meshes/mesh\n");
        let gateway = ns(
            "Gateway",
            "name: projects/p/locations/europe-west1/gateways/edge\ntype: OPEN_MESH\nports: [80]\n",
        );
        for yaml in [http, short, mesh, gateway] {
            assert_eq!(findings_of("MC505", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn malformed_names_and_references() {
        let yaml = ns("HttpRoute", &format!("name: projects/p/locations/global/grpcRoutes/ads\nhostnames: [ads.internal]\nmeshes: [mesh, projects/p/locations/us-east1/meshes/m]\ngateways: [projects/p/locations/global/gateways/Edge]\n{RULES}"));
        assert_eq!(
            findings_of("MC505", &yaml),
            vec![
                "MC505 error 3:7 `name` `projects/p/locations/global/grpcRoutes/ads` is not a valid HttpRoute name: it names a `grpcRoutes` resource, not `httpRoutes`; write a resource ID or `projects/PROJECT/locations/global/httpRoutes/ID`",
                "MC505 error 5:10 `meshes[0]` `mesh` is not a valid reference: it is not of the form `projects/PROJECT/locations/global/meshes/ID`; write the full name `projects/PROJECT/locations/global/meshes/ID`",
                "MC505 error 5:16 `meshes[1]` `projects/p/locations/us-east1/meshes/m` is not a valid reference: its location is `us-east1`, but these resources exist only in `global`; write the full name `projects/PROJECT/locations/global/meshes/ID`",
                "MC505 error 6:12 `gateways[0]` `projects/p/locations/global/gateways/Edge` is not a valid reference: its ID `Edge` must start with a lowercase letter; write the full name `projects/PROJECT/locations/LOCATION/gateways/ID`",
            ]
        );
    }

    #[test]
    fn bad_ids_written_or_taken_from_the_file() {
        let yaml = ns("Mesh", "name: my_mesh\n");
        assert_eq!(
            findings_of("MC505", &yaml),
            vec!["MC505 error 3:7 `name` `my_mesh` is not a valid resource ID: it may only hold lowercase letters, digits and hyphens; use 1 to 63 lowercase letters, digits and hyphens, starting with a letter"]
        );
        let lines = check_fixtures(&[("routes/Ads_Route.yaml", &ns("TcpRoute", RULES))]);
        let lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("MC505")).collect();
        assert_eq!(
            lines,
            vec!["MC505 error 1:1 the ID `Ads_Route` (taken from the file name, as the document has no `name`) is not a valid resource ID: it must start with a lowercase letter; set `name` to 1 to 63 lowercase letters, digits and hyphens, starting with a letter"]
        );
    }
}
