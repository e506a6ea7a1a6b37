//! MC520 `cloud-run-mesh-name`: a Cloud Run service names its mesh in a form Cloud Run does
//! not take.
//!
//! **What it does.** Checks the mesh a Cloud Run service joins (the revision template's
//! `run.googleapis.com/mesh` annotation in the Knative form, `template.serviceMesh.mesh` in the
//! Admin API v2 form): it must be `projects/PROJECT/locations/global/meshes/MESH`, with a
//! project ID or number and a valid mesh ID.
//!
//! **Why.** Cloud Run rejects the deployment otherwise, and a bare mesh name (`mesh`) is the
//! usual slip: the service never joins the mesh, so none of the repository's routes reach it.
//!
//! **Example.** `run.googleapis.com/mesh: mesh`: write
//! `projects/my-project/locations/global/meshes/mesh`.

use crate::finding::{Finding, Severity};
use crate::model::resource_name::{self, Pattern};
use crate::model::Spec;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC520",
    name: "cloud-run-mesh-name",
    summary: "a Cloud Run service's mesh is not `projects/PROJECT/locations/global/meshes/MESH`",
    check: Some(check),
};

const MESHES: Pattern = Pattern::global("meshes");

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::CloudRunService(service) = &resource.spec else {
            continue;
        };
        let Some(mesh) = &service.mesh else { continue };
        if let Err(problem) = resource_name::parse(&mesh.name, MESHES) {
            out.push(resource.finding(
                &RULE,
                Severity::Error,
                &mesh.path,
                format!(
                    "the mesh `{}` of Cloud Run service `{}` is not a mesh name: {problem}; \
                     write `projects/PROJECT/locations/global/meshes/MESH`",
                    mesh.name, resource.id.name
                ),
            ));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::policy::findings_of;

    pub(crate) fn knative(mesh: &str) -> String {
        format!("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: client\n  namespace: '123456789'\n  labels: {{cloud.googleapis.com/location: us-central1}}\n  annotations: {{run.googleapis.com/ingress: internal}}\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/maxScale: '10'\n        run.googleapis.com/mesh: {mesh}\n    spec:\n      containerConcurrency: 80\n      containers:\n      - image: us-docker.pkg.dev/cloudrun/container/hello\n        ports: [{{name: http1, containerPort: 8080}}]\n  traffic:\n  - latestRevision: true\n    percent: 100\n")
    }

    pub(crate) fn v2(mesh: &str) -> String {
        format!("name: projects/my-project/locations/us-central1/services/client\ningress: INGRESS_TRAFFIC_INTERNAL_ONLY\ntemplate:\n  containers:\n  - image: us-docker.pkg.dev/cloudrun/container/hello\n  serviceMesh:\n    mesh: {mesh}\ntraffic:\n- type: TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST\n  percent: 100\n")
    }

    #[test]
    fn mesh_names_pass() {
        for yaml in [
            knative("projects/my-project/locations/global/meshes/mesh"),
            v2("projects/123456789/locations/global/meshes/mesh"),
        ] {
            assert_eq!(findings_of("MC520", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn malformed_mesh_names() {
        assert_eq!(
            findings_of("MC520", &knative("mesh")),
            vec!["MC520 error 13:34 the mesh `mesh` of Cloud Run service `client` is not a mesh name: it is not of the form `projects/PROJECT/locations/global/meshes/ID`; write `projects/PROJECT/locations/global/meshes/MESH`"]
        );
        assert_eq!(
            findings_of("MC520", &v2("projects/my-project/locations/us-central1/meshes/mesh")),
            vec!["MC520 error 7:11 the mesh `projects/my-project/locations/us-central1/meshes/mesh` of Cloud Run service `client` is not a mesh name: its location is `us-central1`, but these resources exist only in `global`; write `projects/PROJECT/locations/global/meshes/MESH`"]
        );
    }
}
