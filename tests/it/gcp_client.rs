//! Integration tests of the Google Cloud networkservices v1 client (`meshcd::gcp`).
//!
//! No Google Cloud API can run here, so the client talks to a local fake server
//! (`common/gcp_server.rs`) that follows the documented REST protocol: list/get, create with
//! `POST ?httpRouteId=`, patch with `updateMask`, delete, long-running Operations, Google's error
//! shape, and the metadata-server and OAuth JWT-bearer token endpoints. Retry and poll waits are
//! set to a few milliseconds so every test is fast; nothing asserts on durations.

use crate::common::gcp_server;

use std::time::Duration;

use gcp_server::FakeGcp;
use meshcd::gcp::{AuthConfig, Collection, GcpClient, GcpError, GcpOptions, TokenSource};
use serde_json::{json, Value as Json};

const PROJECT: &str = "meshcd-test";
const ROUTES: Collection = Collection::HttpRoutes;

/// Fast options against `fake` with `auth`.
fn options(fake: &FakeGcp, auth: AuthConfig) -> GcpOptions {
    let mut options = GcpOptions::new(PROJECT, auth);
    options.endpoint = fake.url.clone();
    options.requests_per_second = 1000;
    options.retry_base = Duration::from_millis(2);
    options.retry_cap = Duration::from_millis(20);
    options.operation_poll = Duration::from_millis(1);
    options.operation_timeout = Duration::from_secs(5);
    options
}

fn metadata_auth(fake: &FakeGcp) -> AuthConfig {
    AuthConfig::Metadata {
        host: Some(fake.metadata_host()),
    }
}

/// A fake server and a client of it that gets its tokens from the fake metadata server.
async fn setup() -> (FakeGcp, GcpClient) {
    let fake = FakeGcp::start(PROJECT).await;
    let client = GcpClient::new(options(&fake, metadata_auth(&fake))).expect("client");
    (fake, client)
}

fn route(host: &str, service: &str) -> Json {
    json!({
        "description": "web traffic",
        "hostnames": [host],
        "meshes": [format!("projects/{PROJECT}/locations/global/meshes/mesh")],
        "rules": [{"action": {"destinations": [{"serviceName": service, "weight": 100}]}}],
    })
}

fn route_name(short: &str) -> String {
    format!("projects/{PROJECT}/locations/global/httpRoutes/{short}")
}

/// The requests with `method` the fake recorded (operation polls are GETs on operations/).
fn requests_with(fake: &FakeGcp, method: &str) -> Vec<gcp_server::Request> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}

#[tokio::test]
async fn create_then_get_returns_the_route_with_output_only_fields() {
    let (fake, client) = setup().await;
    let body = route("web.example.com", "backend-v1");
    client.create(ROUTES, "web", &body).await.expect("create");

    let posts = requests_with(&fake, "POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].path,
        format!("/v1/projects/{PROJECT}/locations/global/httpRoutes")
    );
    assert_eq!(
        posts[0].query.get("httpRouteId").map(String::as_str),
        Some("web")
    );
    assert_eq!(posts[0].body, body);
    let polls: Vec<_> = requests_with(&fake, "GET")
        .into_iter()
        .filter(|r| r.path.contains("/operations/"))
        .collect();
    assert_eq!(polls.len(), 1, "the operation is done after one poll");

    let got = client
        .get(ROUTES, "web")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got["name"], route_name("web"));
    assert_eq!(got["hostnames"], json!(["web.example.com"]));
    assert_eq!(got["rules"], body["rules"]);
    for field in ["createTime", "updateTime"] {
        let time = got[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {got}"));
        chrono::DateTime::parse_from_rfc3339(time).expect("RFC 3339");
    }
    assert_eq!(fake.resource("httpRoutes", "web"), Some(got));
    assert_eq!(client.get(ROUTES, "absent").await.expect("get"), None);
}

#[tokio::test]
async fn create_of_an_existing_route_is_a_conflict_naming_it() {
    let (fake, client) = setup().await;
    fake.put_resource("httpRoutes", "web", route("web.example.com", "v1"));
    let error = client
        .create(ROUTES, "web", &route("web.example.com", "v2"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GcpError::Api { status: 409, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("409") && text.contains("ALREADY_EXISTS"),
        "{text}"
    );
    assert!(text.contains(&route_name("web")), "{text}");
    assert!(!error.retryable());
}

#[tokio::test]
async fn patch_with_an_update_mask_changes_only_the_masked_field() {
    let (fake, client) = setup().await;
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create");
    let before = fake.resource("httpRoutes", "web").unwrap();
    fake.clear_requests();

    let mut changed = route("other.example.com", "v2");
    changed["description"] = json!("changed");
    client
        .patch(ROUTES, "web", &changed, &["rules"])
        .await
        .expect("patch");

    let patches = requests_with(&fake, "PATCH");
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].path, format!("/v1/{}", route_name("web")));
    assert_eq!(
        patches[0].query.get("updateMask").map(String::as_str),
        Some("rules")
    );
    let after = fake.resource("httpRoutes", "web").unwrap();
    assert_eq!(after["rules"], changed["rules"]);
    assert_eq!(after["hostnames"], before["hostnames"]);
    assert_eq!(after["description"], before["description"]);
    assert_eq!(after["createTime"], before["createTime"]);

    // Several fields, percent-encoded in the query and decoded by the server.
    client
        .patch(ROUTES, "web", &changed, &["hostnames", "description"])
        .await
        .expect("patch two fields");
    let last = requests_with(&fake, "PATCH").pop().unwrap();
    assert_eq!(
        last.query.get("updateMask").map(String::as_str),
        Some("hostnames,description")
    );
    let after = fake.resource("httpRoutes", "web").unwrap();
    assert_eq!(after["hostnames"], json!(["other.example.com"]));
    assert_eq!(after["description"], "changed");
}

#[tokio::test]
async fn patch_without_a_mask_replaces_every_field() {
    let (fake, client) = setup().await;
    fake.put_resource("httpRoutes", "web", route("web.example.com", "v1"));
    let replacement = json!({
        "hostnames": ["web.example.com"],
        "rules": [{"action": {"destinations": [{"serviceName": "v3"}]}}],
    });
    client
        .patch(ROUTES, "web", &replacement, &[])
        .await
        .expect("patch");
    let patch = requests_with(&fake, "PATCH").pop().unwrap();
    assert!(!patch.query.contains_key("updateMask"));
    let after = fake.resource("httpRoutes", "web").unwrap();
    assert_eq!(after.get("description"), None, "cleared: {after}");
    assert_eq!(after.get("meshes"), None, "cleared: {after}");
    assert_eq!(after["rules"], replacement["rules"]);
}

#[tokio::test]
async fn patch_of_a_missing_route_is_a_404_naming_it_without_retries() {
    let (_fake, client) = setup().await;
    let error = client
        .patch(ROUTES, "ghost", &route("a.example.com", "v1"), &["rules"])
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(
            error,
            GcpError::Api {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        text.contains("NOT_FOUND") && text.contains("was not found"),
        "{text}"
    );
    assert!(text.contains(&route_name("ghost")), "{text}");
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn delete_removes_the_route_and_a_missing_route_is_fine() {
    let (fake, client) = setup().await;
    fake.put_resource("httpRoutes", "web", route("web.example.com", "v1"));
    client.delete(ROUTES, "web").await.expect("delete");
    assert_eq!(fake.resource("httpRoutes", "web"), None);
    assert_eq!(client.get(ROUTES, "web").await.expect("get"), None);
    let deletes = requests_with(&fake, "DELETE");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].path, format!("/v1/{}", route_name("web")));

    client
        .delete(ROUTES, "web")
        .await
        .expect("already gone is Ok");
    client
        .delete(ROUTES, "never-existed")
        .await
        .expect("absent is Ok");
}

#[tokio::test]
async fn list_follows_next_page_tokens() {
    let (fake, client) = setup().await;
    let names = ["a", "b", "c", "d", "e"];
    for name in names {
        fake.put_resource(
            "httpRoutes",
            name,
            route(&format!("{name}.example.com"), "v1"),
        );
    }
    fake.put_resource("meshes", "mesh", json!({"interceptionPort": 15001}));

    let listed = client.list(ROUTES).await.expect("list");
    let listed_names: Vec<&str> = listed.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let expected: Vec<String> = names.iter().map(|n| route_name(n)).collect();
    assert_eq!(listed_names, expected);

    let pages = requests_with(&fake, "GET");
    assert_eq!(pages.len(), 3, "5 routes in pages of 2: {pages:?}");
    assert!(pages
        .iter()
        .all(|p| p.query.get("pageSize").map(String::as_str) == Some("100")));
    assert_eq!(pages[0].query.get("pageToken"), None);
    assert!(pages[1].query.contains_key("pageToken"));

    assert_eq!(
        client.list(Collection::Meshes).await.expect("meshes").len(),
        1
    );
    assert!(client
        .list(Collection::Gateways)
        .await
        .expect("gateways")
        .is_empty());
}

#[tokio::test]
async fn a_failed_operation_is_an_operation_error_and_changes_nothing() {
    let (fake, client) = setup().await;
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create");
    let before = fake.resource("httpRoutes", "web").unwrap();

    fake.fail_next_operation(3, "hostname web.example.com is already used by route other");
    let error = client
        .patch(ROUTES, "web", &route("web.example.com", "v2"), &["rules"])
        .await
        .unwrap_err();
    match &error {
        GcpError::Operation {
            code,
            message,
            resource,
            ..
        } => {
            assert_eq!(*code, 3);
            assert_eq!(
                message,
                "hostname web.example.com is already used by route other"
            );
            assert_eq!(resource, &route_name("web"));
        }
        other => panic!("expected an operation error, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("already used") && text.contains(&route_name("web")),
        "{text}"
    );
    assert!(!error.retryable());
    assert_eq!(fake.resource("httpRoutes", "web"), Some(before));

    fake.fail_next_operation(9, "mesh is being deleted");
    let error = client
        .create(ROUTES, "new", &route("new.example.com", "v1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GcpError::Operation { code: 9, .. }),
        "{error:?}"
    );
    assert_eq!(fake.resource("httpRoutes", "new"), None);
}

#[tokio::test]
async fn operations_are_polled_until_done() {
    let (fake, client) = setup().await;
    fake.set_operation_polls(4);
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create");
    assert!(fake.resource("httpRoutes", "web").is_some());
    let polls = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/operations/"))
        .count();
    assert_eq!(polls, 4);

    fake.set_operation_polls(0);
    fake.clear_requests();
    client.delete(ROUTES, "web").await.expect("delete");
    assert_eq!(fake.requests().len(), 1, "a done operation needs no poll");
}

#[tokio::test]
async fn an_operation_still_running_at_the_timeout_is_a_retryable_timeout() {
    let fake = FakeGcp::start(PROJECT).await;
    let mut options = options(&fake, metadata_auth(&fake));
    options.operation_timeout = Duration::from_millis(50);
    let client = GcpClient::new(options).expect("client");
    fake.set_operation_polls(1_000_000);
    let error = client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .unwrap_err();
    assert!(matches!(error, GcpError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains(&route_name("web")));
    assert!(error.retryable());
}

#[tokio::test]
async fn too_many_requests_are_retried() {
    let (fake, client) = setup().await;
    fake.fail_next(429, 2);
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create after two 429s");
    assert_eq!(client.stats().retries, 2);
    assert_eq!(requests_with(&fake, "POST").len(), 3);
    assert!(fake.resource("httpRoutes", "web").is_some());
}

#[tokio::test]
async fn unavailable_beyond_max_attempts_is_an_error_with_status_and_attempts() {
    let fake = FakeGcp::start(PROJECT).await;
    let mut options = options(&fake, metadata_auth(&fake));
    options.max_attempts = 3;
    let client = GcpClient::new(options).expect("client");
    fake.fail_next(503, 10);
    let error = client.get(ROUTES, "web").await.unwrap_err();
    assert!(
        matches!(
            error,
            GcpError::Api {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("HTTP 503") && text.contains("3 attempt"),
        "{text}"
    );
    assert!(
        text.contains("Injected failure"),
        "the API's message: {text}"
    );
    assert!(error.retryable());
    assert_eq!(client.stats().retries, 2);
    assert_eq!(requests_with(&fake, "GET").len(), 3);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_http_error() {
    let fake = FakeGcp::start(PROJECT).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut options = options(&fake, metadata_auth(&fake));
    options.endpoint = format!("http://127.0.0.1:{port}");
    options.max_attempts = 2;
    let client = GcpClient::new(options).expect("client");
    let error = client.list(ROUTES).await.unwrap_err();
    assert!(
        matches!(error, GcpError::Http { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(error.retryable());
    assert!(error.to_string().contains("httpRoutes"), "{error}");
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_request_succeeds() {
    let (fake, client) = setup().await;
    assert_eq!(client.get(ROUTES, "web").await.expect("get"), None);
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(client.get(ROUTES, "web").await.expect("cached"), None);
    assert_eq!(fake.tokens_issued(), 1, "the token is cached");

    fake.revoke_tokens();
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create after a refresh");
    assert_eq!(fake.tokens_issued(), 2);
    let stats = client.stats();
    assert_eq!(stats.token_refreshes, 1);
    assert_eq!(stats.tokens_fetched, 2);
    assert_eq!(stats.retries, 0);
    let posts = requests_with(&fake, "POST");
    assert_eq!(posts.len(), 2, "the rejected POST and its retry");
    assert_ne!(posts[0].token, posts[1].token);
}

#[tokio::test]
async fn short_lived_tokens_are_fetched_again_before_they_expire() {
    let (fake, client) = setup().await;
    // Under a minute left: too close to expiry to be reused.
    fake.token_lifetime(30);
    client.get(ROUTES, "a").await.expect("get");
    client.get(ROUTES, "b").await.expect("get");
    assert_eq!(fake.tokens_issued(), 2);
    assert_eq!(client.stats().token_refreshes, 0, "no 401 was needed");

    fake.token_lifetime(3600);
    client.get(ROUTES, "c").await.expect("get");
    client.get(ROUTES, "d").await.expect("get");
    assert_eq!(fake.tokens_issued(), 3);
}

#[tokio::test]
async fn env_token_authenticates_and_an_expired_one_says_how_to_fix_it() {
    let fake = FakeGcp::start(PROJECT).await;
    let variable = "MESHCD_TEST_GCP_CLIENT_ENV_TOKEN";
    let token = fake.issue_static_token();
    std::env::set_var(variable, &token);
    let client = GcpClient::new(options(
        &fake,
        AuthConfig::EnvToken {
            variable: variable.into(),
        },
    ))
    .expect("client");
    std::env::remove_var(variable);

    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create");
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.token.as_deref() == Some(token.as_str())));

    fake.revoke_tokens();
    let error = client.get(ROUTES, "web").await.unwrap_err();
    assert!(matches!(error, GcpError::Auth(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(variable) && text.contains("expired"),
        "{text}"
    );
    assert!(
        text.contains("metadata server") && text.contains("service-account key"),
        "{text}"
    );
    assert!(!text.contains(&token) && !format!("{error:?}").contains(&token));
    assert_eq!(
        client.stats().token_refreshes,
        0,
        "an env token cannot be refreshed"
    );
    assert_eq!(fake.tokens_issued(), 1);
}

#[tokio::test]
async fn metadata_server_tokens_need_the_metadata_flavor_header() {
    let fake = FakeGcp::start(PROJECT).await;
    let url = format!(
        "http://{}/computeMetadata/v1/instance/service-accounts/default/token",
        fake.metadata_host()
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let bare = http.get(&url).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 403);
    let flavored = http
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(flavored.status().as_u16(), 200);
    assert_eq!(fake.tokens_issued(), 1);

    let client = GcpClient::new(options(&fake, metadata_auth(&fake))).expect("client");
    client
        .list(ROUTES)
        .await
        .expect("list with a metadata token");
    assert_eq!(fake.tokens_issued(), 2);
}

#[tokio::test]
async fn a_service_account_key_is_traded_for_a_token() {
    let fake = FakeGcp::start(PROJECT).await;
    let dir = tempfile::tempdir().unwrap();
    let key = fake.service_account_key(dir.path());
    let client = GcpClient::new(options(&fake, AuthConfig::ServiceAccountKey { path: key }))
        .expect("client");
    client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .expect("create with a service-account token");
    assert_eq!(fake.tokens_issued(), 1);
    assert!(fake.resource("httpRoutes", "web").is_some());

    fake.revoke_tokens();
    client
        .get(ROUTES, "web")
        .await
        .expect("get after a refresh");
    assert_eq!(fake.tokens_issued(), 2);
    assert_eq!(client.stats().token_refreshes, 1);

    let shown = format!("{client:?}");
    assert!(shown.contains(&fake.client_email()), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[tokio::test]
async fn a_key_the_token_endpoint_does_not_know_is_an_auth_error() {
    let fake = FakeGcp::start(PROJECT).await;
    let dir = tempfile::tempdir().unwrap();
    let other = include_str!("../fixtures/gcp/other-sa-key.pem");
    let key = fake.service_account_key_with(dir.path(), "wrong.json", other);
    let client = GcpClient::new(options(&fake, AuthConfig::ServiceAccountKey { path: key }))
        .expect("client");
    let error = client
        .create(ROUTES, "web", &route("web.example.com", "v1"))
        .await
        .unwrap_err();
    assert!(matches!(error, GcpError::Auth(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("invalid_grant") && text.contains("HTTP 400"),
        "{text}"
    );
    assert!(text.contains(&fake.client_email()), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(!error.retryable());
    assert_eq!(fake.tokens_issued(), 0);
    assert!(fake.requests().is_empty(), "no API request without a token");
}

#[tokio::test]
async fn unusable_credentials_fail_at_construction() {
    let fake = FakeGcp::start(PROJECT).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = GcpClient::new(options(
        &fake,
        AuthConfig::ServiceAccountKey {
            path: dir.path().join("absent.json"),
        },
    ))
    .unwrap_err();
    assert!(matches!(missing, GcpError::Config(_)), "{missing:?}");
    assert!(missing.to_string().contains("absent.json"), "{missing}");

    let broken = fake.service_account_key_with(
        dir.path(),
        "broken.json",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let error = GcpClient::new(options(
        &fake,
        AuthConfig::ServiceAccountKey { path: broken },
    ))
    .unwrap_err();
    assert!(matches!(error, GcpError::Config(_)), "{error:?}");

    let unset = GcpClient::new(options(
        &fake,
        AuthConfig::EnvToken {
            variable: "MESHCD_TEST_GCP_CLIENT_UNSET_VARIABLE".into(),
        },
    ))
    .unwrap_err();
    assert!(unset
        .to_string()
        .contains("MESHCD_TEST_GCP_CLIENT_UNSET_VARIABLE"));
}

#[tokio::test]
async fn debug_output_and_errors_never_contain_the_token() {
    let fake = FakeGcp::start(PROJECT).await;
    let variable = "MESHCD_TEST_GCP_CLIENT_DEBUG_TOKEN";
    let token = fake.issue_static_token();
    std::env::set_var(variable, &token);
    let auth = AuthConfig::EnvToken {
        variable: variable.into(),
    };
    let client = GcpClient::new(options(&fake, auth.clone())).expect("client");
    let source = TokenSource::new(&auth).expect("token source");
    std::env::remove_var(variable);

    client.list(ROUTES).await.expect("list");
    let secret = source.token().await.expect("token");
    assert_eq!(secret.expose(), token);

    fake.fail_next(400, 1);
    let api_error = client.get(ROUTES, "web").await.unwrap_err();
    fake.revoke_tokens();
    let auth_error = client.get(ROUTES, "web").await.unwrap_err();

    let shown = [
        format!("{client:?}"),
        format!("{source:?}"),
        format!("{secret:?}"),
        format!("{secret}"),
        format!("{api_error:?}"),
        api_error.to_string(),
        format!("{auth_error:?}"),
        auth_error.to_string(),
        format!("{:?}", client.stats()),
    ];
    for text in &shown {
        assert!(!text.contains(&token), "the token leaked into: {text}");
        assert!(!text.contains("ya29."), "a token leaked into: {text}");
    }
    assert_eq!(format!("{secret:?}"), "***");
}

#[tokio::test]
async fn a_token_source_caches_and_can_be_invalidated() {
    let fake = FakeGcp::start(PROJECT).await;
    let source = TokenSource::new(&metadata_auth(&fake)).expect("token source");
    let first = source.token().await.expect("token");
    let again = source.clone().token().await.expect("cached token");
    assert_eq!(first, again);
    assert_eq!(fake.tokens_issued(), 1);
    source.invalidate();
    let fresh = source.token().await.expect("fresh token");
    assert_ne!(first, fresh);
    assert_eq!(fake.tokens_issued(), 2);
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn clones_share_counters_and_tokens() {
    let (fake, client) = setup().await;
    let clone = client.clone();
    let (a, b) = tokio::join!(client.list(ROUTES), clone.list(Collection::Meshes));
    a.expect("list routes");
    b.expect("list meshes");
    assert_eq!(client.stats(), clone.stats());
    assert_eq!(client.stats().requests, 2);
    assert_eq!(fake.tokens_issued(), 1, "one fetch shared by both");
}
