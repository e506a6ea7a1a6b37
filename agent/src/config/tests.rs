//! Tests of loading `meshcd.yaml`: defaults, the samples, and where each problem is reported.

use std::path::Path;
use std::time::Duration;

use chrono::FixedOffset;

use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcd.yaml");
    std::fs::write(&path, text).unwrap();
    load_config(&path)
}

fn issues(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors"),
        Err(ConfigError::Invalid { issues }) => issues
            .iter()
            .map(|i| format!("{}: {}", i.location.pos, i.message))
            .collect(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let config = load("repo: https://example.com/routes.git\n").unwrap();
    assert_eq!(config.poll_interval, Some(DEFAULT_POLL_INTERVAL));
    assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.retry.initial, Duration::from_secs(1));
    assert_eq!(config.retry.max, Duration::from_secs(300));
    assert!(config.watch && !config.self_heal);
    assert!(config.schedules.is_empty() && config.target.is_none());
}

#[test]
fn the_sample_of_the_design_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("github-secret"), "s3cret\n").unwrap();
    let text = "\
repo: ./routes
rev: main
path: \"\"
pollInterval: 30s
watch: true
selfHeal: true
server: {listen: \"127.0.0.1:0\"}
webhook: {githubSecretFile: github-secret, branch: main}
schedules: [{name: nightly-resync, cron: \"0 0 3 * * *\", timezone: UTC}]
retry: {initial: 1s, max: 5m}
stateDir: state
target:
  envoy: {manage: true, binary: null, adminPort: 9901, httpPort: 10000}
";
    let path = dir.path().join("meshcd.yaml");
    std::fs::write(&path, text).unwrap();
    let config = load_config(&path).unwrap();
    assert!(config.repo.ends_with("/routes") && Path::new(&config.repo).is_absolute());
    let secret = config.webhook.github_secret.as_ref().unwrap();
    assert_eq!(
        secret.expose(),
        b"s3cret",
        "the line break is not part of the secret"
    );
    assert_eq!(
        format!("{:?}", config.webhook.github_secret),
        "Some(Secret(<redacted>))"
    );
    let Some(TargetConfig::Envoy(envoy)) = config.target else {
        panic!("not envoy: {:?}", config.target)
    };
    assert!(envoy.work_dir.ends_with("state/envoy"));
    let next = config.schedules[0]
        .next_after("2024-05-01T10:00:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(next.to_rfc3339(), "2024-05-02T03:00:00+00:00");
}

#[test]
fn unknown_fields_and_bad_types_point_at_their_place() {
    assert_eq!(
        issues("repo: x\npollIntervall: 30s\n")[0]
            .split(", expected")
            .next()
            .unwrap(),
        "2:1: `pollIntervall`: unknown field `pollIntervall`"
    );
    assert_eq!(
        issues("repo: x\nserver:\n  listen: [1]\n"),
        ["3:11: `server.listen`: invalid type: sequence, expected a string"]
    );
    assert_eq!(issues("rev: main\n"), ["1:1: missing field `repo`"]);
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let found = issues(
        "repo: x\npollInterval: 30 parsecs\nretry: {initial: 0s}\nserver: {listen: nowhere}\n\
         schedules:\n- name: a\n  cron: \"0 3 * * *\"\n- name: b\n  cron: \"0 0 3 * * *\"\n  timezone: Mars/Olympus\n",
    );
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(
        found[0].starts_with("2:15: `pollInterval`: invalid duration `30 parsecs`"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("3:18: `retry.initial`: must be more than 0s"),
        "{}",
        found[1]
    );
    assert!(
        found[2].starts_with("4:18: `server.listen`"),
        "{}",
        found[2]
    );
    assert!(
        found[3].starts_with("7:9: `schedules[0].cron`: cron expression `0 3 * * *` has 5 fields"),
        "{}",
        found[3]
    );
    assert!(
        found[4].starts_with("10:13: `schedules[1].timezone`: unknown timezone"),
        "{}",
        found[4]
    );
}

#[test]
fn secrets_must_be_readable_and_are_never_shown() {
    let found = issues("repo: x\nwebhook:\n  gitlabTokenEnv: MESHCD_TEST_SURELY_UNSET_VAR\n  githubSecretFile: /nonexistent/secret\n");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("3:19: `webhook.gitlabTokenEnv`: environment variable"));
    assert!(
        found[1].starts_with("4:21: `webhook.githubSecretFile`: cannot read /nonexistent/secret")
    );
}

#[test]
fn yaml_errors_and_empty_files_are_reported() {
    assert_eq!(
        issues(""),
        ["1:1: the file is empty: expected a mapping with at least `repo`"]
    );
    let syntax = issues("repo: [x\n");
    assert_eq!(syntax.len(), 1, "{syntax:?}");
    let duplicate = issues("repo: a\nrepo: b\n");
    assert!(
        duplicate[0].starts_with("2:1") && duplicate[0].contains("repo"),
        "{duplicate:?}"
    );
    assert_eq!(
        issues("repo: a\n---\nrepo: b\n"),
        ["3:1: only one YAML document is expected"]
    );
}

#[test]
fn the_deploy_sample_has_no_mistakes() {
    // Only its secrets (absent here) may be missing.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/meshcd.yaml");
    match load_config(&path) {
        Ok(_) => {}
        Err(ConfigError::Invalid { issues }) => {
            for issue in issues {
                assert!(issue.message.starts_with("`webhook."), "{issue}");
            }
        }
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn timezones_and_cron_expressions() {
    assert_eq!("UTC".parse::<Timezone>(), Ok(Timezone::Utc));
    assert_eq!("Local".parse::<Timezone>(), Ok(Timezone::Local));
    let plus2 = FixedOffset::east_opt(7200).unwrap();
    assert_eq!("+02:00".parse::<Timezone>(), Ok(Timezone::Fixed(plus2)));
    assert_eq!("UTC+2".parse::<Timezone>(), Ok(Timezone::Fixed(plus2)));
    assert_eq!(
        "-0530".parse::<Timezone>(),
        Ok(Timezone::Fixed(
            FixedOffset::west_opt(5 * 3600 + 1800).unwrap()
        ))
    );
    assert!("Europe/Paris".parse::<Timezone>().is_err());
    assert!("+25:00".parse::<Timezone>().is_err());
    assert!(parse_cron("0 0 3 * * *").is_ok());
    assert!(parse_cron("@daily").is_ok());
    assert!(parse_cron("0 0 3 * *").is_err());
    assert!(parse_cron("0 0 25 * * *").is_err());
    let schedule = ScheduleConfig {
        name: "n".into(),
        cron: parse_cron("0 0 3 * * *").unwrap(),
        timezone: Timezone::Fixed(plus2),
    };
    let next = schedule
        .next_after("2024-05-01T10:00:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(next.to_rfc3339(), "2024-05-02T01:00:00+00:00");
}

#[test]
fn envoy_backends_take_host_and_port() {
    let config = load(
        "repo: .\ntarget:\n  envoy:\n    backends:\n      target: [\"127.0.0.1:18081\", \"[::1]:18082\"]\n",
    )
    .unwrap();
    let Some(TargetConfig::Envoy(envoy)) = config.target else {
        panic!("not envoy: {:?}", config.target)
    };
    assert_eq!(envoy.backends["target"].len(), 2);
    let problems =
        issues("repo: .\ntarget:\n  envoy:\n    backends:\n      target: [\"127.0.0.1\"]\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("target.envoy.backends.target[0]") || problems[0].contains(":5:"),
        "{problems:?}"
    );
    assert!(problems[0].contains("must be `host:port`"), "{problems:?}");
}

#[test]
fn envoy_delivery_and_the_xds_server() {
    let config = load(
        "repo: .\ntarget:\n  envoy:\n    delivery: ads\n    xds:\n      listen: 0.0.0.0:18000\n      tls: {cert: s.pem, key: s.key, clientCa: ca.pem}\n      admit: [\"spiffe://mesh/envoy/*\"]\n      ackTimeout: 2s\n      fleets:\n        edge: {routes: [\"store/*\"]}\n",
    )
    .unwrap();
    let Some(TargetConfig::Envoy(envoy)) = config.target else {
        panic!("not envoy: {:?}", config.target)
    };
    assert_eq!(envoy.delivery, EnvoyDelivery::Ads);
    assert_eq!(envoy.xds.listen.map(|a| a.port()), Some(18000));
    assert!(envoy
        .xds
        .tls
        .as_ref()
        .is_some_and(|t| t.client_ca.is_absolute()));
    assert_eq!(envoy.xds.ack_timeout, Duration::from_secs(2));
    assert_eq!(envoy.xds.fleets["edge"], vec!["store/*".to_string()]);
    let default = load("repo: .\ntarget:\n  envoy: {}\n").unwrap();
    let Some(TargetConfig::Envoy(envoy)) = default.target else {
        panic!("not envoy")
    };
    assert_eq!(envoy.delivery, EnvoyDelivery::Files);
    assert_eq!(envoy.tls_port, 443);
    let problems = issues("repo: .\ntarget:\n  envoy: {httpPort: 8443, tlsPort: 8443}\n");
    assert!(
        problems
            .join("\n")
            .contains("`target.envoy.tlsPort`: must differ"),
        "{problems:?}"
    );

    let problems = issues(
        "repo: .\ntarget:\n  envoy:\n    delivery: grpc\n    xds:\n      listen: 0.0.0.0:18000\n      fleets:\n        meshcd: {routes: [\"*\"]}\n",
    );
    let all = problems.join("\n");
    assert!(all.contains("`grpc` is not a delivery"), "{all}");
    assert!(all.contains("needs `delivery: ads`"), "{all}");
    assert!(all.contains("Envoys connect with mTLS"), "{all}");
    assert!(all.contains("local managed Envoy's fleet"), "{all}");
    let problems = issues(
        "repo: .\ntarget:\n  envoy:\n    delivery: ads\n    xds:\n      listen: 127.0.0.1:18000\n      tls: {cert: s.pem, key: s.key, clientCa: ca.pem}\n",
    );
    assert!(
        problems
            .join("\n")
            .contains("name the client certificate identities"),
        "{problems:?}"
    );
}

#[test]
fn cloud_and_cluster_targets_get_their_defaults() {
    let config = load("repo: r\ntarget:\n  gcp:\n    project: my-project\n").unwrap();
    assert_eq!(
        config.target.as_ref().map(TargetConfig::kind),
        Some(TargetKind::Gcp)
    );
    let Some(TargetConfig::Gcp(gcp)) = config.target else {
        panic!("not gcp: {:?}", config.target)
    };
    assert_eq!(gcp.location, "global");
    assert_eq!(gcp.endpoint, "https://networkservices.googleapis.com");
    assert_eq!(gcp.auth, GcpAuthConfig::Metadata { host: None });
    assert!(!gcp.prune);
    assert_eq!(gcp.requests_per_second, 10);
    assert_eq!(gcp.operation_timeout, Duration::from_secs(600));
    let config = load("repo: r\ntarget:\n  gcp:\n    project: p\n    auth: {accessTokenEnv: TOKEN}\n    operationTimeout: 2m\n").unwrap();
    let Some(TargetConfig::Gcp(gcp)) = config.target else {
        panic!("not gcp: {:?}", config.target)
    };
    assert_eq!(
        gcp.auth,
        GcpAuthConfig::AccessTokenEnv {
            variable: "TOKEN".into()
        }
    );
    assert_eq!(gcp.operation_timeout, Duration::from_secs(120));

    let config = load("repo: r\ntarget:\n  kubernetes: {}\n").unwrap();
    let Some(TargetConfig::Kubernetes(kubernetes)) = config.target else {
        panic!("not kubernetes: {:?}", config.target)
    };
    assert_eq!(kubernetes.field_manager, "meshcd");
    assert!(!kubernetes.force_conflicts && !kubernetes.prune && kubernetes.kubeconfig.is_none());

    let config = load("repo: r\ntarget:\n  render: {dir: out}\n").unwrap();
    let Some(TargetConfig::Render(render)) = config.target else {
        panic!("not render: {:?}", config.target)
    };
    assert!(
        render.dir.is_absolute() && render.dir.ends_with("out"),
        "{render:?}"
    );
}

#[test]
fn target_problems_are_reported_where_they_are() {
    assert_eq!(
        issues("repo: r\ntarget:\n  envoy: {}\n  render: {dir: out}\n"),
        vec!["3:3: `target`: set one target: `envoy`, `gcp`, `kubernetes` or `render` (run one meshcd per target)"]
    );
    let found = issues("repo: r\ntarget:\n  gcp:\n    location: global\n    auth: {accessTokenEnv: T, serviceAccountKeyFile: k.json}\n    operationTimeout: soon\n");
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with("4:5: `target.gcp`: needs `project`"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("5:11: `target.gcp.auth`: set one of"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("6:23: `target.gcp.operationTimeout`"),
        "{found:#?}"
    );
    let found = issues("repo: r\ntarget:\n  render: {}\n");
    assert!(
        found[0].contains("`target.render`: needs `dir`"),
        "{found:#?}"
    );
    let found = issues("repo: r\ntarget:\n  kubernetes: {kubeconfig: k, surprise: 1}\n");
    assert!(found[0].contains("surprise"), "{found:#?}");
}
