//! End-to-end tests of `meshcd run`: the real binary on free loopback ports, following real Git
//! repositories; configuration errors, health/readiness/metrics/status, the `.git` watcher,
//! unchanged commits, GitHub and GitLab webhooks (up to 25 MiB), cron schedules, `--once`, and SIGTERM.
//!
//! Waits are bounded polling loops on the status API, never fixed sleeps or timing asserts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::daemon::dechunk;
use crate::common::{meshcd, TestRepo};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

/// Longest any wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);

const ROUTE: &str = "\
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
      weight: 90
    - destination: {host: ads-canary.ads.svc.cluster.local}
      weight: 10
";

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

const GITHUB_SECRET: &str = "it's a secret to everybody";
const GITLAB_TOKEN: &str = "gl-t0ken";

fn repo_with(route: &str) -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write("routes/ads.yaml", route);
    let commit = repo.commit("routes");
    (repo, commit)
}

/// A daemon configuration for `repo`: port 0, no polling unless `extra` sets it.
fn config(repo: &TestRepo, extra: &str) -> String {
    format!(
        "repo: {}\nrev: main\nserver: {{listen: \"127.0.0.1:0\"}}\n{}{extra}",
        repo.path().display(),
        if extra.contains("pollInterval") {
            ""
        } else {
            "pollInterval: 1h\n"
        },
    )
}

/// A running `meshcd run`, killed on drop.
struct Daemon {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
    _dir: TempDir,
}

impl Daemon {
    fn start(config: &str) -> Self {
        Self::start_with_env(config, &[])
    }

    fn start_with_env(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("github-secret"),
            format!("{GITHUB_SECRET}\n"),
        )
        .unwrap();
        let config = format!("stateDir: {}\n{config}", dir.path().join("state").display());
        let path = dir.path().join("meshcd.yaml");
        std::fs::write(&path, config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_meshcd"));
        command
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "meshcd=debug,warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start meshcd run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        // Keep draining stdout so the daemon never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let Some(addr) = line.trim().strip_prefix("meshcd: listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("meshcd did not start: {line:?}\n{}", stderr.lock().unwrap());
        };
        Self {
            addr: addr.to_string(),
            child,
            stderr,
            _dir: dir,
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        http(&self.addr, method, path, headers, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], b"")
    }

    fn status(&self) -> Value {
        let (code, body) = self.get("/api/v1/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200);
        body
    }

    /// Waits until `check` holds, at most [`WAIT`].
    fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {what}\nstatus: {:#}\nstderr:\n{}",
            self.status(),
            self.stderr.lock().unwrap()
        );
    }

    fn wait_ready(&self) {
        self.wait_until("readiness", |d| d.get("/readyz").0 == 200);
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("meshcd did not stop after SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client: one request, `Connection: close`, status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    // With `Transfer-Encoding: chunked` among `headers`, the body goes in 1 MiB chunks and
    // without a length.
    let chunked = headers
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("transfer-encoding") && *value == "chunked");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !chunked {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The body is written beside the reading: a server may answer (413) before taking all of
    // a large body, and close the connection under the writer.
    let mut writer = stream.try_clone().unwrap();
    let mut response = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if !chunked {
                let _ = writer.write_all(body);
                return;
            }
            for chunk in body.chunks(1024 * 1024) {
                let head = format!("{:x}\r\n", chunk.len());
                let written = [head.as_bytes(), chunk, b"\r\n"]
                    .iter()
                    .try_for_each(|part| writer.write_all(part));
                if written.is_err() {
                    return;
                }
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        });
        stream.read_to_end(&mut response).unwrap();
    });
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

/// Sum of `meshcd_reconcile_total` samples whose labels contain `label`.
fn reconciles(metrics: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("meshcd_reconcile_total{") && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn config_errors_point_at_the_field_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("repo: .\npollIntervall: 30s\n", ":2:1: `pollIntervall`: unknown field `pollIntervall`"),
        ("repo: .\npollInterval: 30 parsecs\n", ":2:15: `pollInterval`: invalid duration `30 parsecs`"),
        (
            "repo: .\nschedules:\n- name: nightly\n  cron: \"0 3 * * *\"\n",
            ":4:9: `schedules[0].cron`: cron expression `0 3 * * *` has 5 fields",
        ),
        (
            "repo: .\nschedules:\n- {name: nightly, cron: \"0 0 3 * * *\", timezone: Mars/Olympus}\n",
            ":3:50: `schedules[0].timezone`: unknown timezone `Mars/Olympus`",
        ),
        ("repo: .\nretry: {max: 2s, initial: 5s}\n", ":2:14: `retry.max`: must be at least"),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("meshcd.yaml");
        std::fs::write(&path, text).unwrap();
        let run = meshcd(&["run", "--config", path.to_str().unwrap()], dir.path());
        assert_eq!(run.code, 2, "{text}\n{}", run.stderr);
        let want = format!("{}{expected}", path.display());
        assert!(
            run.stderr.contains(&want),
            "want {want}\ngot {}",
            run.stderr
        );
    }
    let missing = meshcd(&["run", "--config", "/nonexistent/meshcd.yaml"], dir.path());
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/meshcd.yaml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn serves_health_readiness_metrics_and_status() {
    let (repo, commit) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(&repo, "watch: false\n"));
    assert_eq!(daemon.get("/healthz").0, 200);
    daemon.wait_ready();
    let (code, body) = daemon.get("/readyz");
    assert_eq!((code, body.as_str()), (200, r#"{"ready":true}"#));

    let metrics = daemon.metrics();
    for name in [
        "meshcd_reconcile_total{trigger=\"startup\",result=\"applied\"} 1",
        "meshcd_reconcile_duration_seconds_bucket",
        &format!("meshcd_applied_revision_info{{commit=\"{commit}\"}} 1"),
        "meshcd_drift 0",
        "meshcd_last_success_timestamp_seconds ",
        "meshcd_webhook_rejected",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }

    let status = daemon.status();
    assert_eq!(status["appliedCommit"], commit.as_str());
    assert_eq!(status["repo"], repo.path().display().to_string());
    assert_eq!(status["rev"], "main");
    assert_eq!(status["ready"], true);
    assert_eq!(status["lastOutcome"]["action"], "applied");
    assert_eq!(status["lastOutcome"]["trigger"], "startup");
    assert_eq!(status["lastError"], Value::Null);
    assert_eq!(status["inProgress"], Value::Null);
    assert!(status["nextPoll"].is_string(), "{status:#}");
    assert!(status["target"].as_str().unwrap().starts_with("none"));
    assert_eq!(status["triggersSeen"]["startup"], 1);
    assert_eq!(daemon.get("/nope").0, 404);
}

#[test]
fn a_refused_commit_keeps_the_daemon_unready() {
    let (repo, commit) = repo_with(BAD_WEIGHTS);
    let daemon = Daemon::start(&config(&repo, "watch: false\n"));
    daemon.wait_until("a refused reconcile", |d| {
        reconciles(&d.metrics(), "result=\"refused\"") >= 1
    });
    let (code, body) = daemon.get("/readyz");
    assert_eq!(code, 503, "{body}");
    let reason: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reason["ready"], false);
    let reason = reason["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("commit {} was refused", &commit[..7])),
        "{reason}"
    );
    assert!(reason.contains("MC10"), "{reason}");
    assert_eq!(daemon.status()["appliedCommit"], Value::Null);
}

#[test]
fn a_commit_to_the_watched_repository_triggers_a_reconcile() {
    let (repo, first) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(&repo, "watch: true\n"));
    daemon.wait_ready();
    assert_eq!(daemon.status()["appliedCommit"], first.as_str());

    repo.write(
        "routes/ads.yaml",
        &ROUTE.replace("90", "50").replace("10\n", "50\n"),
    );
    let second = repo.commit("50/50");
    daemon.wait_until("the new commit", |d| {
        d.status()["appliedCommit"] == second.as_str()
    });
    let status = daemon.status();
    assert_eq!(status["lastOutcome"]["trigger"], "file_change");
    assert_eq!(status["lastOutcome"]["changes"], 1);
    assert_eq!(
        status["triggersSeen"]["poll"],
        Value::Null,
        "no poll ran: {status:#}"
    );
    assert_eq!(
        status["triggersSeen"]["file_change"], 1,
        "one commit, one trigger: {status:#}"
    );
}

#[test]
fn an_unchanged_commit_is_skipped() {
    let (repo, commit) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(&repo, "watch: false\n"));
    daemon.wait_ready();
    for round in 1..=3 {
        let (code, body) = daemon.request("POST", "/api/v1/reconcile", &[], b"");
        assert_eq!(code, 202, "{body}");
        daemon.wait_until("an unchanged reconcile", |d| {
            reconciles(&d.metrics(), "result=\"unchanged\"") >= round
        });
    }
    let metrics = daemon.metrics();
    assert_eq!(reconciles(&metrics, "result=\"applied\""), 1, "{metrics}");
    assert_eq!(
        reconciles(&metrics, "trigger=\"manual\",result=\"unchanged\""),
        3
    );
    assert_eq!(daemon.status()["appliedCommit"], commit.as_str());
}

#[test]
fn github_webhooks_need_a_valid_signature() {
    let (repo, _) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(
        &repo,
        "watch: false\nwebhook: {githubSecretFile: github-secret, branch: main}\n",
    ));
    daemon.wait_ready();
    let push = br#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#;
    let event = ("X-GitHub-Event", "push");

    let wrong = github_signature(b"another body");
    for headers in [
        vec![event, ("X-Hub-Signature-256", wrong.as_str())],
        vec![event],
    ] {
        let (code, body) = daemon.request("POST", "/webhook/github", &headers, push);
        assert_eq!(code, 401, "{body}");
        assert!(!body.contains(&wrong[7..]), "the signature is not echoed");
    }
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("meshcd_webhook_rejected_total{provider=\"github\"} 2"),
        "{metrics}"
    );

    let ping = br#"{"zen":"Keep it logically awesome."}"#;
    let signed_ping = github_signature(ping);
    let (code, _) = daemon.request(
        "POST",
        "/webhook/github",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &signed_ping),
        ],
        ping,
    );
    assert_eq!(code, 200);
    let other_branch = br#"{"ref":"refs/heads/feature"}"#;
    let signed_other = github_signature(other_branch);
    let (code, body) = daemon.request(
        "POST",
        "/webhook/github",
        &[event, ("X-Hub-Signature-256", &signed_other)],
        other_branch,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ignored"), "{body}");
    let status = daemon.status();
    assert_eq!(status["triggersSeen"]["webhook"], Value::Null, "{status:#}");
    assert_eq!(
        status["reconciles"], 1,
        "no reconcile from rejected or ignored hooks"
    );

    let signed = github_signature(push);
    let (code, body) = daemon.request(
        "POST",
        "/webhook/github",
        &[event, ("X-Hub-Signature-256", &signed)],
        push,
    );
    assert_eq!(code, 202, "{body}");
    daemon.wait_until("the webhook's reconcile", |d| {
        reconciles(&d.metrics(), "trigger=\"webhook\"") == 1
    });
    assert_eq!(
        daemon.status()["lastOutcome"]["trigger"],
        "webhook (github, refs/heads/main)"
    );
    assert!(
        !daemon.stderr.lock().unwrap().contains(GITHUB_SECRET),
        "the secret is never logged"
    );
}

#[test]
fn gitlab_webhooks_need_the_token() {
    let (repo, _) = repo_with(ROUTE);
    let daemon = Daemon::start_with_env(
        &config(
            &repo,
            "watch: false\nwebhook: {gitlabTokenEnv: MESHCD_TEST_GITLAB_TOKEN}\n",
        ),
        &[("MESHCD_TEST_GITLAB_TOKEN", GITLAB_TOKEN)],
    );
    daemon.wait_ready();
    let push = br#"{"object_kind":"push","ref":"refs/heads/main"}"#;
    let event = ("X-Gitlab-Event", "Push Hook");
    let (code, _) = daemon.request(
        "POST",
        "/webhook/gitlab",
        &[event, ("X-Gitlab-Token", "guess")],
        push,
    );
    assert_eq!(code, 401);
    assert!(daemon
        .metrics()
        .contains("meshcd_webhook_rejected_total{provider=\"gitlab\"} 1"));
    assert_eq!(daemon.status()["reconciles"], 1);
    // GitHub is not configured here.
    assert_eq!(daemon.request("POST", "/webhook/github", &[], push).0, 404);

    let (code, body) = daemon.request(
        "POST",
        "/webhook/gitlab",
        &[event, ("X-Gitlab-Token", GITLAB_TOKEN)],
        push,
    );
    assert_eq!(code, 202, "{body}");
    daemon.wait_until("the webhook's reconcile", |d| {
        reconciles(&d.metrics(), "trigger=\"webhook\"") == 1
    });
    // Bodies above 25 MiB are refused before anything else, even before the token.
    let huge = vec![b'x'; 25 * 1024 * 1024 + 1];
    let (code, body) = daemon.request(
        "POST",
        "/webhook/gitlab",
        &[event, ("X-Gitlab-Token", "guess")],
        &huge,
    );
    assert_eq!(code, 413, "{body}");
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("meshcd_webhook_too_large_total{provider=\"gitlab\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meshcd_webhook_rejected_total{provider=\"gitlab\"} 1"),
        "a refused size is not counted as a bad token: {metrics}"
    );
    // Without a length, reading stops at the limit.
    let chunked = ("Transfer-Encoding", "chunked");
    let (code, body) = daemon.request(
        "POST",
        "/webhook/gitlab",
        &[event, ("X-Gitlab-Token", GITLAB_TOKEN), chunked],
        &huge,
    );
    assert_eq!(code, 413, "{body}");
    assert!(daemon
        .metrics()
        .contains("meshcd_webhook_too_large_total{provider=\"gitlab\"} 2"));
    let (code, body) = daemon.request(
        "POST",
        "/webhook/gitlab",
        &[event, ("X-Gitlab-Token", GITLAB_TOKEN), chunked],
        push,
    );
    assert_eq!(code, 202, "{body}");
}

/// A push payload of at least `size` bytes, its commits first and `ref` last, so the whole
/// body must be read to find it.
fn big_push(size: usize) -> Vec<u8> {
    let commit = r#"{"id":"0123456789abcdef0123456789abcdef01234567","message":"move routes","added":["routes/a.yaml","routes/b.yaml"],"removed":[],"modified":["routes/ads.yaml"]}"#;
    let mut body = String::with_capacity(size + 200);
    body.push_str(r#"{"commits":["#);
    body.push_str(commit);
    while body.len() < size {
        body.push(',');
        body.push_str(commit);
    }
    body.push_str(r#"],"ref":"refs/heads/main"}"#);
    body.into_bytes()
}

#[test]
fn github_push_webhooks_up_to_25_mib_are_read() {
    let (repo, _) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(
        &repo,
        "watch: false\nwebhook: {githubSecretFile: github-secret, branch: main}\n",
    ));
    daemon.wait_ready();
    let event = ("X-GitHub-Event", "push");
    let push = big_push(5 * 1000 * 1000);

    let forged = github_signature(&push[1..]);
    let (code, body) = daemon.request(
        "POST",
        "/webhook/github",
        &[event, ("X-Hub-Signature-256", &forged)],
        &push,
    );
    assert_eq!(code, 401, "{body}");

    let too_large = big_push(26 * 1024 * 1024);
    let signed = github_signature(&too_large);
    let (code, body) = daemon.request(
        "POST",
        "/webhook/github",
        &[event, ("X-Hub-Signature-256", &signed)],
        &too_large,
    );
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("larger than 25 MiB"), "{body}");
    let metrics = daemon.metrics();
    for counted in [
        "meshcd_webhook_rejected_total{provider=\"github\"} 1",
        "meshcd_webhook_too_large_total{provider=\"github\"} 1",
    ] {
        assert!(metrics.contains(counted), "missing {counted} in\n{metrics}");
    }
    assert_eq!(
        daemon.status()["reconciles"],
        1,
        "only the startup reconcile"
    );

    let signed = github_signature(&push);
    let (code, body) = daemon.request(
        "POST",
        "/webhook/github",
        &[event, ("X-Hub-Signature-256", &signed)],
        &push,
    );
    assert_eq!(code, 202, "{body}");
    daemon.wait_until("the webhook's reconcile", |d| {
        reconciles(&d.metrics(), "trigger=\"webhook\"") == 1
    });
    assert_eq!(
        daemon.status()["lastOutcome"]["trigger"],
        "webhook (github, refs/heads/main)"
    );
}

#[test]
fn a_cron_schedule_triggers_reconciles() {
    let (repo, _) = repo_with(ROUTE);
    let daemon = Daemon::start(&config(
        &repo,
        "watch: false\nschedules: [{name: every-second, cron: \"* * * * * *\", timezone: UTC}]\n",
    ));
    daemon.wait_until("a scheduled reconcile", |d| {
        reconciles(&d.metrics(), "trigger=\"schedule\"") >= 1
    });
    let status = daemon.status();
    assert!(
        status["nextSchedules"]["every-second"].is_string(),
        "{status:#}"
    );
}

#[test]
fn sigterm_stops_the_daemon_with_exit_0() {
    let (repo, _) = repo_with(ROUTE);
    let mut daemon = Daemon::start(&config(&repo, "watch: true\npollInterval: 1s\n"));
    daemon.wait_ready();
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{}", daemon.stderr.lock().unwrap());
    assert!(
        TcpStream::connect(&daemon.addr).is_err(),
        "the port is closed"
    );
}

#[test]
fn once_reconciles_a_single_time() {
    let cache = tempfile::tempdir().unwrap();
    for (route, code, word) in [(ROUTE, 0, "applied"), (BAD_WEIGHTS, 1, "refused")] {
        let (repo, commit) = repo_with(route);
        let path = cache.path().join("meshcd.yaml");
        std::fs::write(&path, config(&repo, "")).unwrap();
        let run = meshcd(
            &["run", "--once", "--config", path.to_str().unwrap()],
            cache.path(),
        );
        assert_eq!(run.code, code, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.starts_with(&format!("{word} {commit}")),
            "{}",
            run.stdout
        );
    }
    let missing_repo = cache.path().join("bad.yaml");
    std::fs::write(&missing_repo, "repo: /nonexistent/repo\n").unwrap();
    let run = meshcd(
        &["run", "--once", "--config", missing_repo.to_str().unwrap()],
        cache.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot open repository"),
        "{}",
        run.stderr
    );
}
