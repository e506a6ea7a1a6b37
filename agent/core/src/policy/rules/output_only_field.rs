//! MC504 `output-only-field`: a networkservices document carries a field the server sets.
//!
//! **What it does.** Warns about the top-level fields the service routing API marks output
//! only (`createTime`, `updateTime`, `selfLink`, and `etag`), which `gcloud network-services
//! ... export` writes. They are dropped before the document is read: meshcd neither checks nor
//! compares them.
//!
//! **Why.** The API server sets these fields itself and ignores them on input, so the values
//! in the repository say nothing about the route and go stale at the next change. A warning,
//! not an error: a file committed exactly as exported is fine.
//!
//! **Example.** `createTime: '2024-05-01T10:00:00.123Z'` in a route exported with `gcloud
//! network-services http-routes export`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC504",
    name: "output-only-field",
    summary: "a networkservices field the API server sets (createTime, selfLink, ...) is ignored",
    check: None,
};

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    const ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: projects/p/locations/global/httpRoutes/ads\nhostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n";

    #[test]
    fn a_route_without_server_fields_passes() {
        assert_eq!(findings_of("MC504", ROUTE), Vec::<String>::new());
    }

    #[test]
    fn exported_server_fields_are_warnings() {
        let yaml = format!("{ROUTE}createTime: '2024-05-01T10:00:00.123Z'\nupdateTime: '2024-05-02T10:00:00Z'\nselfLink: https://networkservices.googleapis.com/v1/projects/p/locations/global/httpRoutes/ads\netag: abc\n");
        let tail = "is output only: the API server sets it and ignores it on input, and meshcd ignores it too; it can stay as `gcloud ... export` wrote it, or be removed";
        assert_eq!(
            findings_of("MC504", &yaml),
            vec![
                format!("MC504 warning 8:1 `createTime` {tail}"),
                format!("MC504 warning 9:1 `updateTime` {tail}"),
                format!("MC504 warning 10:1 `selfLink` {tail}"),
                format!("MC504 warning 11:1 `etag` {tail}"),
            ]
        );
    }
}
