//! MC606 `gcp-backend-name`: a GCPBackend names its backend service wrongly.
//!
//! **What it does.** Checks `spec.backendService` of a GCPBackend (`networking.gke.io/v1`):
//! `name` is required and is 1–49 lowercase letters, digits and hyphens; `project`, when set,
//! is 6–30 lowercase letters, digits and hyphens starting with a letter; `location`, when set,
//! should be `global` for use in the mesh (a warning otherwise).
//!
//! **Why.** A GCPBackend lets mesh routes send traffic to a Compute Engine backend service.
//! A malformed name or project cannot refer to one, so routes to it fail; only global backend
//! services can take part in the mesh.
//!
//! **Example.** `backendService: {name: Ads_VMs, location: us-central1}`: write `ads-vms`, with
//! `location: global`.

use crate::finding::{Finding, Severity};
use crate::model::{Kind, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC606",
    name: "gcp-backend-name",
    summary: "a GCPBackend's backend service name, project or location is invalid",
    check: Some(check),
};

const MAX_NAME: usize = 49;
const PROJECT_LENGTH: std::ops::RangeInclusive<usize> = 6..=30;
const MESH_LOCATION: &str = "global";

/// Lowercase letters, digits and hyphens.
fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::GcpBackend) {
        let Spec::GcpBackend(spec) = &resource.spec else {
            continue;
        };
        let at = FieldPath::root().key("spec").key("backendService");
        let service = spec.backend_service.clone().unwrap_or_default();
        let name_at = at.key("name");
        match service.name.as_deref() {
            None | Some("") => out.push(resource.finding(
                &RULE,
                Severity::Error,
                &name_at,
                format!("`{name_at}` is required: the name of the backend service"),
            )),
            Some(name) if name.chars().count() > MAX_NAME || !name.chars().all(allowed) => {
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &name_at,
                    format!(
                        "`{name_at}` `{name}` must be 1 to {MAX_NAME} lowercase letters, digits \
                         and hyphens"
                    ),
                ));
            }
            Some(_) => {}
        }
        if let Some(project) = service.project.as_deref() {
            let valid = PROJECT_LENGTH.contains(&project.chars().count())
                && project.starts_with(|c: char| c.is_ascii_lowercase())
                && project.chars().all(allowed);
            if !valid {
                let path = at.key("project");
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "`{path}` `{project}` is not a project ID: 6 to 30 lowercase letters, \
                         digits and hyphens, starting with a letter"
                    ),
                ));
            }
        }
        if let Some(location) = service.location.as_deref().filter(|l| *l != MESH_LOCATION) {
            let path = at.key("location");
            out.push(resource.finding(
                &RULE,
                Severity::Warning,
                &path,
                format!(
                    "`{path}` is `{location}`; the mesh uses global backend services: set it to \
                     `{MESH_LOCATION}`"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::policy::check_fixture;

    /// This rule's findings, and the loader's so a fixture that does not load is noticed.
    fn run(yaml: &str) -> Vec<String> {
        check_fixture(yaml)
            .into_iter()
            .filter(|l| l.starts_with(RULE.code) || l.starts_with("MC00"))
            .collect()
    }

    const HEADER: &str = "apiVersion: networking.gke.io/v1\nkind: GCPBackend\nmetadata: {name: ads-vms, namespace: prod}\nspec:\n";

    #[test]
    fn valid_backend_passes() {
        let yaml = format!("{HEADER}  backendService:\n    name: ads-vms-2\n    project: my-project-123\n    location: global\n");
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn bad_name_project_and_location() {
        let yaml = format!("{HEADER}  backendService:\n    name: Ads_VMs\n    project: 1project\n    location: us-central1\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC606 error 6:11 `spec.backendService.name` `Ads_VMs` must be 1 to 49 lowercase letters, digits and hyphens",
                "MC606 error 7:14 `spec.backendService.project` `1project` is not a project ID: 6 to 30 lowercase letters, digits and hyphens, starting with a letter",
                "MC606 warning 8:15 `spec.backendService.location` is `us-central1`; the mesh uses global backend services: set it to `global`",
            ]
        );
    }

    #[test]
    fn missing_or_overlong_name_and_short_project() {
        let yaml = format!("{HEADER}  backendService: {{project: abc}}\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC606 error 5:19 `spec.backendService.name` is required: the name of the backend service",
                "MC606 error 5:29 `spec.backendService.project` `abc` is not a project ID: 6 to 30 lowercase letters, digits and hyphens, starting with a letter",
            ]
        );
        let long = "a".repeat(50);
        let yaml = format!("{HEADER}  backendService: {{name: {long}}}\n");
        assert_eq!(
            run(&yaml),
            vec![format!("MC606 error 5:26 `spec.backendService.name` `{long}` must be 1 to 49 lowercase letters, digits and hyphens")]
        );
    }
}
