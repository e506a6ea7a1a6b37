//! End-to-end tests of `meshcd report` (and `meshcd plan --format markdown`): the pull-request
//! report of a head revision against a base, snapshot-tested, and its split into comments that
//! each fit the limit without breaking a code fence or a `<details>` section.

use crate::common::{filters, meshcd, TestRepo};

const NS_ROUTE: &str = "\
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: target-route
hostnames:
- target.meshapps.internal
meshes:
- projects/my-project/locations/global/meshes/mesh
rules:
- action:
    destinations:
    - serviceName: projects/my-project/locations/global/backendServices/target
";

const BACKENDS: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: target
spec:
  endpoints: [{address: 127.0.0.1, port: 18081}]
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: reviews
spec:
  aliases: [reviews.shop.svc.cluster.local]
  endpoints: [{address: 127.0.0.1, port: 18082}]
";

const ISTIO_ROUTE: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews.shop.svc.cluster.local, subset: v1}
      weight: 90
    - destination: {host: reviews.shop.svc.cluster.local, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews.shop.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
";

const GATEWAY_ROUTE: &str = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: store
  namespace: store
spec:
  hostnames: [store.example.internal]
  rules:
  - backendRefs:
    - {name: store, port: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: store
  namespace: store
spec:
  ports: [{name: http, port: 8080}]
";

const ROLLOUT_POLICY: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: reviews-canary
spec:
  selector:
    hostnames: [reviews.shop.svc.cluster.local]
  steps: [25, 50, 75]
  bakeTime: 5m
  analysis:
    provider: prometheus
    address: http://prometheus.monitoring:9090
    minRequests: 200
    successRate: {min: 99.5}
    latencyP99: {max: 250ms}
    latency:
    - {percentile: 95, max: 120ms}
    queries:
    - name: error-budget
      query: sum(rate(app_errors_total{backend=\"{{canary}}\"}[{{window}}]))
      max: 0.5
    compare: {alpha: 0.01}
  onFailure: rollback
  onInconclusive: pause
  hooks:
    preStep:
    - name: notify-oncall
      url: https://hooks.example.com/oncall
";

/// An Istio weight of -5: a policy error (MC101), though the file loads.
const BAD_WEIGHTS: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ads
  namespace: ads
spec:
  hosts: [ads.ads.svc.cluster.local]
  http:
  - route:
    - destination: {host: ads.ads.svc.cluster.local}
      weight: -5
    - destination: {host: ads.ads.svc.cluster.local}
      weight: 105
";

/// A repository whose `base` branch holds the networkservices and Istio routes.
fn base_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("routes/target-route.yaml", NS_ROUTE)
        .write("routes/reviews.yaml", ISTIO_ROUTE)
        .write("meshcd/backends.yaml", BACKENDS);
    repo.commit("base routes");
    repo.branch("base");
    repo
}

fn settings(repo: &TestRepo) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in filters(repo.path()) {
        settings.add_filter(&pattern, replacement);
    }
    settings
}

fn report(repo: &TestRepo, extra: &[&str]) -> crate::common::Run {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec![
        "report",
        "--repo",
        repo.path().to_str().unwrap(),
        "--base",
        "base",
    ];
    args.extend(extra);
    meshcd(&args, cache.path())
}

/// What is open at the end of a comment: a fence, and how many `<details>` deep.
fn open_at_end(comment: &str) -> (Option<String>, i64) {
    let mut fence: Option<String> = None;
    let mut details = 0i64;
    for line in comment.lines() {
        let trimmed = line.trim();
        match &fence {
            Some(open) => {
                if trimmed.len() >= open.len() && trimmed.chars().all(|c| c == '`') {
                    fence = None;
                }
            }
            None => {
                let run = trimmed.chars().take_while(|c| *c == '`').count();
                if run >= 3 {
                    fence = Some("`".repeat(run));
                } else if trimmed.starts_with("<details") {
                    details += 1;
                } else if trimmed.starts_with("</details>") {
                    details -= 1;
                    assert!(details >= 0, "</details> without <details>:\n{comment}");
                }
            }
        }
    }
    (fence, details)
}

fn assert_balanced(comment: &str) {
    let (fence, details) = open_at_end(comment);
    assert!(fence.is_none(), "a code fence is left open:\n{comment}");
    assert_eq!(details, 0, "a <details> is left open:\n{comment}");
}

#[test]
fn small_change() {
    let repo = base_repo();
    repo.write(
        "routes/target-route.yaml",
        &NS_ROUTE.replace(
            "- target.meshapps.internal\n",
            "- target.meshapps.internal\n- target.example.com\n",
        ),
    )
    .write("routes/store.yaml", GATEWAY_ROUTE)
    .remove("routes/reviews.yaml");
    repo.commit("store route, second hostname, drop reviews");
    let run = report(&repo, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .starts_with("### ✅ 5 changes, no policy errors\n"));
    assert_balanced(&run.stdout);
    settings(&repo).bind(|| insta::assert_snapshot!("small_change", run.stdout));

    // `plan --format markdown` is the same report.
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let plan = meshcd(
        &[
            "plan", "--repo", path, "--base", "base", "--format", "markdown",
        ],
        cache.path(),
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.stdout, run.stdout);
    let detailed = meshcd(
        &[
            "plan",
            "--repo",
            path,
            "--base",
            "base",
            "--format",
            "markdown",
            "--detailed-exitcode",
        ],
        cache.path(),
    );
    assert_eq!(detailed.code, 2, "changes present");
}

#[test]
fn no_changes() {
    let repo = base_repo();
    let cache = tempfile::tempdir().unwrap();
    let run = meshcd(
        &[
            "report",
            "--repo",
            repo.path().to_str().unwrap(),
            "--base",
            "HEAD",
        ],
        cache.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("### ✅ No changes, no policy errors\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("### Changes"), "{}", run.stdout);
}

#[test]
fn rollout_with_its_chart_and_analysis() {
    let repo = base_repo();
    repo.write(
        "routes/reviews.yaml",
        &ISTIO_ROUTE
            .replace("weight: 90", "weight: 0")
            .replace("weight: 10\n", "weight: 100\n"),
    )
    .write("meshcd/rollout-policy.yaml", ROLLOUT_POLICY);
    repo.commit("promote reviews v2");
    let run = report(&repo, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("### ✅ 1 change, 1 rollout, no policy errors\n"),
        "{}",
        run.stdout
    );
    let chart_start = run
        .stdout
        .find("```mermaid\nflowchart LR\n")
        .expect("chart");
    let chart = &run.stdout[chart_start..];
    for expected in [
        "s1[\"step 1<br/><b>reviews.shop.svc.cluster.local/v2 25%</b><br/>reviews.shop.svc.cluster.local/v1 75%\"]",
        "s3 -->|\"5m bake, healthy\"| s4",
        "s1 & s2 & s3 & s4 -.->|\"failure: rollback\"| s0",
    ] {
        assert!(chart.contains(expected), "{expected} missing:\n{chart}");
    }
    assert_balanced(&run.stdout);
    settings(&repo).bind(|| insta::assert_snapshot!("rollout", run.stdout));
}

#[test]
fn policy_failures_link_to_the_head_commit() {
    let repo = base_repo();
    repo.repo
        .remote("origin", "git@github.com:acme/routes.git")
        .unwrap();
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    let head = repo.commit("ads route with bad weights");
    let run = report(&repo, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("### ❌ 1 policy error blocks this change\n"),
        "{}",
        run.stdout
    );
    let link = format!("(https://github.com/acme/routes/blob/{head}/routes/ads.yaml#L11)");
    assert!(
        run.stdout.contains(&link),
        "{link} missing:\n{}",
        run.stdout
    );
    settings(&repo).bind(|| insta::assert_snapshot!("policy_failures", run.stdout));

    // An explicit address wins, with GitLab's layout.
    let gitlab = report(
        &repo,
        &["--repo-url", "https://gitlab.example.com/acme/routes"],
    );
    assert_eq!(gitlab.code, 1);
    let link =
        format!("(https://gitlab.example.com/acme/routes/-/blob/{head}/routes/ads.yaml#L11)");
    assert!(gitlab.stdout.contains(&link), "{}", gitlab.stdout);

    let bad = report(&repo, &["--repo-url", "not a url"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.starts_with("error: --repo-url"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_head_that_fails_to_load_is_not_planned() {
    let repo = base_repo();
    repo.write("routes/target-route.yaml", "hostnames: [a\n");
    repo.commit("broken");
    let run = report(&repo, &["--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["summary"]["planned"], false);
    let first = doc["comments"][0].as_str().unwrap();
    assert!(first.contains("**No plan:**"), "{first}");
    assert!(
        !first.contains("### Changes"),
        "a broken file must not turn into deletions: {first}"
    );
    assert!(first.contains("`MC001`"), "{first}");
}

#[test]
fn machine_formats() {
    let repo = base_repo();
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    repo.commit("bad weights");

    let json = report(&repo, &["--format", "json"]);
    assert_eq!(json.code, 1);
    let doc = json.json();
    assert_eq!(doc["verdict"], "❌ 1 policy error blocks this change");
    let total = &doc["summary"]["total"];
    assert_eq!(
        (total["created"].as_u64(), total["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let families: Vec<&str> = doc["summary"]["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["family"].as_str().unwrap())
        .collect();
    assert_eq!(families, ["istio"]);
    assert_eq!(doc["comments"].as_array().unwrap().len(), 1);

    let sarif = report(&repo, &["--format", "sarif"]);
    assert_eq!(sarif.code, 1);
    let sarif = sarif.json();
    assert_eq!(sarif["version"], "2.1.0");
    let negative = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "MC101")
        .expect("MC101");
    let location = &negative["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "routes/ads.yaml");
    assert_eq!(location["region"]["startLine"], 11);

    let github = report(&repo, &["--format", "github"]);
    assert_eq!(github.code, 1);
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::error file=routes/ads.yaml,line=11,col=15,title=MC101")),
        "{}",
        github.stdout
    );
}

/// A Gateway API route with `rules` backend references, about 1 KB of canonical YAML.
fn gateway_route(i: usize) -> String {
    let mut text = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: app-{i:03}\n  \
         namespace: apps\nspec:\n  hostnames: [app-{i:03}.example.internal]\n  rules:\n"
    );
    for path in ["/api", "/static", "/admin", "/health", "/"] {
        text.push_str(&format!(
            "  - matches:\n    - path: {{type: PathPrefix, value: {path}}}\n    backendRefs:\n    \
             - {{name: app-{i:03}, port: 8080}}\n"
        ));
    }
    text.push_str(&format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i:03}\n  namespace: apps\n\
         spec:\n  ports: [{{name: http, port: 8080}}]\n"
    ));
    text
}

#[test]
fn a_large_change_splits_into_comments_that_fit() {
    let repo = base_repo();
    for i in 0..150 {
        repo.write(&format!("apps/app-{i:03}.yaml"), &gateway_route(i));
    }
    // One resource whose diff alone is bigger than a comment: cut inside its fence.
    let hosts: String = (0..4_000)
        .map(|i| format!("- host-{i:04}.meshapps.internal\n"))
        .collect();
    let huge = NS_ROUTE.replace("hostnames:\n", &format!("hostnames:\n{hosts}"));
    repo.write("routes/target-route.yaml", &huge);
    repo.commit("150 apps and many hostnames");
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("comments");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("comment-99.md"), "stale").unwrap();

    let json = report(
        &repo,
        &[
            "--format",
            "json",
            "--output-dir",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc = json.json();
    let comments: Vec<String> = doc["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let count = comments.len();
    assert!(count >= 3, "{count} comments");
    for (i, comment) in comments.iter().enumerate() {
        let chars = comment.chars().count();
        assert!(chars <= 65_536, "comment {} has {chars} characters", i + 1);
        assert_balanced(comment);
        assert!(
            comment.contains(&format!("part {} of {count}", i + 1)),
            "comment {} does not say which part it is",
            i + 1
        );
        let file = out_dir.join(format!("comment-{}.md", i + 1));
        assert_eq!(&std::fs::read_to_string(file).unwrap(), comment);
    }
    assert!(
        !out_dir.join("comment-99.md").exists(),
        "stale comment kept"
    );
    let first = &comments[0];
    assert!(
        first.starts_with("### ✅ 301 changes, no policy errors\n"),
        "{first}"
    );
    assert!(first.contains("| **total** | **300** | **1** |"), "{first}");
    for later in &comments[1..] {
        assert!(
            !later.contains("| **total** |"),
            "the summary is only in part 1"
        );
    }
    let all = comments.concat();
    assert_eq!(all.matches("<details>").count(), 301, "every change, once");
    assert!(
        all.contains("… truncated: ") && all.contains("more lines do not fit in one comment"),
        "the huge diff is cut with a note"
    );
    assert!(all.contains("\n### Changes (continued)\n"));

    // Without --output-dir the comments go to stdout, with a marker line between them.
    let stdout = report(&repo, &[]);
    assert_eq!(stdout.code, 0);
    for i in 2..=count {
        let marker = format!("<!-- ======== meshcd: comment {i} of {count} ======== -->");
        assert!(stdout.stdout.contains(&marker), "{marker} missing");
    }
    assert!(stdout.stdout.starts_with(first.as_str()));

    // A smaller limit for other hosts: more parts, each within it.
    let small = report(&repo, &["--format", "json", "--max-comment-chars", "20000"]);
    let small: Vec<String> = small.json()["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(small.len() > count);
    for comment in &small {
        assert!(comment.chars().count() <= 20_000);
        assert_balanced(comment);
    }

    // What each part holds: its first line, its section titles, how many changes, whether a
    // diff was cut, and its last line.
    let outline: String = comments
        .iter()
        .map(|c| {
            let lines: Vec<&str> = c.lines().collect();
            let titles: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with("### "))
                .collect();
            format!(
                "{}
  sections: {}
  changes: {}, cut: {}
  {}\n",
                lines[0],
                titles.join(" / "),
                c.matches("<details>").count(),
                c.contains("… truncated: "),
                lines[lines.len() - 1]
            )
        })
        .collect();
    settings(&repo).bind(|| insta::assert_snapshot!("large_change_outline", outline));
}

/// A weekend freeze: Friday 18:00 in Paris for 62 hours, for `reviews`.
const FREEZE: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata:
  name: weekend-freeze
spec:
  kind: deny
  schedule: '0 18 * * 5'
  duration: 62h
  timeZone: Europe/Paris
  selector: {routes: [reviews]}
";

#[test]
fn report_and_plan_say_which_changes_a_change_window_holds() {
    let repo = base_repo();
    repo.write(
        "routes/reviews.yaml",
        &ISTIO_ROUTE
            .replace("weight: 90", "weight: 50")
            .replace("weight: 10\n", "weight: 50\n"),
    )
    .write("meshcd/freeze.yaml", FREEZE);
    repo.commit("reviews 50/50 with a weekend freeze");

    // Saturday 2026-11-21 12:00 UTC: inside the freeze.
    let saturday = "2026-11-21T12:00:00Z";
    let run = report(&repo, &["--at", saturday]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first_line = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first_line.contains("⏸ 1 change held by a change window"),
        "{first_line}"
    );
    assert!(
        run.stdout.contains(
            "deny window weekend-freeze (Fri 18:00 Europe/Paris for 62h) is active until \
             2026-11-23T08:00:00+01:00"
        ),
        "{}",
        run.stdout
    );

    // Wednesday: nothing is held.
    let run = report(&repo, &["--at", "2026-11-18T12:00:00Z"]);
    assert!(
        !run.stdout.contains("held by a change window"),
        "{}",
        run.stdout
    );

    // plan says the same, in text and JSON.
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let args = ["plan", "--repo", path, "--base", "base", "--at", saturday];
    let run = meshcd(&args, cache.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Held back by change windows"),
        "{}",
        run.stdout
    );
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let plan = meshcd(&json_args, cache.path()).json();
    assert_eq!(plan["held"][0]["resource"], "VirtualService/shop/reviews");
    assert_eq!(plan["held"][0]["until"], "2026-11-23T07:00:00Z");

    let run = meshcd(
        &["plan", "--repo", path, "--base", "base", "--at", "friday"],
        cache.path(),
    );
    assert_eq!(run.code, 2, "a bad --at is a usage error");
    assert!(run.stderr.contains("RFC 3339"), "{}", run.stderr);
}
