//! MC521 `cloud-run-mesh-unknown`: a Cloud Run service joins a mesh the repository's routes do
//! not attach to.
//!
//! **What it does.** For each Cloud Run service that joins a mesh (see MC520 for where that is
//! written), looks for that mesh, by its ID, among the repository's networkservices `Mesh`
//! resources and the `meshes` of its routes, and warns when neither has it. A malformed mesh
//! name is MC520's and is not looked up.
//!
//! **Why.** A service in a mesh sees only the routes attached to that mesh: when the
//! repository declares no such mesh and no route lists it, the service's calls are routed by
//! nothing this repository holds, usually because the mesh ID is misspelled or the service was
//! pointed at another environment's mesh. A warning, because the mesh and its routes may be
//! kept in another repository.
//!
//! **Example.** `run.googleapis.com/mesh: projects/my-project/locations/global/meshes/mseh`,
//! while the routes say `meshes: [projects/my-project/locations/global/meshes/mesh]`.

use std::collections::BTreeSet;

use crate::finding::{Finding, Severity};
use crate::model::resource_name::{self, Pattern};
use crate::model::{networkservices as ns, Spec};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC521",
    name: "cloud-run-mesh-unknown",
    summary: "a Cloud Run service joins a mesh no Mesh or route of the repository names",
    check: Some(check),
};

/// The IDs of the meshes the repository declares or its routes attach to.
fn known_meshes<'a>(ctx: &Context<'a>) -> BTreeSet<&'a str> {
    let mut known = BTreeSet::new();
    for resource in ctx.resources {
        let meshes: &[String] = match &resource.spec {
            Spec::NsMesh(_) => {
                known.insert(resource.id.name.as_str());
                continue;
            }
            Spec::NsHttpRoute(r) => &r.meshes,
            Spec::NsGrpcRoute(r) => &r.meshes,
            Spec::NsTcpRoute(r) => &r.meshes,
            Spec::NsTlsRoute(r) => &r.meshes,
            _ => continue,
        };
        known.extend(meshes.iter().map(|m| ns::short_name(m)));
    }
    known
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut known = None;
    for resource in ctx.resources {
        let Spec::CloudRunService(service) = &resource.spec else {
            continue;
        };
        let Some(mesh) = &service.mesh else { continue };
        let Ok(name) = resource_name::parse(&mesh.name, Pattern::global("meshes")) else {
            continue;
        };
        let known = known.get_or_insert_with(|| known_meshes(ctx));
        if known.contains(name.id) {
            continue;
        }
        out.push(resource.finding(
            &RULE,
            Severity::Warning,
            &mesh.path,
            format!(
                "Cloud Run service `{}` joins mesh `{}`, but this repository declares no Mesh \
                 `{}` and no route lists it in `meshes`, so none of its routes reach the \
                 service; check the mesh ID, or ignore this if the mesh is kept elsewhere",
                resource.id.name, mesh.name, name.id
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::rules::cloud_run_mesh_name::tests::{knative, v2};
    use crate::policy::{check_fixtures, findings_of};

    const MESH: &str = "apiVersion: networkservices.googleapis.com/v1\nkind: Mesh\nname: projects/my-project/locations/global/meshes/mesh\n";
    const ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: target\nhostnames: [target.internal]\nmeshes: [projects/my-project/locations/global/meshes/other]\nrules:\n- action:\n    destinations: [{serviceName: target}]\n";

    fn run(files: &[(&str, &str)]) -> Vec<String> {
        check_fixtures(files)
            .into_iter()
            .filter(|l| l.starts_with("MC521"))
            .collect()
    }

    #[test]
    fn meshes_the_repository_declares_or_routes_name_pass() {
        let declared = knative("projects/my-project/locations/global/meshes/mesh");
        assert_eq!(
            run(&[("mesh.yaml", MESH), ("client.yaml", &declared)]),
            Vec::<String>::new()
        );
        let routed = v2("projects/123/locations/global/meshes/other");
        assert_eq!(
            run(&[("route.yaml", ROUTE), ("client.yaml", &routed)]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_mesh_nothing_names_is_a_warning() {
        let yaml = knative("projects/my-project/locations/global/meshes/mseh");
        assert_eq!(
            run(&[("mesh.yaml", MESH), ("route.yaml", ROUTE), ("client.yaml", &yaml)]),
            vec!["MC521 warning client.yaml:13:34 Cloud Run service `client` joins mesh `projects/my-project/locations/global/meshes/mseh`, but this repository declares no Mesh `mseh` and no route lists it in `meshes`, so none of its routes reach the service; check the mesh ID, or ignore this if the mesh is kept elsewhere"]
        );
        // A malformed name is MC520's alone.
        assert_eq!(findings_of("MC521", &knative("mseh")), Vec::<String>::new());
    }
}
