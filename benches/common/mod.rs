//! What the benchmarks share (each declares `mod common;`): a `main` for the benchmarks of the
//! release binary ([`run_release_bench`]), repository content and Git commits made in process
//! with libgit2, child processes (free ports, stopping, `pgrep`), a `meshcd run` with a managed
//! Envoy ([`Daemon`]), and the min / median / p95 / max line of a table ([`summary`]).
//!
//! Also here: the loopback HTTP [`backend`] of the tests, and the generator of large route
//! repositories ([`repo_gen`]). Each benchmark uses a part of this; the rest is unused there.

#![allow(dead_code)]

#[path = "../../tests/common/backend.rs"]
pub mod backend;
pub mod repo_gen;

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use git2::{IndexAddOption, Oid, Repository, Signature, Tree};

/// A benchmark step's result: any error ends the benchmark with its message.
pub type Res<T> = Result<T, Box<dyn Error>>;

/// Longest any single wait may take.
pub const WAIT: Duration = Duration::from_secs(30);
/// Where the routes' backend services live: `<SERVICES>/<name>`.
pub const SERVICES: &str = "projects/p/locations/global/backendServices";

// ---------------------------------------------------------------------------------------------
// The benchmarks of the release binary.

/// The `main` of a benchmark of the release `meshcd` with a real Envoy: finds both (exit 1 and
/// say how when one is missing), makes a temp folder named `<prefix>…`, and calls
/// `run(meshcd, envoy, tmp, root)`. Then checks that no process naming the temp folder is left
/// running: the benchmark fails if one is, or if `run` failed.
pub fn run_release_bench(
    bench: &str,
    prefix: &str,
    run: impl FnOnce(&Path, &Path, &Path, &Path) -> Res<()>,
) -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let meshcd = root.join("target/release/meshcd");
    if !meshcd.is_file() {
        println!(
            "{} not found: build it first with `cargo build --release`",
            meshcd.display()
        );
        return ExitCode::from(1);
    }
    let envoy = match meshcd::envoy::find_envoy(None) {
        Ok(path) => path,
        Err(e) => {
            println!("no Envoy found (set MESHCD_ENVOY): {e}");
            return ExitCode::from(1);
        }
    };
    let tmp = match tempfile::Builder::new().prefix(prefix).tempdir() {
        Ok(tmp) => tmp,
        Err(e) => {
            eprintln!("{bench}: cannot make a temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let result = run(&meshcd, &envoy, tmp.path(), &root);
    // Every guard has been dropped by now; check nothing naming our folder is left running.
    let left: Vec<String> = pgrep(&tmp.path().display().to_string())
        .into_iter()
        .map(|pid| format!("{pid} {}", cmdline(pid)))
        .collect();
    let left_text = if left.is_empty() {
        "none".to_string()
    } else {
        left.join("; ")
    };
    match result {
        Ok(()) => {
            println!("processes left running: {left_text}");
            println!(
                "total benchmark time: {:.1} s",
                started.elapsed().as_secs_f64()
            );
            if left.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{bench}: {e}");
            eprintln!("processes left running: {left_text}");
            ExitCode::FAILURE
        }
    }
}

/// A file under `dir` modified after `binary`, if any (the binary may be stale).
pub fn newer_source(binary: &Path, dir: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.modified().is_ok_and(|m| m > built) {
                return Some(path);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Repository content.

/// A meshcd `Backend` named `name` with the alias `alias`, one endpoint on 127.0.0.1.
pub fn backend_document(name: &str, alias: &str, port: usize, protocol: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: {name}
spec:
  aliases:
  - {alias}
  endpoints:
  - address: 127.0.0.1
    port: {port}
  protocol: {protocol}
"
    )
}

/// A networkservices `HttpRoute` `name` for `host` (mesh `projects/p/.../meshes/mesh`), splitting
/// its traffic between `<SERVICES>/<a>` and `<SERVICES>/<b>` with the weights given.
pub fn split_route(name: &str, host: &str, (a, wa): (&str, u32), (b, wb): (&str, u32)) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: {name}
hostnames:
- {host}
meshes:
- projects/p/locations/global/meshes/mesh
rules:
- action:
    destinations:
    - serviceName: {SERVICES}/{a}
      weight: {wa}
    - serviceName: {SERVICES}/{b}
      weight: {wb}
"
    )
}

/// meshcd `Backend`s (HTTP), each with the alias `<SERVICES>/<name>`, on 127.0.0.1.
pub fn backends(list: &[(&str, u16)]) -> String {
    list.iter()
        .map(|(name, port)| {
            backend_document(name, &format!("{SERVICES}/{name}"), (*port).into(), "http")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

// ---------------------------------------------------------------------------------------------
// Git (libgit2, in process).

/// An empty repository on branch `main`.
pub fn init_repo(dir: &Path) -> Res<Repository> {
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    Ok(Repository::init_opts(dir, &options)?)
}

/// Stages the whole work tree and commits it on HEAD (`git add -A && git commit`).
pub fn commit(repo: &Repository, message: &str) -> Res<Oid> {
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    commit_tree(repo, &tree, message)
}

/// Commits `tree` on HEAD (after HEAD's commit, if any).
pub fn commit_tree(repo: &Repository, tree: &Tree<'_>, message: &str) -> Res<Oid> {
    let signature = Signature::now("Bench", "bench@example.com")?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    Ok(repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        tree,
        &parents,
    )?)
}

/// Writes a file, making its folders.
pub fn write(path: &Path, text: &str) -> Res<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// A free loopback port: bind 127.0.0.1:0, read it, close.
pub fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// SIGTERM, up to 10 s for the exit, then SIGKILL; always reaps.
pub fn stop_child(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: `kill` has no memory effects; the pid is our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Pids of processes whose command line contains `pattern` (`pgrep -f`).
pub fn pgrep(pattern: &str) -> Vec<u32> {
    Command::new("pgrep")
        .args(["-f", pattern])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .filter(|pid| *pid != std::process::id())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line of `pid`, or `?`.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------------------------------------
// `meshcd run` with a managed Envoy.

/// How to run a [`Daemon`].
pub struct DaemonOptions<'a> {
    /// Its folder under the temp folder (configuration, state, Envoy, log).
    pub name: &'a str,
    /// `watch:` (the `.git` watcher).
    pub watch: bool,
    /// More configuration lines (top level, e.g. `webhook:`), each ending in a newline.
    pub extra: String,
    /// `RUST_LOG` of the daemon.
    pub rust_log: &'a str,
    /// More lines under `target.envoy` (indented by four, e.g. `    delivery: ads`).
    pub envoy_extra: String,
}

/// A running `meshcd run` with a managed Envoy (no polling, no self-heal). Dropping it stops
/// it, then kills by pid any process still naming its Envoy folder.
pub struct Daemon {
    pub child: Child,
    /// Its API (`server.listen`, a free port read from its first stdout line).
    pub addr: SocketAddr,
    /// Envoy's listener and admin ports.
    pub http_port: u16,
    pub admin_port: u16,
    /// Envoy's folder.
    pub work_dir: PathBuf,
    /// The daemon's stderr.
    pub log: PathBuf,
    /// When its first stdout line (`meshcd: listening on ...`) arrived.
    pub listening: Instant,
}

impl Daemon {
    /// Writes `<tmp>/<name>/meshcd.yaml` for `repo` and starts `meshcd run` on it; returns once
    /// it listens.
    pub fn start(
        meshcd: &Path,
        envoy: &Path,
        tmp: &Path,
        repo: &Path,
        options: DaemonOptions<'_>,
    ) -> Res<Self> {
        let DaemonOptions {
            name,
            watch,
            extra,
            rust_log,
            envoy_extra,
        } = options;
        let dir = tmp.join(name);
        std::fs::create_dir_all(&dir)?;
        let work_dir = dir.join("envoy");
        let (admin_port, http_port) = (free_port()?, free_port()?);
        let config = dir.join("meshcd.yaml");
        write(
            &config,
            &format!(
                "repo: {repo}
rev: main
pollInterval: 0s
watch: {watch}
selfHeal: false
shutdownTimeout: 5s
server:
  listen: \"127.0.0.1:0\"
{extra}stateDir: {state}
target:
  envoy:
    manage: true
    binary: {envoy}
    adminPort: {admin_port}
    httpPort: {http_port}
    workDir: {work}
{envoy_extra}",
                repo = repo.display(),
                state = dir.join("state").display(),
                envoy = envoy.display(),
                work = work_dir.display(),
            ),
        )?;
        let log = dir.join("meshcd.log");
        let mut child = Command::new(meshcd)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut daemon = Self {
            child,
            addr: loopback(0),
            http_port,
            admin_port,
            work_dir,
            log,
            listening: Instant::now(),
        };
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        daemon.listening = Instant::now();
        match line
            .trim()
            .strip_prefix("meshcd: listening on http://")
            .and_then(|a| a.parse().ok())
        {
            Some(addr) => daemon.addr = addr,
            None => {
                return Err(daemon.failure(&format!(
                    "meshcd run ({name}) did not start: first stdout line {line:?}"
                )))
            }
        }
        Ok(daemon)
    }

    /// An error with `message` and the end of the daemon's log.
    pub fn failure(&self, message: &str) -> Box<dyn Error> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "{message}\nmeshcd log ({}), last lines:\n{}",
            self.log.display(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
        .into()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop_child(&mut self.child);
        // An Envoy the daemon could not stop (it never should): kill it by pid.
        for pid in pgrep(&self.work_dir.display().to_string()) {
            eprintln!("killing stray process {pid} ({})", cmdline(pid));
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: `kill` has no memory effects.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output.

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of a table: `label`, then min / median / p95 / max in `unit`, and n.
pub fn summary(label: &str, samples: &mut [f64], unit: &str) {
    if samples.is_empty() {
        println!("{label:<46} no samples");
        return;
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<46} min {:>8.2}  median {:>8.2}  p95 {:>8.2}  max {:>8.2} {unit:<3}  (n={})",
        at(0.0),
        at(0.5),
        at(0.95),
        at(1.0),
        samples.len()
    );
}
