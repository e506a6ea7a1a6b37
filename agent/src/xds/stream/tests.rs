//! The stream's protocol rules, exercised request by request.

use std::collections::HashMap;

use envoy_types::pb::google::rpc::Status;

use super::*;
use crate::xds::snapshot::test_config;

fn snapshot(version: u64, weight: u32) -> Arc<Snapshot> {
    Arc::new(Snapshot::build(&test_config(weight), version, None).expect("builds"))
}

fn request(kind: ResourceType) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: kind.type_url().to_string(),
        ..Default::default()
    }
}

fn subscribe(kind: ResourceType, names: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        resource_names_subscribe: names.iter().map(|n| n.to_string()).collect(),
        ..request(kind)
    }
}

fn ack(response: &DeltaDiscoveryResponse) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: response.type_url.clone(),
        response_nonce: response.nonce.clone(),
        ..Default::default()
    }
}

fn nack(response: &DeltaDiscoveryResponse, message: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        error_detail: Some(Status {
            code: 3,
            message: message.to_string(),
            details: vec![],
        }),
        ..ack(response)
    }
}

fn names(response: &DeltaDiscoveryResponse) -> Vec<&str> {
    response.resources.iter().map(|r| r.name.as_str()).collect()
}

fn kind(response: &DeltaDiscoveryResponse) -> ResourceType {
    ResourceType::from_type_url(&response.type_url).expect("a type meshcd serves")
}

/// Acks every response until the stream goes quiet; returns (types sent in order, events).
fn drain(stream: &mut StreamState) -> (Vec<ResourceType>, Vec<Event>) {
    let mut sent = Vec::new();
    let mut events = Vec::new();
    for _ in 0..20 {
        let (response, event) = stream.next_response();
        events.extend(event);
        match response {
            Some(response) => {
                sent.push(kind(&response));
                if kind(&response) == ResourceType::Listener
                    && !stream.subs[ResourceType::RouteConfiguration as usize].seen
                {
                    // Envoy asks for the listener's route configuration once it has the listener.
                    stream.on_request(&subscribe(
                        ResourceType::RouteConfiguration,
                        &["meshcd_http"],
                    ));
                }
                events.extend(stream.on_request(&ack(&response)));
            }
            None => return (sent, events),
        }
    }
    panic!("the stream never went quiet: {sent:?}");
}

fn connected(snapshot: Arc<Snapshot>) -> StreamState {
    let mut stream = StreamState::new();
    stream.set_snapshot(snapshot, true);
    stream.on_request(&request(ResourceType::Cluster));
    stream.on_request(&request(ResourceType::Listener));
    stream
}

#[test]
fn a_new_envoy_gets_clusters_then_listeners_then_routes_and_is_live() {
    let mut stream = connected(snapshot(1, 90));
    let (sent, events) = drain(&mut stream);
    use ResourceType::*;
    assert_eq!(sent, vec![Cluster, Listener, RouteConfiguration]);
    assert_eq!(events, vec![Event::Live(1)]);
    assert_eq!(stream.live(), Some(1));
    assert_eq!(stream.held(Cluster).len(), 2);
}

#[test]
fn a_weight_change_sends_only_the_route_configuration() {
    let mut stream = connected(snapshot(1, 90));
    drain(&mut stream);
    stream.set_snapshot(snapshot(2, 50), true);
    let (response, _) = stream.next_response();
    let response = response.expect("a response");
    assert_eq!(kind(&response), ResourceType::RouteConfiguration);
    assert_eq!(names(&response), vec!["meshcd_http"]);
    assert_eq!(response.system_version_info, "2");
    assert_eq!(stream.on_request(&ack(&response)), None);
    assert_eq!(stream.next_response(), (None, Some(Event::Live(2))));
    // The same content again under a new version sends nothing but is live at once.
    stream.set_snapshot(snapshot(3, 50), true);
    assert_eq!(stream.next_response(), (None, Some(Event::Live(3))));
}

#[test]
fn only_one_response_is_in_flight_and_stale_nonces_are_ignored() {
    let mut stream = connected(snapshot(1, 90));
    let (first, _) = stream.next_response();
    let first = first.expect("clusters");
    assert_eq!(stream.next_response(), (None, None), "sent before the ack");
    let stale = DeltaDiscoveryRequest {
        response_nonce: "999".into(),
        ..request(ResourceType::Cluster)
    };
    assert_eq!(stream.on_request(&stale), None);
    assert_eq!(
        stream.next_response(),
        (None, None),
        "a stale nonce is no ack"
    );
    stream.on_request(&ack(&first));
    assert!(stream.next_response().0.is_some());
}

#[test]
fn clusters_no_longer_used_go_after_the_routes_that_used_them() {
    let mut stream = connected(snapshot(1, 90));
    drain(&mut stream);
    let mut config = test_config(100);
    config.clusters.remove("b");
    if let Some(clusters) = config
        .route_config
        .pointer_mut("/virtual_hosts/0/routes/0/route/weighted_clusters/clusters")
        .and_then(serde_json::Value::as_array_mut)
    {
        clusters.pop();
    }
    let mut c = config.clone();
    c.clusters.insert(
        "c".into(),
        serde_json::json!({"@type": ResourceType::Cluster.type_url(), "name": "c",
            "connect_timeout": "1s", "type": "STATIC"}),
    );
    stream.set_snapshot(
        Arc::new(Snapshot::build(&c, 2, None).expect("builds")),
        true,
    );
    let mut order = Vec::new();
    for _ in 0..5 {
        let (response, _) = stream.next_response();
        let Some(response) = response else { break };
        order.push((
            kind(&response),
            names(&response).join(","),
            response.removed_resources.join(","),
        ));
        stream.on_request(&ack(&response));
    }
    use ResourceType::*;
    assert_eq!(
        order,
        vec![
            (Cluster, "c".to_string(), String::new()),
            (RouteConfiguration, "meshcd_http".to_string(), String::new()),
            (Cluster, String::new(), "b".to_string()),
        ]
    );
    assert_eq!(stream.live(), Some(2));
}

#[test]
fn a_nack_stops_the_snapshot_and_the_revert_is_sent_again() {
    let mut stream = connected(snapshot(1, 90));
    drain(&mut stream);
    stream.set_snapshot(snapshot(2, 50), true);
    let (response, _) = stream.next_response();
    let response = response.expect("routes");
    let event = stream.on_request(&nack(&response, "weights do not add up"));
    let expected = Nack {
        version: 2,
        kind: ResourceType::RouteConfiguration,
        message: "weights do not add up".into(),
    };
    assert_eq!(event, Some(Event::Nacked(expected.clone())));
    assert_eq!(stream.nack(), Some(&expected));
    assert_eq!(
        stream.next_response(),
        (None, None),
        "nothing more of a rejected snapshot"
    );
    assert_eq!(stream.live(), Some(1));
    // The engine reverts: the old routes go out again (Envoy's copy counts as unknown).
    stream.set_snapshot(snapshot(3, 90), true);
    let (again, _) = stream.next_response();
    assert_eq!(
        again.as_ref().map(kind),
        Some(ResourceType::RouteConfiguration)
    );
    stream.on_request(&ack(&again.expect("routes")));
    assert_eq!(stream.next_response(), (None, Some(Event::Live(3))));
}

#[test]
fn a_reconnecting_envoy_that_holds_the_snapshot_gets_nothing() {
    let served = snapshot(1, 90);
    let versions = |kind: ResourceType| -> HashMap<String, String> {
        served
            .resources(kind)
            .iter()
            .map(|(n, e)| (n.clone(), e.version.clone()))
            .collect()
    };
    let mut stream = StreamState::new();
    stream.set_snapshot(snapshot(7, 90), false);
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        stream.on_request(&DeltaDiscoveryRequest {
            initial_resource_versions: versions(kind),
            ..request(kind)
        });
    }
    stream.on_request(&DeltaDiscoveryRequest {
        initial_resource_versions: versions(ResourceType::RouteConfiguration),
        ..subscribe(ResourceType::RouteConfiguration, &["meshcd_http"])
    });
    // Each type gets its initial answer, empty: nothing is sent again.
    for _ in 0..3 {
        let (response, _) = stream.next_response();
        let response = response.expect("an initial answer");
        assert!(response.resources.is_empty(), "{:?}", names(&response));
        assert!(response.removed_resources.is_empty());
        stream.on_request(&ack(&response));
    }
    assert_eq!(stream.next_response(), (None, Some(Event::Live(7))));
}

#[test]
fn an_empty_snapshot_still_answers_each_requested_type_once() {
    let mut stream = StreamState::new();
    stream.set_snapshot(Arc::new(Snapshot::default()), false);
    stream.on_request(&request(ResourceType::Cluster));
    stream.on_request(&request(ResourceType::Listener));
    let (sent, events) = drain(&mut stream);
    use ResourceType::*;
    assert_eq!(sent, vec![Cluster, Listener, RouteConfiguration]);
    assert_eq!(events, vec![Event::Live(0)]);
    assert_eq!(stream.next_response(), (None, None));
}

#[test]
fn a_seeded_snapshot_removes_nothing_an_envoy_holds() {
    let mut stream = StreamState::new();
    stream.set_snapshot(Arc::new(Snapshot::default()), false);
    let held: HashMap<String, String> = [("old".to_string(), "v1".to_string())].into();
    stream.on_request(&DeltaDiscoveryRequest {
        initial_resource_versions: held.clone(),
        ..request(ResourceType::Cluster)
    });
    let (first, _) = stream.next_response();
    let first = first.expect("the initial answer");
    assert!(first.resources.is_empty() && first.removed_resources.is_empty());
    stream.on_request(&ack(&first));
    assert_eq!(stream.next_response().0, None);
    // Once the engine publishes, what it no longer wants goes.
    stream.set_snapshot(Arc::new(Snapshot::default().with_version(2)), true);
    let (response, _) = stream.next_response();
    assert_eq!(
        response.map(|r| r.removed_resources),
        Some(vec!["old".to_string()])
    );
}

#[test]
fn requests_of_other_types_and_unsubscribes_are_handled() {
    let mut stream = connected(snapshot(1, 90));
    drain(&mut stream);
    let secrets = DeltaDiscoveryRequest {
        type_url: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret".into(),
        ..Default::default()
    };
    assert_eq!(stream.on_request(&secrets), None);
    stream.on_request(&DeltaDiscoveryRequest {
        resource_names_unsubscribe: vec!["meshcd_http".into()],
        ..request(ResourceType::RouteConfiguration)
    });
    assert!(stream.held(ResourceType::RouteConfiguration).is_empty());
    stream.set_snapshot(snapshot(2, 40), true);
    assert_eq!(
        stream.next_response(),
        (None, None),
        "unsubscribed routes are not sent"
    );
}

mod properties {
    //! Any sequence of requests an Envoy (or anything speaking the protocol) may send: the
    //! stream never panics, keeps one response in flight, never removes what an Envoy holds
    //! while its snapshot is seeded, and reports live only what it sent in full.

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Request {
            kind: usize,
            subscribe: Vec<String>,
            unsubscribe: Vec<String>,
            initial: Vec<(String, String)>,
        },
        Ack,
        Nack,
        StaleNonce,
        Snapshot {
            weight: u32,
            authoritative: bool,
        },
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_string()),
            Just("meshcd_http".to_string()),
            Just("a".to_string()),
            Just("b".to_string()),
            "[a-z]{0,4}",
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (
                0usize..4,
                proptest::collection::vec(name(), 0..3),
                proptest::collection::vec(name(), 0..2),
                proptest::collection::vec((name(), "[0-9a-f]{0,4}"), 0..3),
            )
                .prop_map(|(kind, subscribe, unsubscribe, initial)| Step::Request {
                    kind,
                    subscribe,
                    unsubscribe,
                    initial,
                }),
            Just(Step::Ack),
            Just(Step::Nack),
            Just(Step::StaleNonce),
            (0u32..=100, any::<bool>()).prop_map(|(weight, authoritative)| Step::Snapshot {
                weight,
                authoritative
            }),
        ]
    }

    const URLS: [&str; 4] = [
        meshcd_core::envoy::CLUSTER_TYPE,
        meshcd_core::envoy::LISTENER_TYPE,
        meshcd_core::envoy::ROUTE_CONFIG_TYPE,
        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_request_sequence_keeps_the_rules(steps in proptest::collection::vec(step(), 1..40)) {
            let mut stream = StreamState::new();
            let mut version = 0;
            let mut authoritative = false;
            let mut last: Option<DeltaDiscoveryResponse> = None;
            for step in steps {
                match step {
                    Step::Request { kind, subscribe, unsubscribe, initial } => {
                        stream.on_request(&DeltaDiscoveryRequest {
                            type_url: URLS[kind].to_string(),
                            resource_names_subscribe: subscribe,
                            resource_names_unsubscribe: unsubscribe,
                            initial_resource_versions: initial.into_iter().collect(),
                            ..Default::default()
                        });
                    }
                    Step::Ack => {
                        if let Some(response) = last.take() {
                            stream.on_request(&ack(&response));
                        }
                    }
                    Step::Nack => {
                        if let Some(response) = last.take() {
                            let event = stream.on_request(&nack(&response, "no"));
                            prop_assert!(matches!(event, Some(Event::Nacked(_))));
                        }
                    }
                    Step::StaleNonce => {
                        let stale = DeltaDiscoveryRequest {
                            response_nonce: "stale".into(),
                            ..request(ResourceType::Cluster)
                        };
                        prop_assert_eq!(stream.on_request(&stale), None);
                    }
                    Step::Snapshot { weight, authoritative: a } => {
                        version += 1;
                        authoritative = a;
                        stream.set_snapshot(snapshot(version, weight), a);
                    }
                }
                let (response, event) = stream.next_response();
                if let Some(Event::Live(live)) = event {
                    prop_assert_eq!(live, version, "live is the current snapshot");
                }
                if let Some(response) = response {
                    prop_assert!(last.is_none(), "two responses in flight");
                    if !authoritative {
                        prop_assert!(response.removed_resources.is_empty(), "a seeded snapshot removed {:?}", response.removed_resources);
                    }
                    prop_assert_eq!(stream.next_response().0, None, "a second response before the answer");
                    last = Some(response);
                }
            }
        }
    }
}
