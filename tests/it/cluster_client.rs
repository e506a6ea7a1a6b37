//! Integration tests of meshcd's Kubernetes client (`meshcd::cluster::ClusterClient`) against a
//! local fake API server (`common/kube_server.rs`). No Kubernetes API server can run here (no
//! kind, k3s or internet), so the fake serves the documented API protocol for custom resources
//! (get, list with label selectors, delete, server-side apply with field ownership and
//! conflicts, Status errors, bearer tokens); the client talks to it through a real kubeconfig
//! and kube-rs over plain HTTP.

use std::path::{Path, PathBuf};

use crate::common::kube_server::{FakeKube, APPLY_PATCH};
use meshcd::cluster::{ClusterClient, ClusterError, ClusterOptions, MANAGED_BY_LABEL};
use meshcd_core::model::Kind;
use serde_json::{json, Value as Json};
use tempfile::TempDir;

/// A fake API server, a folder with its kubeconfig, and a client connected through it.
struct Setup {
    fake: FakeKube,
    dir: TempDir,
    client: ClusterClient,
}

impl Setup {
    async fn new() -> Setup {
        let fake = FakeKube::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let client = ClusterClient::connect(&options(&fake.kubeconfig(dir.path())))
            .await
            .expect("connect");
        Setup { fake, dir, client }
    }

    /// Another client on the same server, forcing conflicts.
    async fn forcing(&self) -> ClusterClient {
        let options = ClusterOptions {
            force_conflicts: true,
            ..options(&self.fake.kubeconfig(self.dir.path()))
        };
        ClusterClient::connect(&options).await.expect("connect")
    }

    /// The stored VirtualService `namespace/name`.
    fn stored(&self, namespace: &str, name: &str) -> Option<Json> {
        self.fake.object("virtualservices", namespace, name)
    }
}

fn options(kubeconfig: &Path) -> ClusterOptions {
    ClusterOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..ClusterOptions::default()
    }
}

/// A VirtualService sending `v1` percent of `reviews` to subset v1, the rest to v2.
fn virtual_service(namespace: &str, name: &str, v1: u32) -> Json {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": v1},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 100 - v1},
            ]}],
        },
    })
}

fn weight_of_v1(object: &Json) -> &Json {
    &object["spec"]["http"][0]["route"][0]["weight"]
}

/// The `managedFields` entry of `manager`.
fn managed_fields_of<'a>(object: &'a Json, manager: &str) -> Option<&'a Json> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| entry["manager"] == manager)
}

const REVIEWS_PATH: &str =
    "/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews";

#[tokio::test]
async fn apply_creates_the_object_with_a_server_side_apply_and_the_managed_by_label() {
    let setup = Setup::new().await;
    assert_eq!(setup.client.server(), setup.fake.url);

    let answer = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect("apply");

    assert_eq!(answer["metadata"]["labels"][MANAGED_BY_LABEL], "meshcd");
    assert_eq!(answer["metadata"]["name"], "reviews");
    assert_eq!(*weight_of_v1(&answer), 90);
    let stored = setup.stored("default", "reviews").expect("stored");
    assert_eq!(stored["metadata"]["labels"][MANAGED_BY_LABEL], "meshcd");
    assert_eq!(stored["spec"], answer["spec"]);

    let requests = setup.fake.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let patch = &requests[0];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.path, REVIEWS_PATH);
    assert_eq!(patch.content_type.as_deref(), Some(APPLY_PATCH));
    assert_eq!(
        patch.query.get("fieldManager").map(String::as_str),
        Some("meshcd")
    );
    assert_ne!(patch.query.get("force").map(String::as_str), Some("true"));
    assert_eq!(patch.body["metadata"]["labels"][MANAGED_BY_LABEL], "meshcd");
    assert_eq!(
        patch.body["spec"],
        virtual_service("default", "reviews", 90)["spec"]
    );
}

#[tokio::test]
async fn applying_a_change_updates_and_applying_the_same_again_changes_nothing() {
    let setup = Setup::new().await;
    let first = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();

    let second = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 80),
        )
        .await
        .unwrap();

    assert_eq!(*weight_of_v1(&second), 80);
    assert_eq!(
        *weight_of_v1(&setup.stored("default", "reviews").unwrap()),
        80
    );
    assert_eq!(second["metadata"]["uid"], first["metadata"]["uid"]);
    assert_ne!(
        second["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert_eq!(first["metadata"]["generation"], 1);
    assert_eq!(second["metadata"]["generation"], 2);

    let third = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 80),
        )
        .await
        .unwrap();
    assert_eq!(third, second, "a no-op apply leaves the object as it was");
}

#[tokio::test]
async fn get_answers_what_the_server_holds_and_none_when_absent() {
    let setup = Setup::new().await;
    assert_eq!(
        setup
            .client
            .get(Kind::VirtualService, "default", "reviews")
            .await,
        Ok(None)
    );
    assert_eq!(
        setup.fake.requests().len(),
        1,
        "no probe for an object that is not there"
    );

    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();
    let object = setup
        .client
        .get(Kind::VirtualService, "default", "reviews")
        .await
        .unwrap()
        .expect("the object");

    assert_eq!(object["apiVersion"], "networking.istio.io/v1");
    assert_eq!(object["kind"], "VirtualService");
    assert_eq!(
        object["spec"],
        virtual_service("default", "reviews", 90)["spec"]
    );
    let metadata = &object["metadata"];
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(metadata[field].is_string(), "{field} in {metadata}");
    }
    assert_eq!(metadata["generation"], 1);
    let mine = managed_fields_of(&object, "meshcd").expect("meshcd's managed fields");
    assert_eq!(mine["operation"], "Apply");
    assert_eq!(mine["fieldsType"], "FieldsV1");
    assert!(mine["fieldsV1"]["f:spec"]["f:http"].is_object(), "{mine}");
    let get = setup.fake.requests().pop().unwrap();
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", REVIEWS_PATH)
    );
}

#[tokio::test]
async fn apply_uses_the_documents_api_version_and_get_the_kind_tables() {
    let setup = Setup::new().await;
    let mut old = virtual_service("default", "reviews", 90);
    old["apiVersion"] = json!("networking.istio.io/v1beta1");

    let answer = setup
        .client
        .apply(Kind::VirtualService, &old)
        .await
        .unwrap();

    assert_eq!(answer["apiVersion"], "networking.istio.io/v1beta1");
    let patch = setup.fake.requests().pop().unwrap();
    assert_eq!(
        patch.path,
        "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices/reviews"
    );
    let object = setup
        .client
        .get(Kind::VirtualService, "default", "reviews")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(object["apiVersion"], "networking.istio.io/v1");
}

#[tokio::test]
async fn list_managed_finds_only_labelled_objects_in_every_namespace() {
    let setup = Setup::new().await;
    for (namespace, name) in [("shop", "cart"), ("default", "reviews")] {
        setup
            .client
            .apply(Kind::VirtualService, &virtual_service(namespace, name, 90))
            .await
            .unwrap();
    }
    setup.fake.apply_as(
        "kubectl",
        "virtualservices",
        virtual_service("other", "ratings", 50),
    );
    setup
        .client
        .apply(
            Kind::DestinationRule,
            &json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "reviews", "namespace": "default"},
                "spec": {"host": "reviews"},
            }),
        )
        .await
        .unwrap();
    setup.fake.clear_requests();

    let listed = setup
        .client
        .list_managed(Kind::VirtualService)
        .await
        .unwrap();

    let names: Vec<(&str, &str)> = listed
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("default", "reviews"), ("shop", "cart")]);
    assert!(listed
        .iter()
        .all(|o| o["kind"] == "VirtualService" && o["apiVersion"] == "networking.istio.io/v1"));
    let requests = setup.fake.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(
        requests[0].path,
        "/apis/networking.istio.io/v1/virtualservices"
    );
    assert_eq!(
        requests[0].query.get("labelSelector").map(String::as_str),
        Some("app.kubernetes.io/managed-by=meshcd")
    );
    assert_eq!(setup.fake.objects("virtualservices").len(), 3);
}

#[tokio::test]
async fn a_field_another_manager_changed_is_a_conflict_and_the_object_stays() {
    let setup = Setup::new().await;
    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();
    setup.fake.apply_as(
        "kubectl",
        "virtualservices",
        virtual_service("default", "reviews", 50),
    );
    let before = setup.stored("default", "reviews").unwrap();
    assert_eq!(*weight_of_v1(&before), 50);

    let err = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect_err("a conflict");

    let ClusterError::Conflict { resource, message } = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(resource, "VirtualService/default/reviews");
    assert!(message.contains("\"kubectl\""), "{message}");
    assert!(message.contains(".spec.http"), "{message}");
    assert!(
        !message.contains(".spec.hosts"),
        "same value, no conflict: {message}"
    );
    let text = err.to_string();
    assert!(text.contains("--force-conflicts"), "{text}");
    assert!(text.contains("forceConflicts: true"), "{text}");
    assert!(!err.retryable());
    assert_eq!(setup.stored("default", "reviews").unwrap(), before);
}

#[tokio::test]
async fn every_conflicting_field_is_named() {
    let setup = Setup::new().await;
    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();
    let mut theirs = virtual_service("default", "reviews", 50);
    theirs["spec"]["hosts"] = json!(["reviews.example.com"]);
    setup
        .fake
        .apply_as("istio-operator", "virtualservices", theirs);

    let err = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect_err("conflicts");

    let ClusterError::Conflict { message, .. } = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"istio-operator\":\n- .spec.hosts\n- .spec.http"
    );
}

#[tokio::test]
async fn forcing_conflicts_applies_and_moves_ownership() {
    let setup = Setup::new().await;
    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();
    setup.fake.apply_as(
        "kubectl",
        "virtualservices",
        virtual_service("default", "reviews", 50),
    );
    let forcing = setup.forcing().await;
    setup.fake.clear_requests();

    let answer = forcing
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect("a forced apply");

    assert_eq!(*weight_of_v1(&answer), 90);
    assert_eq!(
        *weight_of_v1(&setup.stored("default", "reviews").unwrap()),
        90
    );
    let patch = setup.fake.requests().pop().unwrap();
    assert_eq!(patch.query.get("force").map(String::as_str), Some("true"));
    let mine = managed_fields_of(&answer, "meshcd").expect("meshcd's entry");
    assert!(mine["fieldsV1"]["f:spec"]["f:http"].is_object(), "{mine}");
    let theirs = managed_fields_of(&answer, "kubectl").expect("kubectl still owns spec.hosts");
    assert!(
        theirs["fieldsV1"]["f:spec"].get("f:http").is_none(),
        "{theirs}"
    );
    assert!(
        theirs["fieldsV1"]["f:spec"]["f:hosts"].is_object(),
        "{theirs}"
    );
    // The plain client applies again without a conflict: meshcd owns spec.http now.
    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect("no conflict once meshcd owns the field");
    assert!(!setup.client.force_conflicts());
    assert!(setup.client.with_force_conflicts(true).force_conflicts());
}

#[tokio::test]
async fn fields_meshcd_no_longer_applies_go_but_other_managers_fields_stay() {
    let setup = Setup::new().await;
    let mut with_gateways = virtual_service("default", "reviews", 90);
    with_gateways["spec"]["gateways"] = json!(["mesh"]);
    setup
        .client
        .apply(Kind::VirtualService, &with_gateways)
        .await
        .unwrap();
    setup.fake.apply_as(
        "kubectl",
        "virtualservices",
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "default", "labels": {"team": "web"}},
        }),
    );

    let answer = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();

    assert!(answer["spec"].get("gateways").is_none(), "{answer}");
    assert_eq!(answer["metadata"]["labels"]["team"], "web");
    assert_eq!(answer["metadata"]["labels"][MANAGED_BY_LABEL], "meshcd");
    assert_eq!(answer["spec"]["hosts"], json!(["reviews"]));
}

#[tokio::test]
async fn delete_removes_and_deleting_what_is_not_there_is_fine() {
    let setup = Setup::new().await;
    setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .unwrap();

    setup
        .client
        .delete(Kind::VirtualService, "default", "reviews")
        .await
        .expect("delete");

    assert!(setup.stored("default", "reviews").is_none());
    let delete = setup.fake.requests().pop().unwrap();
    assert_eq!(
        (delete.method.as_str(), delete.path.as_str()),
        ("DELETE", REVIEWS_PATH)
    );
    assert_eq!(
        setup
            .client
            .get(Kind::VirtualService, "default", "reviews")
            .await,
        Ok(None)
    );
    assert_eq!(
        setup
            .client
            .delete(Kind::VirtualService, "default", "reviews")
            .await,
        Ok(())
    );
}

#[tokio::test]
async fn a_kind_whose_crd_is_missing_is_not_installed_for_get_and_empty_for_list() {
    let setup = Setup::new().await;
    // Another kind of the same group/version is still served: a NotFound Status without details.
    setup.fake.without_kind("virtualservices");

    let err = setup
        .client
        .get(Kind::VirtualService, "default", "reviews")
        .await
        .expect_err("not installed");
    assert!(
        matches!(&err, ClusterError::KindNotInstalled { kind } if kind.contains("VirtualService")),
        "{err:?}"
    );
    assert!(err.to_string().contains("not installed"), "{err}");
    assert!(!err.retryable());
    assert_eq!(
        setup.client.list_managed(Kind::VirtualService).await,
        Ok(Vec::new())
    );
    let err = setup
        .client
        .apply(
            Kind::VirtualService,
            &virtual_service("default", "reviews", 90),
        )
        .await
        .expect_err("not installed");
    assert!(
        matches!(err, ClusterError::KindNotInstalled { .. }),
        "{err:?}"
    );
    assert_eq!(
        setup
            .client
            .delete(Kind::VirtualService, "default", "reviews")
            .await,
        Ok(())
    );

    // The only kind of its group: the API server's plain-text 404 page.
    setup.fake.without_kind("peerauthentications");
    let err = setup
        .client
        .get(Kind::PeerAuthentication, "default", "strict")
        .await
        .expect_err("not installed");
    assert!(
        matches!(err, ClusterError::KindNotInstalled { .. }),
        "{err:?}"
    );
    assert_eq!(
        setup.client.list_managed(Kind::PeerAuthentication).await,
        Ok(Vec::new())
    );

    // Installed kinds still work.
    assert_eq!(
        setup
            .client
            .get(Kind::DestinationRule, "default", "reviews")
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn a_kubeconfig_that_does_not_exist_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-folder").join("kubeconfig");

    let err = ClusterClient::connect(&options(&path))
        .await
        .expect_err("no kubeconfig");

    let ClusterError::Config(message) = &err else {
        panic!("expected a config error, got {err:?}");
    };
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(!err.retryable());
}

#[tokio::test]
async fn an_unknown_context_or_a_broken_kubeconfig_is_a_config_error() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());

    let err = ClusterClient::connect(&ClusterOptions {
        context: Some("prod".into()),
        ..options(&kubeconfig)
    })
    .await
    .expect_err("no such context");
    let ClusterError::Config(message) = &err else {
        panic!("expected a config error, got {err:?}");
    };
    assert!(message.contains("\"prod\""), "{message}");
    assert!(
        message.contains("fake"),
        "names the contexts there are: {message}"
    );

    let client = ClusterClient::connect(&ClusterOptions {
        context: Some("fake".into()),
        ..options(&kubeconfig)
    })
    .await
    .expect("the context that exists");
    assert_eq!(client.default_namespace(), "default");

    let broken: PathBuf = dir.path().join("broken");
    std::fs::write(&broken, "clusters: [this is not: a kubeconfig").unwrap();
    let err = ClusterClient::connect(&options(&broken))
        .await
        .expect_err("broken");
    assert!(
        matches!(&err, ClusterError::Config(m) if m.contains(&broken.display().to_string())),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_401() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = ClusterClient::connect(&options(&fake.kubeconfig_with_token(dir.path(), "wrong")))
        .await
        .unwrap();

    let err = client
        .get(Kind::VirtualService, "default", "reviews")
        .await
        .expect_err("unauthorized");

    assert!(
        matches!(&err, ClusterError::Api { status: 401, resource, .. } if resource == "VirtualService/default/reviews"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("credentials"),
        "{text}"
    );
    assert!(!err.retryable());
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_retryable_transport_error() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = {
        let fake = FakeKube::start().await;
        fake.kubeconfig(dir.path())
    };
    let client = ClusterClient::connect(&options(&kubeconfig)).await.unwrap();

    let err = client
        .get(Kind::VirtualService, "default", "reviews")
        .await
        .expect_err("nothing listens");

    assert!(matches!(err, ClusterError::Transport(_)), "{err:?}");
    assert!(err.retryable());
    assert!(err.to_string().contains(&client.server()), "{err}");
}

#[tokio::test]
async fn documents_that_are_not_the_kind_are_refused_before_sending() {
    let setup = Setup::new().await;
    let mut no_name = virtual_service("default", "reviews", 90);
    no_name["metadata"].as_object_mut().unwrap().remove("name");
    let rule = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews"},
    });

    for (kind, body) in [
        (Kind::VirtualService, no_name),
        (Kind::VirtualService, rule),
    ] {
        let err = setup.client.apply(kind, &body).await.expect_err("invalid");
        assert!(matches!(err, ClusterError::Invalid { .. }), "{err:?}");
    }
    let err = setup
        .client
        .get(Kind::NsHttpRoute, "default", "x")
        .await
        .expect_err("not a cluster kind");
    assert!(
        matches!(err, ClusterError::UnsupportedKind { .. }),
        "{err:?}"
    );
    assert!(setup.fake.requests().is_empty());

    // A document without a namespace goes to the context's namespace.
    let mut bare = virtual_service("default", "reviews", 90);
    bare["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    setup
        .client
        .apply(Kind::VirtualService, &bare)
        .await
        .unwrap();
    assert!(setup.stored("default", "reviews").is_some());
}

#[test]
fn what_is_retryable() {
    let api = |status| ClusterError::Api {
        status,
        resource: "VirtualService/default/reviews".into(),
        message: "x".into(),
    };
    for status in [429, 500, 503, 504] {
        assert!(api(status).retryable(), "{status}");
    }
    for status in [400, 401, 403, 404, 409, 422] {
        assert!(!api(status).retryable(), "{status}");
    }
    assert!(ClusterError::Transport("refused".into()).retryable());
    assert!(!ClusterError::Config("x".into()).retryable());
    assert!(!ClusterError::Conflict {
        resource: "r".into(),
        message: "m".into()
    }
    .retryable());
}

/// The fake answers as the API server does where meshcd's client never goes wrong.
#[tokio::test]
async fn the_fake_server_validates_requests_as_the_api_server_does() {
    let fake = FakeKube::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}{REVIEWS_PATH}", fake.url);
    let apply = |body: Json, token: &str| {
        http.patch(format!("{url}?fieldManager=test"))
            .bearer_auth(token)
            .header("content-type", APPLY_PATCH)
            .body(body.to_string())
            .send()
    };
    let token = fake.token();

    let answer = apply(virtual_service("default", "reviews", 90), "nope")
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let status: Json = answer.json().await.unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("Unauthorized"))
    );

    let other_name = virtual_service("default", "ratings", 90);
    let answer = apply(other_name, &token).await.unwrap();
    assert_eq!(answer.status(), 400);
    let status: Json = answer.json().await.unwrap();
    assert!(status["message"]
        .as_str()
        .unwrap()
        .contains("does not match the name on the URL"));

    let mut other_kind = virtual_service("default", "reviews", 90);
    other_kind["kind"] = json!("DestinationRule");
    assert_eq!(apply(other_kind, &token).await.unwrap().status(), 400);

    let merge = http
        .patch(format!("{url}?fieldManager=test"))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(merge.status(), 415);

    let created = apply(virtual_service("default", "reviews", 90), &token)
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let again = apply(virtual_service("default", "reviews", 90), &token)
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    let missing = http
        .get(format!(
            "{}/apis/example.com/v1/namespaces/default/widgets/a",
            fake.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap().trim(), "404 page not found");

    let absent = http
        .get(format!(
            "{}/apis/networking.istio.io/v1/namespaces/default/virtualservices/x",
            fake.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404);
    let status: Json = absent.json().await.unwrap();
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(status["details"]["name"], "x");
    assert_eq!(fake.requests().len(), 8);
}
