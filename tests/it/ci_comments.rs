//! The CI integration in `deploy/ci/`: `deploy/ci/sync-comments.sh`, which keeps one meshcd
//! report per pull request updated in place, run for real against local HTTP servers; the
//! workflow files; and the pre-commit hook.
//!
//! The servers below are written here, following the documented REST protocols, not copied
//! from GitHub or GitLab:
//!
//! - GitHub's issue comments (docs.github.com, "REST API endpoints for issue comments"):
//!   `GET/POST /repos/{owner}/{repo}/issues/{number}/comments`,
//!   `PATCH/DELETE /repos/{owner}/{repo}/issues/comments/{id}`, `Authorization: Bearer`, comments
//!   listed oldest first with `per_page`/`page` and a `Link` header whose `next` URL is on
//!   `/repositories/{id}/...` (as GitHub writes it), 201/200/204 answers, 401/404/422 errors.
//! - GitLab's merge-request notes (docs.gitlab.com, "Notes API"):
//!   `GET/POST /api/v4/projects/{id}/merge_requests/{iid}/notes`, `PUT/DELETE .../notes/{id}`,
//!   `PRIVATE-TOKEN`, newest first unless `sort=asc`, `X-Next-Page`/`X-Total` and `Link`
//!   headers, system notes (`"system": true`) among the others.
//!
//! One deliberate difference: the servers serve at most [`PAGE_CAP`] comments a page (GitHub and
//! GitLab: 100), so that a handful of comments already spans several pages and pagination is
//! exercised. The report parts synced are real `meshcd report --output-dir` output.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::{meshcd, project_root, Run, TestRepo};
use serde_json::{json, Value};

/// Most comments the test servers put on one page.
const PAGE_CAP: usize = 2;
const TOKEN: &str = "test-token";
/// GitHub: the repository, its id (for `Link` URLs) and the pull request.
const OWNER: &str = "acme";
const REPO: &str = "mesh-routes";
const REPO_ID: u64 = 4242;
const PR: u64 = 7;
/// GitLab: the project and the merge request.
const PROJECT: u64 = 42;
const MR: u64 = 3;
/// Who the token belongs to, on each host.
const GITHUB_BOT: &str = "github-actions[bot]";
const GITLAB_BOT: &str = "project_42_bot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    GitHub,
    GitLab,
}

#[derive(Debug, Clone)]
struct Comment {
    id: u64,
    /// The pull request (merge request) it is on.
    on: u64,
    author: String,
    body: String,
    /// GitLab system notes ("added 1 commit").
    system: bool,
}

#[derive(Default)]
struct State {
    comments: Vec<Comment>,
    next_id: u64,
    /// Every request: `METHOD path?query`.
    requests: Vec<String>,
}

/// A comments API on 127.0.0.1, serving until dropped.
struct Api {
    flavor: Flavor,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Api {
    fn start(flavor: Flavor) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(flavor, addr, &state, stream);
                    }
                }
            })
        };
        Api {
            flavor,
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The comments URL of the pull request (merge request) under test.
    fn comments_url(&self) -> String {
        match self.flavor {
            Flavor::GitHub => format!(
                "http://{}/repos/{OWNER}/{REPO}/issues/{PR}/comments",
                self.addr
            ),
            Flavor::GitLab => format!(
                "http://{}/api/v4/projects/{PROJECT}/merge_requests/{MR}/notes",
                self.addr
            ),
        }
    }

    fn target(&self) -> u64 {
        match self.flavor {
            Flavor::GitHub => PR,
            Flavor::GitLab => MR,
        }
    }

    /// Adds a comment by `author` to the pull request under test; returns its id.
    fn seed(&self, author: &str, body: &str) -> u64 {
        self.seed_on(self.target(), author, body, false)
    }

    fn seed_on(&self, on: u64, author: &str, body: &str, system: bool) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let id = state.next_id;
        state.comments.push(Comment {
            id,
            on,
            author: author.to_string(),
            body: body.to_string(),
            system,
        });
        id
    }

    /// The comments of the pull request under test, oldest first.
    fn comments(&self) -> Vec<Comment> {
        let state = self.state.lock().unwrap();
        let mut comments: Vec<Comment> = state
            .comments
            .iter()
            .filter(|c| c.on == self.target())
            .cloned()
            .collect();
        comments.sort_by_key(|c| c.id);
        comments
    }

    /// Every comment on any pull request, by id.
    fn all(&self) -> BTreeMap<u64, Comment> {
        let state = self.state.lock().unwrap();
        state.comments.iter().map(|c| (c.id, c.clone())).collect()
    }

    /// The requests since the last call.
    fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().unwrap().requests)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An answer: status, extra headers, JSON body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, json!({"message": message}))
    }
}

/// One HTTP/1.1 exchange: the request, the answer, and the connection closed.
fn serve(flavor: Flavor, addr: SocketAddr, state: &Mutex<State>, stream: TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let (method, target) = match (words.next(), words.next()) {
        (Some(method), Some(target)) => (method.to_string(), target.to_string()),
        _ => return,
    };
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let answer = {
        let mut state = state.lock().unwrap();
        state.requests.push(format!("{method} {target}"));
        match flavor {
            Flavor::GitHub => github(&mut state, addr, &method, &target, &headers, &body),
            Flavor::GitLab => gitlab(&mut state, addr, &method, &target, &headers, &body),
        }
    };
    let payload = answer
        .body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let reason = match answer.status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        401 => "Unauthorized",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Other",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", answer.status);
    if !payload.is_empty() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n",
        payload.len()
    ));
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&payload);
    let _ = stream.flush();
}

/// `path` and its query parameters.
fn split_target(target: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let params = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (segments, params)
}

/// The `body` of a create or update request.
fn body_field(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("body")?.as_str().map(str::to_string)
}

/// Page `page` of `items` with `per_page` (capped) items; the number of pages.
fn paginate<T: Clone>(items: &[T], per_page: usize, page: usize) -> (Vec<T>, usize) {
    let per_page = per_page.clamp(1, 100).min(PAGE_CAP);
    let pages = items.len().div_ceil(per_page).max(1);
    let start = (page.max(1) - 1) * per_page;
    (
        items.iter().skip(start).take(per_page).cloned().collect(),
        pages,
    )
}

/// A `Link` header: `<url>; rel="next", ...` for the pages around `page`.
fn link_header(url_of: impl Fn(usize) -> String, page: usize, pages: usize) -> String {
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("<{}>; rel=\"next\"", url_of(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url_of(pages)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url_of(1)));
        links.push(format!("<{}>; rel=\"prev\"", url_of(page - 1)));
    }
    links.join(", ")
}

fn github_json(addr: SocketAddr, c: &Comment) -> Value {
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("http://{addr}/repos/{OWNER}/{REPO}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.on, c.id),
        "issue_url": format!("http://{addr}/repos/{OWNER}/{REPO}/issues/{}", c.on),
        "body": c.body,
        "user": {
            "login": c.author,
            "type": if c.author.ends_with("[bot]") { "Bot" } else { "User" },
        },
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "author_association": "NONE",
    })
}

/// GitHub's issue-comments endpoints.
fn github(
    state: &mut State,
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| v == &format!("Bearer {TOKEN}") || v == &format!("token {TOKEN}"));
    if !authorized {
        return Answer::error(401, "Requires authentication");
    }
    let (segments, params) = split_target(target);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let repo_ok = |o: &str, r: &str| o == OWNER && r == REPO;
    // The issue of a comments collection, by /repos/o/r/... or /repositories/id/...
    let issue = match segments.as_slice() {
        ["repos", o, r, "issues", n, "comments"] if repo_ok(o, r) => n.parse::<u64>().ok(),
        ["repositories", id, "issues", n, "comments"] if *id == REPO_ID.to_string() => {
            n.parse::<u64>().ok()
        }
        _ => None,
    };
    if let Some(issue) = issue {
        return match method {
            "GET" => {
                let mut items: Vec<Comment> = state
                    .comments
                    .iter()
                    .filter(|c| c.on == issue)
                    .cloned()
                    .collect();
                items.sort_by_key(|c| c.id);
                let per_page = params
                    .get("per_page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30);
                let page = params.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
                let (items, pages) = paginate(&items, per_page, page);
                let url_of = |p: usize| {
                    format!(
                        "http://{addr}/repositories/{REPO_ID}/issues/{issue}/comments?per_page={per_page}&page={p}"
                    )
                };
                let mut answer = Answer::json(
                    200,
                    Value::Array(items.iter().map(|c| github_json(addr, c)).collect()),
                );
                let link = link_header(url_of, page, pages);
                if !link.is_empty() {
                    answer.headers.push(("Link".into(), link));
                }
                answer
            }
            "POST" if segments[0] == "repos" => match body_field(body) {
                Some(text) => {
                    state.next_id += 1;
                    let comment = Comment {
                        id: state.next_id,
                        on: issue,
                        author: GITHUB_BOT.into(),
                        body: text,
                        system: false,
                    };
                    state.comments.push(comment.clone());
                    Answer::json(201, github_json(addr, &comment))
                }
                None => Answer::error(422, "Validation Failed"),
            },
            _ => Answer::error(404, "Not Found"),
        };
    }
    let id = match segments.as_slice() {
        ["repos", o, r, "issues", "comments", id] if repo_ok(o, r) => id.parse::<u64>().ok(),
        _ => None,
    };
    let Some(index) = id.and_then(|id| state.comments.iter().position(|c| c.id == id)) else {
        return Answer::error(404, "Not Found");
    };
    match method {
        "GET" => Answer::json(200, github_json(addr, &state.comments[index])),
        "PATCH" => match body_field(body) {
            Some(text) => {
                state.comments[index].body = text;
                Answer::json(200, github_json(addr, &state.comments[index]))
            }
            None => Answer::error(422, "Validation Failed"),
        },
        "DELETE" => {
            state.comments.remove(index);
            Answer::empty(204)
        }
        _ => Answer::error(404, "Not Found"),
    }
}

fn gitlab_json(c: &Comment) -> Value {
    json!({
        "id": c.id,
        "type": null,
        "body": c.body,
        "author": {"id": 1, "username": c.author, "name": c.author},
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "system": c.system,
        "noteable_id": 1,
        "noteable_type": "MergeRequest",
        "noteable_iid": c.on,
        "resolvable": false,
    })
}

/// GitLab's merge-request notes endpoints.
fn gitlab(
    state: &mut State,
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    if headers.get("private-token").map(String::as_str) != Some(TOKEN) {
        return Answer::error(401, "401 Unauthorized");
    }
    let (segments, params) = split_target(target);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let project = PROJECT.to_string();
    match segments.as_slice() {
        ["api", "v4", "projects", p, "merge_requests", iid, "notes"] if *p == project => {
            let Ok(iid) = iid.parse::<u64>() else {
                return Answer::error(404, "404 Not found");
            };
            match method {
                "GET" => {
                    let mut items: Vec<Comment> = state
                        .comments
                        .iter()
                        .filter(|c| c.on == iid)
                        .cloned()
                        .collect();
                    items.sort_by_key(|c| c.id);
                    if params.get("sort").map(String::as_str) != Some("asc") {
                        items.reverse();
                    }
                    let per_page = params
                        .get("per_page")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(20);
                    let page = params.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
                    let total = items.len();
                    let (items, pages) = paginate(&items, per_page, page);
                    let url_of = |p: usize| {
                        let mut query: Vec<String> = params
                            .iter()
                            .filter(|(k, _)| *k != "page")
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        query.push(format!("page={p}"));
                        format!(
                            "http://{addr}/api/v4/projects/{PROJECT}/merge_requests/{iid}/notes?{}",
                            query.join("&")
                        )
                    };
                    let mut answer =
                        Answer::json(200, Value::Array(items.iter().map(gitlab_json).collect()));
                    let next = if page < pages {
                        (page + 1).to_string()
                    } else {
                        String::new()
                    };
                    answer.headers.extend([
                        ("X-Page".to_string(), page.to_string()),
                        ("X-Per-Page".to_string(), per_page.min(PAGE_CAP).to_string()),
                        ("X-Next-Page".to_string(), next),
                        ("X-Total".to_string(), total.to_string()),
                        ("X-Total-Pages".to_string(), pages.to_string()),
                    ]);
                    let link = link_header(url_of, page, pages);
                    if !link.is_empty() {
                        answer.headers.push(("Link".into(), link));
                    }
                    answer
                }
                "POST" => match body_field(body) {
                    Some(text) => {
                        state.next_id += 1;
                        let note = Comment {
                            id: state.next_id,
                            on: iid,
                            author: GITLAB_BOT.into(),
                            body: text,
                            system: false,
                        };
                        state.comments.push(note.clone());
                        Answer::json(201, gitlab_json(&note))
                    }
                    None => Answer::error(400, "400 Bad request - body is missing"),
                },
                _ => Answer::error(404, "404 Not found"),
            }
        }
        ["api", "v4", "projects", p, "merge_requests", iid, "notes", id] if *p == project => {
            let found = iid
                .parse::<u64>()
                .ok()
                .zip(id.parse::<u64>().ok())
                .and_then(|(iid, id)| {
                    state
                        .comments
                        .iter()
                        .position(|c| c.id == id && c.on == iid)
                });
            let Some(index) = found else {
                return Answer::error(404, "404 Not found");
            };
            match method {
                "GET" => Answer::json(200, gitlab_json(&state.comments[index])),
                "PUT" => match body_field(body) {
                    Some(text) => {
                        state.comments[index].body = text;
                        Answer::json(200, gitlab_json(&state.comments[index]))
                    }
                    None => Answer::error(400, "400 Bad request - body is missing"),
                },
                "DELETE" => {
                    state.comments.remove(index);
                    Answer::empty(204)
                }
                _ => Answer::error(404, "404 Not found"),
            }
        }
        _ => Answer::error(404, "404 Not found"),
    }
}

/// Runs `deploy/ci/sync-comments.sh` with `args`, the token of its host (when `token`), and no
/// proxy between it and the local server.
fn sync(flavor: Flavor, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new("bash");
    command
        .arg(project_root().join("deploy/ci/sync-comments.sh"))
        .args(args);
    for name in [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITLAB_TOKEN",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    command.env("NO_PROXY", "*").env("no_proxy", "*");
    if let Some(token) = token {
        let name = match flavor {
            Flavor::GitHub => "GITHUB_TOKEN",
            Flavor::GitLab => "GITLAB_TOKEN",
        };
        command.env(name, token);
    }
    let output = command.output().expect("run sync-comments.sh");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Syncs the report in `dir` to the API's pull request and expects success.
fn sync_ok(api: &Api, dir: &Path, extra: &[&str]) -> Run {
    let url = api.comments_url();
    let mut args: Vec<&str> = extra.to_vec();
    if api.flavor == Flavor::GitLab {
        args.push("--gitlab");
    }
    args.push(dir.to_str().unwrap());
    args.push(&url);
    let run = sync(api.flavor, Some(TOKEN), &args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

/// A route repository whose head creates `routes` HttpRoutes (the base has none).
fn pull_request(routes: usize) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("README.md", "mesh routes\n");
    repo.commit("base");
    repo.branch("base");
    set_routes(&repo, routes);
    repo
}

/// Makes the head hold `count` HttpRoutes, committed.
fn set_routes(repo: &TestRepo, count: usize) {
    let _ = std::fs::remove_dir_all(repo.path().join("routes"));
    for i in 1..=count {
        repo.write(
            &format!("routes/route-{i}.yaml"),
            &format!(
                "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: route-{i}\n\
                 hostnames:\n- r{i}.meshapps.internal\nmeshes:\n\
                 - projects/my-project/locations/global/meshes/mesh\nlabels:\n  team: web\n\
                 rules:\n- action:\n    destinations:\n\
                 \x20   - serviceName: projects/my-project/locations/global/backendServices/web\n"
            ),
        );
    }
    repo.commit(&format!("{count} routes"));
}

/// `meshcd report --output-dir` of the repository's head against `base`, split at `max_chars`;
/// the folder and the comments it holds.
fn report(repo: &TestRepo, max_chars: usize, dir: &Path) -> Vec<String> {
    let cache = tempfile::tempdir().unwrap();
    let max = max_chars.to_string();
    let run = meshcd(
        &[
            "report",
            "--repo",
            repo.path().to_str().unwrap(),
            "--base",
            "base",
            "--max-comment-chars",
            &max,
            "--output-dir",
            dir.to_str().unwrap(),
        ],
        cache.path(),
    );
    assert!(run.code <= 1, "{}{}", run.stdout, run.stderr);
    let mut parts = Vec::new();
    while let Ok(text) =
        std::fs::read_to_string(dir.join(format!("comment-{}.md", parts.len() + 1)))
    {
        parts.push(text);
    }
    assert!(!parts.is_empty());
    parts
}

/// The comments that are report parts, oldest first: `(id, body)`.
fn report_comments(api: &Api) -> Vec<(u64, String)> {
    api.comments()
        .into_iter()
        .filter(|c| c.body.contains("<!-- meshcd-report: part "))
        .filter(|c| !c.body.contains("> <!-- meshcd-report"))
        .map(|c| (c.id, c.body))
        .collect()
}

/// The write requests (not GETs) of a run.
fn writes(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect()
}

/// Comments that are not ours: a person's, another bot's, and a reply quoting our marker.
fn seed_others(api: &Api) -> Vec<u64> {
    let (person, other_bot) = match api.flavor {
        Flavor::GitHub => ("alice", "renovate[bot]"),
        Flavor::GitLab => ("alice", "renovate-bot"),
    };
    vec![
        api.seed(person, "Looks good, but let's wait for the canary."),
        api.seed(other_bot, "Dependency update summary\n<!-- renovate -->\n"),
        api.seed(
            person,
            "Why does part 1 say this?\n\n> see below\n> <!-- meshcd-report: part 1 of 1 -->\n",
        ),
    ]
}

fn assert_untouched(api: &Api, before: &BTreeMap<u64, Comment>, ids: &[u64]) {
    let now = api.all();
    for id in ids {
        let (was, is) = (&before[id], now.get(id).expect("comment deleted"));
        assert_eq!(was.body, is.body, "comment {id} changed");
    }
}

#[test]
fn first_run_creates_the_parts_in_order_and_touches_nothing_else() {
    let repo = pull_request(6);
    let dir = tempfile::tempdir().unwrap();
    let parts = report(&repo, 2000, dir.path());
    assert!(parts.len() >= 3, "{} parts", parts.len());
    let api = Api::start(Flavor::GitHub);
    let others = seed_others(&api);
    // A comment on another pull request, with a marker, is never listed.
    let elsewhere = api.seed_on(PR + 1, GITHUB_BOT, &parts[0], false);
    let before = api.all();

    let run = sync_ok(&api, dir.path(), &[]);
    let ours = report_comments(&api);
    let bodies: Vec<String> = ours.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(bodies, parts, "{}", run.stdout);
    for (i, line) in run.stdout.lines().enumerate() {
        assert!(
            line.starts_with(&format!("part {} of {}: create ", i + 1, parts.len())),
            "{}",
            run.stdout
        );
    }
    let requests = api.take_requests();
    assert_eq!(
        writes(&requests),
        vec![format!("POST /repos/{OWNER}/{REPO}/issues/{PR}/comments"); parts.len()]
    );
    // The listing followed the `Link` header across pages (3 comments, 2 a page).
    assert!(
        requests.iter().any(|r| r.starts_with(&format!(
            "GET /repositories/{REPO_ID}/issues/{PR}/comments?"
        ))),
        "{requests:?}"
    );
    assert_untouched(&api, &before, &others);
    assert_eq!(api.all()[&elsewhere].body, parts[0]);
}

#[test]
fn a_shorter_report_updates_in_place_and_deletes_the_surplus() {
    let repo = pull_request(6);
    let first = tempfile::tempdir().unwrap();
    let long = report(&repo, 2000, first.path());
    let api = Api::start(Flavor::GitHub);
    let others = seed_others(&api);
    sync_ok(&api, first.path(), &[]);
    let created = report_comments(&api);
    assert_eq!(created.len(), long.len());
    // More comments arrive after the report: people discuss it.
    let later = api.seed("bob", "Can we split this pull request?");
    let before = api.all();
    api.take_requests();

    // A new push: fewer routes, and a report of fewer parts (the folder is reused, as in CI).
    set_routes(&repo, 3);
    let short = report(&repo, 2000, first.path());
    assert!(
        short.len() < long.len() && !short.is_empty(),
        "{} then {} parts",
        long.len(),
        short.len()
    );
    let run = sync_ok(&api, first.path(), &[]);
    let ours = report_comments(&api);
    // The same comments (same ids, same place), new text; the rest deleted.
    assert_eq!(
        ours.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        created[..short.len()]
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ours.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        short
    );
    let mut expected: Vec<String> = created[..short.len()]
        .iter()
        .map(|(id, _)| format!("PATCH /repos/{OWNER}/{REPO}/issues/comments/{id}"))
        .collect();
    expected.extend(
        created[short.len()..]
            .iter()
            .map(|(id, _)| format!("DELETE /repos/{OWNER}/{REPO}/issues/comments/{id}")),
    );
    assert_eq!(writes(&api.take_requests()), expected, "{}", run.stdout);
    assert!(run.stdout.contains("update in place"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("beyond the {} of this report", short.len())),
        "{}",
        run.stdout
    );
    let mut kept = others.clone();
    kept.push(later);
    assert_untouched(&api, &before, &kept);

    // The same report again: nothing to write.
    let run = sync_ok(&api, first.path(), &[]);
    assert_eq!(writes(&api.take_requests()), Vec::<String>::new());
    assert_eq!(run.stdout.matches(": unchanged ").count(), short.len());

    // It grows again: parts kept in place, the missing ones created after them.
    set_routes(&repo, 6);
    let long_again = report(&repo, 2000, first.path());
    sync_ok(&api, first.path(), &[]);
    let ours_now = report_comments(&api);
    assert_eq!(
        ours_now.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        long_again
    );
    assert_eq!(ours_now[0].0, created[0].0);
    let requests = writes(&api.take_requests());
    assert_eq!(
        requests.iter().filter(|r| r.starts_with("POST ")).count(),
        long_again.len() - short.len(),
        "{requests:?}"
    );
    assert!(!requests.iter().any(|r| r.starts_with("DELETE ")));
    assert_untouched(&api, &before, &kept);
}

#[test]
fn the_author_filter_leaves_other_users_markers_alone() {
    let repo = pull_request(1);
    let dir = tempfile::tempdir().unwrap();
    let parts = report(&repo, 65_536, dir.path());
    assert_eq!(parts.len(), 1);
    let api = Api::start(Flavor::GitHub);
    // Someone pasted a whole report into a comment of their own.
    let pasted = api.seed(
        "mallory",
        &format!("From the other pull request:\n\n{}", parts[0]),
    );
    let before = api.all();
    sync_ok(&api, dir.path(), &["--author", GITHUB_BOT]);
    assert_untouched(&api, &before, &[pasted]);
    let requests = writes(&api.take_requests());
    assert_eq!(
        requests,
        vec![format!("POST /repos/{OWNER}/{REPO}/issues/{PR}/comments")]
    );
    // Without the filter the pasted one (the oldest) counts as part 1 and is overwritten, and
    // ours is deleted as its duplicate: why the workflow passes --author.
    sync_ok(&api, dir.path(), &[]);
    assert_eq!(
        writes(&api.take_requests()),
        vec![
            format!("PATCH /repos/{OWNER}/{REPO}/issues/comments/{pasted}"),
            format!(
                "DELETE /repos/{OWNER}/{REPO}/issues/comments/{}",
                pasted + 1
            ),
        ]
    );
}

#[test]
fn parts_out_of_order_are_replaced_so_the_report_reads_in_order() {
    let repo = pull_request(6);
    let dir = tempfile::tempdir().unwrap();
    let parts = report(&repo, 2000, dir.path());
    let api = Api::start(Flavor::GitHub);
    sync_ok(&api, dir.path(), &[]);
    let created = report_comments(&api);
    // Someone deleted part 1.
    api.state
        .lock()
        .unwrap()
        .comments
        .retain(|c| c.id != created[0].0);
    api.take_requests();
    let run = sync_ok(&api, dir.path(), &[]);
    let ours = report_comments(&api);
    assert_eq!(
        ours.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        parts
    );
    assert!(ours.iter().all(|(id, _)| *id > created.last().unwrap().0));
    assert!(run.stdout.contains("replaced to keep the parts in order"));
}

#[test]
fn dry_run_writes_nothing() {
    let repo = pull_request(6);
    let dir = tempfile::tempdir().unwrap();
    let parts = report(&repo, 2000, dir.path());
    let api = Api::start(Flavor::GitHub);
    let run = sync_ok(&api, dir.path(), &["--dry-run"]);
    assert_eq!(writes(&api.take_requests()), Vec::<String>::new());
    assert_eq!(run.stdout.matches("would create").count(), parts.len());
    assert!(api.comments().is_empty());
}

#[test]
fn gitlab_notes_are_kept_in_sync_the_same_way() {
    let repo = pull_request(6);
    let dir = tempfile::tempdir().unwrap();
    // GitLab takes notes of 1,000,000 characters: a small limit here only to get parts.
    let long = report(&repo, 2000, dir.path());
    let api = Api::start(Flavor::GitLab);
    let others = seed_others(&api);
    let system = api.seed_on(MR, "alice", "added 1 commit", true);
    let before = api.all();
    sync_ok(&api, dir.path(), &[]);
    let created = report_comments(&api);
    assert_eq!(
        created.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        long
    );
    let notes = format!("/api/v4/projects/{PROJECT}/merge_requests/{MR}/notes");
    let requests = api.take_requests();
    assert_eq!(writes(&requests), vec![format!("POST {notes}"); long.len()]);
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with(&format!("GET {notes}?")) && r.contains("page=2")),
        "{requests:?}"
    );

    set_routes(&repo, 3);
    let short = report(&repo, 2000, dir.path());
    sync_ok(&api, dir.path(), &["--author", GITLAB_BOT]);
    let ours = report_comments(&api);
    assert_eq!(
        ours.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        short
    );
    let mut expected: Vec<String> = created[..short.len()]
        .iter()
        .map(|(id, _)| format!("PUT {notes}/{id}"))
        .collect();
    expected.extend(
        created[short.len()..]
            .iter()
            .map(|(id, _)| format!("DELETE {notes}/{id}")),
    );
    assert_eq!(writes(&api.take_requests()), expected);
    let mut kept = others;
    kept.push(system);
    assert_untouched(&api, &before, &kept);

    // The limit GitLab allows: the whole report is one note.
    let one = report(&repo, 1_000_000, dir.path());
    assert_eq!(one.len(), 1);
    sync_ok(&api, dir.path(), &["--author", GITLAB_BOT]);
    assert_eq!(report_comments(&api), vec![(created[0].0, one[0].clone())]);
}

#[test]
fn refusals_fail_the_script_without_writing() {
    let repo = pull_request(1);
    let dir = tempfile::tempdir().unwrap();
    report(&repo, 65_536, dir.path());
    let api = Api::start(Flavor::GitHub);
    let url = api.comments_url();
    let folder = dir.path().to_str().unwrap();

    // A wrong token: the API says 401, the script exits 1 and says so.
    let run = sync(Flavor::GitHub, Some("wrong"), &[folder, &url]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
    assert_eq!(writes(&api.take_requests()), Vec::<String>::new());

    // Not a report folder.
    let empty = tempfile::tempdir().unwrap();
    let run = sync(
        Flavor::GitHub,
        Some(TOKEN),
        &[empty.path().to_str().unwrap(), &url],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no comment-N.md"), "{}", run.stderr);

    // A file that is not a meshcd report part (no marker).
    std::fs::write(empty.path().join("comment-1.md"), "hello\n").unwrap();
    let run = sync(
        Flavor::GitHub,
        Some(TOKEN),
        &[empty.path().to_str().unwrap(), &url],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("does not end with"), "{}", run.stderr);

    // A URL that is not an issue's comments.
    let run = sync(
        Flavor::GitHub,
        Some(TOKEN),
        &[
            folder,
            &format!("http://{}/repos/{OWNER}/{REPO}/pulls/{PR}", api.addr),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(api.take_requests(), Vec::<String>::new());
}

/// The text of a file of this source tree.
fn project_file(path: &str) -> String {
    std::fs::read_to_string(project_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&project_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `bash -n` on a shell script (GitHub's `${{ }}` expressions replaced first).
fn assert_shell_parses(what: &str, script: &str) {
    let mut text = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start + 2;
        text.push_str("EXPR");
        rest = &rest[end..];
    }
    text.push_str(rest);
    let output = Command::new("bash")
        .args(["-n", "-c", &text])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn str_of<'a>(value: &'a serde_yaml_ng::Value, key: &str) -> &'a str {
    value.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

#[test]
fn the_github_workflow_parses_and_runs_meshcd_and_the_script() {
    let path = "deploy/ci/github/meshcd.yml";
    let workflow = yaml(path);
    // `on` is a string key (YAML 1.2), as GitHub reads it.
    let on = workflow.get("on").expect("on:");
    assert!(on.get("pull_request").is_some(), "{on:?}");
    assert!(on.get("push").is_some(), "{on:?}");
    let jobs = workflow.get("jobs").and_then(|j| j.as_mapping()).unwrap();
    let job = |name: &str| jobs.get(name).unwrap_or_else(|| panic!("job {name}"));

    let pr = job("pull-request");
    assert!(str_of(pr, "if").contains("pull_request"));
    let permissions = pr.get("permissions").unwrap();
    for (scope, level) in [
        ("contents", "read"),
        ("pull-requests", "write"),
        ("security-events", "write"),
    ] {
        assert_eq!(str_of(permissions, scope), level, "{scope}");
    }
    let steps = pr.get("steps").and_then(|s| s.as_sequence()).unwrap();
    let runs: Vec<&str> = steps.iter().map(|s| str_of(s, "run")).collect();
    let uses: Vec<&str> = steps.iter().map(|s| str_of(s, "uses")).collect();
    let all_runs = runs.join("\n");
    for needle in [
        "meshcd validate --repo . --format github",
        "meshcd validate --repo . --format sarif > meshcd.sarif",
        "meshcd report --repo . --base \"origin/${{ github.base_ref }}\" --output-dir \"$REPORT_DIR\"",
        "bash .meshcd/src/deploy/ci/sync-comments.sh --author 'github-actions[bot]' \"$REPORT_DIR\" \"$COMMENTS_URL\"",
        "cargo install --locked --path .meshcd/src",
    ] {
        assert!(all_runs.contains(needle), "{needle}\n{all_runs}");
    }
    assert!(uses.contains(&"github/codeql-action/upload-sarif@v3"));
    let upload = steps
        .iter()
        .find(|s| str_of(s, "uses").starts_with("github/codeql-action/upload-sarif"))
        .unwrap();
    assert_eq!(
        str_of(upload.get("with").unwrap(), "sarif_file"),
        "meshcd.sarif"
    );
    let sync_step = steps
        .iter()
        .find(|s| str_of(s, "run").contains("sync-comments.sh"))
        .unwrap();
    let env = sync_step.get("env").unwrap();
    assert_eq!(str_of(env, "GITHUB_TOKEN"), "${{ github.token }}");
    assert_eq!(
        str_of(env, "COMMENTS_URL"),
        "${{ github.event.pull_request.comments_url }}"
    );
    // The meshcd checkout the script is run from is this repository's layout.
    let checkout = steps
        .iter()
        .find(|s| {
            s.get("with")
                .is_some_and(|w| str_of(w, "path") == ".meshcd/src")
        })
        .expect("meshcd checkout");
    assert_eq!(
        str_of(checkout.get("with").unwrap(), "repository"),
        "${{ env.MESHCD_REPOSITORY }}"
    );
    assert!(project_root().join("deploy/ci/sync-comments.sh").is_file());

    let scan = job("code-scanning");
    assert!(str_of(scan, "if").contains("default_branch"));
    assert_eq!(
        str_of(scan.get("permissions").unwrap(), "security-events"),
        "write"
    );

    let apply = job("apply");
    assert!(str_of(apply, "if").contains("github.event_name == 'push'"));
    assert!(str_of(apply, "if").contains("default_branch"));
    let apply_runs: Vec<&str> = apply
        .get("steps")
        .and_then(|s| s.as_sequence())
        .unwrap()
        .iter()
        .map(|s| str_of(s, "run"))
        .collect();
    assert!(apply_runs
        .iter()
        .any(|r| r.starts_with("meshcd apply --config meshcd.yaml")));

    for (name, job) in jobs {
        for step in job.get("steps").and_then(|s| s.as_sequence()).unwrap() {
            if let Some(action) = step.get("uses").and_then(|u| u.as_str()) {
                assert!(action.contains('@'), "{action} is not pinned");
            }
            if let Some(run) = step.get("run").and_then(|r| r.as_str()) {
                assert_shell_parses(&format!("{name:?}: {run}"), run);
            }
        }
    }
}

#[test]
fn the_gitlab_job_parses_and_runs_meshcd_and_the_script() {
    let path = "deploy/ci/gitlab/meshcd.gitlab-ci.yml";
    let config = yaml(path);
    let lines = |job: &serde_yaml_ng::Value, key: &str| -> Vec<String> {
        job.get(key)
            .and_then(|s| s.as_sequence())
            .map(|s| s.iter().map(|l| l.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let template = config.get(".meshcd").expect(".meshcd");
    let setup = lines(template, "before_script").join("\n");
    assert!(setup.contains("cargo install --locked --path .meshcd/src --root .meshcd meshcd"));
    for name in ["meshcd-validate", "meshcd-report", "meshcd-apply"] {
        let job = config.get(name).unwrap_or_else(|| panic!("job {name}"));
        assert_eq!(str_of(job, "extends"), ".meshcd", "{name}");
        let script = lines(job, "script").join("\n");
        assert_shell_parses(name, &format!("{setup}\n{script}"));
        let rules = serde_yaml_ng::to_string(job.get("rules").unwrap()).unwrap();
        if name == "meshcd-apply" {
            assert!(
                rules.contains("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"),
                "{rules}"
            );
            assert!(
                script.contains("meshcd apply --config meshcd.yaml"),
                "{script}"
            );
        } else {
            assert!(rules.contains("merge_request_event"), "{rules}");
        }
        if name == "meshcd-report" {
            for needle in [
                "meshcd report --repo . --base \"origin/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME}\"",
                "--max-comment-chars 1000000",
                "--output-dir \"$REPORT_DIR\"",
                "GITLAB_TOKEN=\"$MESHCD_GITLAB_TOKEN\" bash .meshcd/src/deploy/ci/sync-comments.sh --gitlab",
                "/projects/${CI_PROJECT_ID}/merge_requests/${CI_MERGE_REQUEST_IID}/notes",
            ] {
                assert!(script.contains(needle), "{needle}\n{script}");
            }
        }
    }
}

/// The directory holding the `meshcd` binary under test.
fn meshcd_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_meshcd"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a pre-commit hook's entry as pre-commit does (shlex-split, no shell, filenames not
/// passed), in `repo`, with the meshcd under test first on PATH.
fn run_hook(entry: &str, repo: &Path) -> Run {
    let path = format!(
        "{}:{}",
        meshcd_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new("python3")
        .args([
            "-c",
            "import shlex, subprocess, sys; sys.exit(subprocess.call(shlex.split(sys.argv[1])))",
            entry,
        ])
        .current_dir(repo)
        .env("PATH", path)
        .env("MESHCD_CACHE_DIR", cache.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn the_pre_commit_hook_validates_what_is_staged() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_sequence().unwrap();
    let hook = hooks
        .iter()
        .find(|h| str_of(h, "id") == "meshcd-validate")
        .expect("hook meshcd-validate");
    assert_eq!(str_of(hook, "language"), "system");
    assert_eq!(
        hook.get("pass_filenames").and_then(|v| v.as_bool()),
        Some(false)
    );
    let files = str_of(hook, "files");
    assert!(files.contains("ya?ml") && files.contains("rego"), "{files}");
    let entry = str_of(hook, "entry");
    assert!(entry.contains("meshcd validate --repo ."), "{entry}");
    let build = hooks
        .iter()
        .find(|h| str_of(h, "id") == "meshcd-validate-build")
        .expect("hook meshcd-validate-build");
    assert_eq!(str_of(build, "language"), "rust");
    assert_eq!(str_of(build, "entry"), entry);

    let repo = TestRepo::new();
    repo.copy_from_project("samples/cloud-run-mesh", "mesh");
    repo.commit("a clean sample");
    let path = repo.path();
    let head = git(path, &["rev-parse", "HEAD"]);
    assert_eq!(run_hook(entry, path).code, 0);

    // A broken route staged (not committed): the hook fails on it.
    let broken = project_file("samples/invalid/MC101-weight-negative.yaml");
    std::fs::write(path.join("mesh/broken.yaml"), &broken).unwrap();
    git(path, &["add", "mesh/broken.yaml"]);
    let run = run_hook(entry, path);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("mesh/broken.yaml"), "{}", run.stdout);
    // Only staged content counts: unstaged, the same file is not checked.
    git(path, &["reset", "-q", "mesh/broken.yaml"]);
    assert_eq!(run_hook(entry, path).code, 0);

    // Committed broken, a fix staged: the hook passes (it is not checking HEAD).
    std::fs::write(path.join("mesh/broken.yaml"), &broken).unwrap();
    git(path, &["add", "mesh/broken.yaml"]);
    git(
        path,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "broken",
        ],
    );
    let head = {
        assert_ne!(git(path, &["rev-parse", "HEAD"]), head);
        git(path, &["rev-parse", "HEAD"])
    };
    git(path, &["rm", "-q", "mesh/broken.yaml"]);
    let run = run_hook(entry, path);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Nothing was committed and no branch moved.
    assert_eq!(git(path, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(path, &["status", "--porcelain"]), "D  mesh/broken.yaml");
}
