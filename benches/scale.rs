//! Scale benchmark: a generated Git repository of 10,000 routes, read, loaded, checked and
//! planned in process and through the real `meshcd` binary; prints a table of timings and peak
//! memory (no assertions on time).
//!
//! Run with `cargo bench --bench scale`. `MESHCD_BENCH_ROUTES=2000` makes a smaller repository.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::{Oid, Repository};
use meshcd::source::{GitSource, RepoSpec};
use meshcd_core::{plan, policy, Severity};

use common::repo_gen::Routes;
use common::{commit_tree, init_repo, ms};

/// Fixed seed: every run benchmarks the same repository.
const SEED: u64 = 0x6d65_7368_6364;
/// Repetitions of the in-process phases (the median is reported).
const RUNS: usize = 5;
/// Repetitions of each CLI command.
const CLI_RUNS: usize = 5;
/// Set on a re-run of this benchmark's own executable that only runs one command and reports
/// its exit code, wall time and max RSS to the file the variable names (see [`measure_child`]).
const MEASURE_ENV: &str = "MESHCD_BENCH_MEASURE";

fn main() {
    if let Some(report) = std::env::var_os(MEASURE_ENV) {
        measure_child(Path::new(&report));
        return;
    }
    let route_count: u32 = std::env::var("MESHCD_BENCH_ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let started = Instant::now();
    let work = tempfile::tempdir().expect("temp dir");
    let repo_dir = work.path().join("repo");
    let cache_dir = work.path().join("cache");
    std::fs::create_dir_all(&cache_dir).expect("cache dir");

    // ---- Generate the two revisions and commit them.
    let t = Instant::now();
    let first = Routes::generate(route_count, SEED);
    let (second, churn) = first.next_revision(10, 1);
    let first_files = first.files();
    let second_files = second.files();
    let repo = init_repo(&repo_dir).expect("git init");
    commit(&repo, &first_files, "10k routes");
    commit(&repo, &second_files, "reweight 10 %, add/remove 1 %");
    let setup = t.elapsed();
    let bytes: usize = second_files.values().map(String::len).sum();
    let documents: usize = second_files
        .values()
        .map(|text| text.matches("\n---\n").count() + 1)
        .sum();
    println!("meshcd scale benchmark (seed {SEED:#x})");
    println!(
        "repository: {} routes at HEAD ({}), {} files, {} documents, {:.1} MiB of YAML; generated and committed in {:.0} ms",
        second.routes.len(),
        second
            .census()
            .iter()
            .map(|(flavor, n)| format!("{flavor:?} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        second_files.len(),
        documents,
        bytes as f64 / MIB,
        ms(setup)
    );
    println!(
        "HEAD~1 -> HEAD: {} routes reweighted, {} added, {} removed",
        churn.reweighted, churn.added, churn.removed
    );
    let per_route = second.routes.len() as f64;
    let mut table = Table::default();

    // ---- Read snapshots from Git.
    let spec = RepoSpec::Local(repo_dir.clone());
    let (times, peak) = measure(RUNS, || {
        let source = GitSource::open(&spec, &cache_dir).expect("open repository");
        source.snapshot(None, "").expect("snapshot")
    });
    table.row("git snapshot (cold)", &times, peak, per_route);
    let source = GitSource::open(&spec, &cache_dir).expect("open repository");
    let head = source.snapshot(None, "").expect("snapshot");
    let (times, peak) = measure(RUNS, || source.snapshot(None, "").expect("snapshot"));
    table.row("git snapshot (cache hit)", &times, peak, per_route);
    let base = source.snapshot(Some("HEAD~1"), "").expect("snapshot");

    // ---- Load, check, plan in process.
    let (times, peak) = measure(RUNS, || meshcd_core::load(head.files.as_ref().clone()));
    table.row("load (parse+classify+typed)", &times, peak, per_route);
    let desired = meshcd_core::load(head.files.as_ref().clone());

    let (times, peak) = measure(RUNS, || policy::check(&desired));
    table.row("policy check", &times, peak, per_route);
    let findings = policy::check(&desired);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();

    let slowest_rules = time_rules(&desired);

    let applied = meshcd_core::load(base.files.as_ref().clone());
    let (times, peak) = measure(RUNS, || plan::plan(&desired, &applied));
    table.row("plan HEAD~1 -> HEAD", &times, peak, per_route);
    let the_plan = plan::plan(&desired, &applied);

    // ---- The real binary, end to end.
    let mut baseline_note = None;
    let cli = match meshcd_binary() {
        Ok(binary) => {
            let repo_arg = repo_dir.display().to_string();
            let out = work.path().join("out.json");
            let validate = cli_runs(
                &binary,
                &["validate", "--repo", &repo_arg, "--format", "json"],
                &cache_dir,
                &out,
            );
            table.cli_row("cli validate --format json", &validate, per_route);
            let validate_json = read_json(&out);
            // Another build of meshcd to compare with (an earlier commit, say):
            // MESHCD_BENCH_BASELINE=/path/to/meshcd.
            if let Some(baseline) = std::env::var_os("MESHCD_BENCH_BASELINE") {
                let before = cli_runs(
                    Path::new(&baseline),
                    &["validate", "--repo", &repo_arg, "--format", "json"],
                    &cache_dir,
                    &out,
                );
                table.cli_row("cli validate, MESHCD_BENCH_BASELINE", &before, per_route);
                let ratio = |now: Option<u64>, then: Option<u64>| match (now, then) {
                    (Some(now), Some(then)) if then > 0 => {
                        format!("{:.2}", now as f64 / then as f64)
                    }
                    _ => "n/a".to_string(),
                };
                baseline_note = Some(format!(
                    "cli validate / baseline: time {:.2} (medians), peak memory {}",
                    median(&validate.times).as_secs_f64() / median(&before.times).as_secs_f64(),
                    ratio(validate.peak_kib, before.peak_kib)
                ));
            }
            let plan_run = cli_runs(
                &binary,
                &[
                    "plan", "--repo", &repo_arg, "--base", "HEAD~1", "--format", "json",
                ],
                &cache_dir,
                &out,
            );
            table.cli_row("cli plan --base HEAD~1 --format json", &plan_run, per_route);
            let plan_json = read_json(&out);
            Some((validate, validate_json, plan_run, plan_json))
        }
        Err(missing) => {
            println!(
                "\nCLI phases skipped: {} not found; build it first with `cargo build --release`",
                missing.display()
            );
            None
        }
    };

    // ---- The reference: PyYAML's C loader merely parsing the same files.
    let pyyaml = pyyaml_parse(&work.path().join("yaml"), &second_files);
    match &pyyaml {
        Some(times) => table.row(
            "PyYAML CLoader parse only (reference)",
            times,
            None,
            per_route,
        ),
        None => {
            println!("\nPyYAML reference skipped: python3 with PyYAML built on libyaml not found")
        }
    }

    println!();
    table.print();
    println!();
    if let (Some(py), Some((validate, ..))) = (&pyyaml, &cli) {
        println!(
            "cli validate / PyYAML CLoader parse: {:.2} (medians)",
            median(&validate.times).as_secs_f64() / median(py).as_secs_f64()
        );
    }
    if let Some(note) = &baseline_note {
        println!("{note}");
    }
    println!(
        "in process: {} files, {} resources, {} findings ({} errors, {} warnings)",
        desired.files.len(),
        desired.resources.len(),
        findings.len(),
        errors,
        findings.len() - errors
    );
    let mut by_rule: BTreeMap<(&str, Severity), usize> = BTreeMap::new();
    for finding in &findings {
        *by_rule.entry((finding.rule, finding.severity)).or_default() += 1;
    }
    for ((rule, severity), count) in &by_rule {
        println!("  {rule} {severity}: {count}");
    }
    for finding in findings.iter().take(3) {
        println!("  e.g. {finding}");
    }
    println!(
        "slowest rules (fastest of 3 runs, IR built once): {}",
        slowest_rules
            .iter()
            .take(5)
            .map(|(code, name, time)| format!("{code} {name} {:.1} ms", ms(*time)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let s = the_plan.summary;
    println!(
        "plan: {} changes (create {}, update {} of which rollouts {}, delete {}; unchanged {})",
        the_plan.changes.len(),
        s.create,
        s.update,
        s.rollouts,
        s.delete,
        s.unchanged
    );
    if let Some((validate, validate_json, plan_run, plan_json)) = cli {
        println!(
            "cli validate: exit {}, summary {}",
            validate.code, validate_json["summary"]
        );
        println!(
            "cli plan: exit {}, summary {}, {} changes",
            plan_run.code,
            plan_json["summary"],
            plan_json["changes"].as_array().map_or(0, Vec::len)
        );
    }
    println!(
        "peak MiB: the process's VmHWM during the phase (reset before each phase); for the CLI, \
         the command's max RSS (getrusage RUSAGE_CHILDREN in a small intermediate process)"
    );
    println!(
        "total benchmark time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

const MIB: f64 = 1024.0 * 1024.0;

/// Commits `files` as the whole tree (written straight to the object database: the work tree
/// stays empty, which is fine as meshcd reads committed trees only). Returns the commit id.
fn commit(repo: &Repository, files: &BTreeMap<String, String>, message: &str) -> Oid {
    let mut index = git2::Index::new().expect("index");
    for (path, text) in files {
        let id = repo.blob(text.as_bytes()).expect("blob");
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100_644,
            uid: 0,
            gid: 0,
            file_size: u32::try_from(text.len()).unwrap_or(u32::MAX),
            id,
            flags: u16::try_from(path.len().min(0xfff)).unwrap_or(0xfff),
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        index.add(&entry).expect("index add");
    }
    let tree_id = index.write_tree_to(repo).expect("write tree");
    let tree = repo.find_tree(tree_id).expect("tree");
    commit_tree(repo, &tree, message).expect("commit")
}

/// Runs `f` `runs` times; returns each run's time and the process's peak RSS (KiB) meanwhile.
fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<Duration>, Option<u64>) {
    reset_peak_rss();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let value = f();
        times.push(t.elapsed());
        drop(value);
    }
    (times, proc_status_kib("VmHWM"))
}

/// Times each built-in rule over `loaded` (the IR is built once, as `policy::check` does): the
/// fastest of three runs, as single runs of a few milliseconds are noisy. Slowest rule first.
fn time_rules(loaded: &meshcd_core::Loaded) -> Vec<(&'static str, &'static str, Duration)> {
    let context = policy::Context::new(&loaded.resources);
    let mut times: Vec<_> = policy::rules::ALL
        .iter()
        .filter_map(|rule| {
            let check = rule.check?;
            let fastest = (0..3)
                .map(|_| {
                    let mut findings = Vec::new();
                    let t = Instant::now();
                    check(&context, &mut findings);
                    t.elapsed()
                })
                .min()?;
            Some((rule.code, rule.name, fastest))
        })
        .collect();
    times.sort_by_key(|&(_, _, time)| std::cmp::Reverse(time));
    times
}

/// Resets the process's VmHWM to its current RSS (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `kB` field of `/proc/self/status`.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `target/<profile>/meshcd`, next to this benchmark's `target/<profile>/deps/` folder.
fn meshcd_binary() -> Result<PathBuf, PathBuf> {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| {
            if deps.file_name().is_some_and(|n| n == "deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .expect("target folder")
        .to_path_buf();
    let binary = profile_dir.join(format!("meshcd{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(binary)
    }
}

/// The CLI runs of one command.
struct CliRuns {
    times: Vec<Duration>,
    peak_kib: Option<u64>,
    code: i32,
}

/// Runs the binary `CLI_RUNS` times with stdout to `out`; wall time and the child's max RSS.
///
/// Each run goes through a small copy of this executable ([`measure_child`]) rather than being
/// spawned from here: Linux carries a process's RSS high-water mark across `fork` and `exec`,
/// so a child of this process (holding the loaded repositories) would report at least this
/// process's peak as its own.
fn cli_runs(binary: &Path, args: &[&str], cache_dir: &Path, out: &Path) -> CliRuns {
    let me = std::env::current_exe().expect("current exe");
    let report = out.with_extension("rusage");
    let mut runs = CliRuns {
        times: Vec::new(),
        peak_kib: None,
        code: -1,
    };
    for _ in 0..CLI_RUNS {
        let stdout = File::create(out).expect("output file");
        let status = Command::new(&me)
            .arg(binary)
            .args(args)
            .env(MEASURE_ENV, &report)
            .env("MESHCD_CACHE_DIR", cache_dir)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(stdout))
            .status()
            .expect("run the measuring copy of this benchmark");
        assert!(status.success(), "measuring run failed: {status}");
        let text = std::fs::read_to_string(&report).expect("rusage report");
        let fields: Vec<i64> = text
            .split_whitespace()
            .map(|f| f.parse().expect("number"))
            .collect();
        let [code, nanos, max_rss_kib] = fields[..] else {
            panic!("bad rusage report: {text}")
        };
        runs.code = i32::try_from(code).unwrap_or(-1);
        runs.times
            .push(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)));
        runs.peak_kib = runs.peak_kib.max(u64::try_from(max_rss_kib).ok());
    }
    runs
}

/// The measuring copy: runs the command in its arguments (stdout and stderr inherited), waits,
/// and writes `exit-code wall-nanoseconds max-rss-KiB` to `report`. Its own RSS is a few MiB,
/// so the child's high-water mark is the command's own.
fn measure_child(report: &Path) {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("command to measure");
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .env_remove(MEASURE_ENV)
        .status()
        .expect("run command");
    let elapsed = started.elapsed();
    let code = status.code().unwrap_or(-1);
    std::fs::write(
        report,
        format!("{code} {} {}", elapsed.as_nanos(), children_max_rss_kib()),
    )
    .expect("write rusage report");
}

/// The largest max RSS among the children waited for (here, the one command), in KiB.
fn children_max_rss_kib() -> libc::c_long {
    // SAFETY: rusage is plain old data, so all-zero bytes is a valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, exclusive pointer to an rusage for the duration of the call;
    // getrusage only writes to it.
    let result = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(result, 0, "getrusage: {}", std::io::Error::last_os_error());
    // Linux reports ru_maxrss in KiB.
    usage.ru_maxrss
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read CLI output");
    serde_json::from_str(&text).unwrap_or_else(|e| {
        let head: String = text.chars().take(500).collect();
        panic!("CLI output is not JSON ({e}): {head}")
    })
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Writes the files to `dir` and times PyYAML's C loader reading every document of every file
/// (interpreter start excluded), `CLI_RUNS` times; `None` without python3, PyYAML or libyaml.
fn pyyaml_parse(dir: &Path, files: &BTreeMap<String, String>) -> Option<Vec<Duration>> {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::write(path, text).ok()?;
    }
    let script = "import glob,sys,time,yaml\n\
        assert yaml.__with_libyaml__\n\
        t=time.perf_counter()\n\
        for p in sorted(glob.glob(sys.argv[1]+'/**/*.yaml',recursive=True)):\n\
        \x20   list(yaml.load_all(open(p).read(),Loader=yaml.CLoader))\n\
        print(int((time.perf_counter()-t)*1e9))\n";
    let mut times = Vec::new();
    for _ in 0..CLI_RUNS {
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(dir)
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let nanos: u64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .ok()?;
        times.push(Duration::from_nanos(nanos));
    }
    Some(times)
}

/// The printed table.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    fn row(&mut self, phase: &str, times: &[Duration], peak_kib: Option<u64>, routes: f64) {
        let mut sorted = times.to_vec();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        let min = sorted[0];
        self.rows.push([
            phase.to_string(),
            times.len().to_string(),
            format!("{:.3}", ms(median)),
            format!("{:.3}", ms(min)),
            format!("{:.2}", median.as_secs_f64() * 1e6 / routes),
            peak_kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        ]);
    }

    fn cli_row(&mut self, phase: &str, runs: &CliRuns, routes: f64) {
        self.row(phase, &runs.times, runs.peak_kib, routes);
    }

    fn print(&self) {
        let header = [
            "phase",
            "runs",
            "median ms",
            "min ms",
            "µs/route",
            "peak MiB",
        ];
        let mut widths = header.map(|h| h.chars().count());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let mut text = String::from("|");
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                let pad = width - cell.chars().count();
                if i == 0 {
                    text.push_str(&format!(" {cell}{} |", " ".repeat(pad)));
                } else {
                    text.push_str(&format!(" {}{cell} |", " ".repeat(pad)));
                }
            }
            text
        };
        println!("{}", line(header));
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    "-".repeat(*w)
                } else {
                    format!("{}:", "-".repeat(w - 1))
                }
            })
            .collect();
        println!(
            "|{}|",
            rule.iter()
                .map(|r| format!(" {r} "))
                .collect::<Vec<_>>()
                .join("|")
        );
        for row in &self.rows {
            println!("{}", line(row.each_ref().map(String::as_str)));
        }
    }
}
