//! Unit tests of Rego policies: rule semantics, errors and limits, inputs, and the policies
//! shipped in `policies/`.

mod errors;
mod inputs;
mod rules;
mod shipped;

use crate::finding::Finding;
use crate::load::{load, Loaded};
use crate::source::SourceFile;

use super::{Options, Policies};

/// Policies from `(path, text)` pairs with the default options.
fn policies(files: &[(&str, &str)]) -> Policies {
    policies_with(files, &Options::default())
}

fn policies_with(files: &[(&str, &str)], options: &Options) -> Policies {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect();
    Policies::compile(&files, options)
}

/// A revision from `(path, yaml)` pairs.
fn revision(files: &[(&str, &str)]) -> Loaded {
    load(
        files
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
    )
}

/// Findings as `CODE name severity file:line:col message` lines.
fn lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {}",
                f.rule, f.name, f.severity, f.location, f.message
            )
        })
        .collect()
}

/// An Istio route bound to `mesh` and `external-mesh`, without owner label or timeout.
const VIRTUAL_SERVICE: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ads
  namespace: ads
  labels:
    app: ads
spec:
  hosts: [ads.ads.svc.cluster.local]
  gateways: [mesh, external-mesh]
  http:
  - route:
    - destination: {host: ads.ads.svc.cluster.local, subset: v1}
      weight: 90
    - destination: {host: ads.ads.svc.cluster.local, subset: v2}
      weight: 10
";

/// A header-less networkservices route as gcloud exports it.
const NS_ROUTE: &str = "\
name: projects/p/locations/global/httpRoutes/web
hostnames: [web.example.internal]
meshes: [projects/p/locations/global/meshes/prod]
labels:
  team: web
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/web
      weight: 99
    - serviceName: projects/p/locations/global/backendServices/web-green
      weight: 1
";
