//! Adopting an Envoy that an earlier meshcd started and left running (it was killed, ran out of
//! memory, or panicked): instead of replacing it, which drops the requests in flight and refuses
//! new ones until the new Envoy listens, a restarted meshcd checks that it is the Envoy it would
//! start, and supervises it again.
//!
//! The checks, in order, each failing with its own [`NotAdoptable`] reason:
//! 1. a pid file (`run/envoy.pid.json`) exists and is a meshcd record;
//! 2. the machine did not reboot since (boot id), and the pid still runs (not a zombie), with the
//!    recorded start time (a reused pid has another) and command line;
//! 3. it was started with the command line and bootstrap this meshcd would use now (a changed
//!    binary, admin port, concurrency or bootstrap means a new Envoy);
//! 4. its admin interface answers `/server_info`, `LIVE`, naming this folder's bootstrap.
//!
//! Whether it serves what the folder's files hold is checked after (see [`served_differences`]):
//! a difference does not stop the adoption, since a new Envoy would serve the same files (or
//! fail on them, if they hold an update the old one rejected); the startup reconcile publishes
//! the desired configuration either way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::pidfile::{PidFileError, PidRecord, ProcessInfo};
use crate::envoy::admin::AdminClient;
use crate::envoy::files::{self, ResourceKind};
use crate::envoy::shape::RouteShape;
use crate::envoy::EnvoyError;

/// What the Envoy to adopt must have been started with.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The command line this meshcd would run (the binary first).
    pub command: Vec<String>,
    /// SHA-256 (hex) of the bootstrap this meshcd would write.
    pub bootstrap_sha256: String,
    /// The bootstrap's path.
    pub bootstrap: PathBuf,
    /// This boot's id.
    pub boot_id: String,
}

/// Why a recorded Envoy is not adopted (and a new one is started instead).
#[derive(Debug, thiserror::Error)]
pub enum NotAdoptable {
    /// No pid file: no Envoy was left running by a meshcd (or it was stopped in order).
    #[error("no pid file at {}", .path.display())]
    NoRecord {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The pid file cannot be read.
    #[error(transparent)]
    BadRecord(#[from] PidFileError),
    /// The machine restarted since the Envoy was started.
    #[error("the pid file names process {pid} of an earlier boot")]
    Rebooted {
        /// The recorded pid.
        pid: u32,
    },
    /// The recorded process does not run any more.
    #[error("the pid file names process {pid}, which no longer runs (stale pid file)")]
    Gone {
        /// The recorded pid.
        pid: u32,
    },
    /// The pid runs, but it is another process (the pid was reused).
    #[error(
        "process {pid} is not the Envoy meshcd started: it started at tick {found}, the \
         recorded Envoy at tick {recorded}"
    )]
    OtherProcess {
        /// The recorded pid.
        pid: u32,
        /// The recorded start time.
        recorded: u64,
        /// The start time found.
        found: u64,
    },
    /// The process runs another command line than the one recorded, or than this meshcd would
    /// start (its configuration changed).
    #[error("Envoy {pid} runs `{found}`, but this meshcd would run `{wanted}`")]
    OtherCommand {
        /// The recorded pid.
        pid: u32,
        /// Its command line.
        found: String,
        /// The one wanted.
        wanted: String,
    },
    /// The Envoy was started with another bootstrap than this meshcd writes.
    #[error("Envoy {pid} was started with another bootstrap than this meshcd writes")]
    OtherBootstrap {
        /// The recorded pid.
        pid: u32,
    },
    /// Its admin interface does not answer.
    #[error("Envoy {pid} does not answer on its admin interface")]
    AdminSilent {
        /// The recorded pid.
        pid: u32,
        /// The admin error.
        #[source]
        source: EnvoyError,
    },
    /// Its admin interface answers, but it is not serving.
    #[error("Envoy {pid} is {state}, not LIVE")]
    NotLive {
        /// The recorded pid.
        pid: u32,
        /// The state it reports.
        state: String,
    },
    /// The Envoy answering on the admin port was started with another bootstrap file.
    #[error("the Envoy answering on {url} runs {found}, not {}", .wanted.display())]
    OtherAdmin {
        /// The admin URL.
        url: String,
        /// The bootstrap it reports.
        found: String,
        /// The one wanted.
        wanted: PathBuf,
    },
}

/// Checks a pid file's record against what `/proc` shows for its pid (`found`) and what this
/// meshcd would start. Pure: the unit tests give it any record and process.
pub fn check_process(
    record: &PidRecord,
    found: Option<&ProcessInfo>,
    expected: &Expected,
) -> Result<(), NotAdoptable> {
    let pid = record.pid;
    if !record.boot_id.is_empty()
        && !expected.boot_id.is_empty()
        && record.boot_id != expected.boot_id
    {
        return Err(NotAdoptable::Rebooted { pid });
    }
    let found = match found {
        Some(found) if !found.zombie => found,
        _ => return Err(NotAdoptable::Gone { pid }),
    };
    if found.start_time != record.start_time {
        return Err(NotAdoptable::OtherProcess {
            pid,
            recorded: record.start_time,
            found: found.start_time,
        });
    }
    for (command, wanted) in [
        (&found.command, &record.command),
        (&record.command, &expected.command),
    ] {
        if command != wanted {
            return Err(NotAdoptable::OtherCommand {
                pid,
                found: command.join(" "),
                wanted: wanted.join(" "),
            });
        }
    }
    if record.bootstrap_sha256 != expected.bootstrap_sha256 {
        return Err(NotAdoptable::OtherBootstrap { pid });
    }
    Ok(())
}

/// The whole check: the pid file at `pid_path`, the process, then the admin interface. Returns
/// the record of an Envoy to adopt.
pub async fn find(
    pid_path: &Path,
    expected: &Expected,
    admin: &AdminClient,
) -> Result<PidRecord, NotAdoptable> {
    let record = PidRecord::read(pid_path)?.ok_or_else(|| NotAdoptable::NoRecord {
        path: pid_path.to_path_buf(),
    })?;
    check_process(&record, ProcessInfo::read(record.pid).as_ref(), expected)?;
    let pid = record.pid;
    let info = admin
        .server_info()
        .await
        .map_err(|source| NotAdoptable::AdminSilent { pid, source })?;
    if info.state != "LIVE" {
        return Err(NotAdoptable::NotLive {
            pid,
            state: info.state,
        });
    }
    if Path::new(&info.config_path) != expected.bootstrap {
        return Err(NotAdoptable::OtherAdmin {
            url: admin.base_url().to_string(),
            found: info.config_path,
            wanted: expected.bootstrap.clone(),
        });
    }
    Ok(record)
}

/// How what Envoy serves differs from the resource files in `dir` (empty when it serves them):
/// the routes (virtual hosts, destinations and weights), the active clusters, and listeners not
/// active.
pub async fn served_differences(
    admin: &AdminClient,
    dir: &Path,
) -> Result<Vec<String>, EnvoyError> {
    let resources = |kind| -> Result<Vec<Json>, EnvoyError> {
        Ok(files::read_resources(dir, kind)?
            .map(|file| file.resources)
            .unwrap_or_default())
    };
    let mut differences = Vec::new();

    for written in resources(ResourceKind::Routes)? {
        let Some(name) = written.get("name").and_then(Json::as_str) else {
            continue;
        };
        let served = admin
            .config_dump_routes()
            .await?
            .iter()
            .filter_map(|c| c.get("route_config"))
            .find(|rc| rc.get("name").and_then(Json::as_str) == Some(name))
            .map(RouteShape::of);
        let wanted = RouteShape::of(&written);
        match served {
            Some(served) if served == wanted => {}
            Some(served) => differences.push(format!(
                "routes {name}: serves {}, the file holds {}",
                served.summary(),
                wanted.summary()
            )),
            None => differences.push(format!("routes {name}: not served")),
        }
    }

    let written: BTreeSet<String> = names(&resources(ResourceKind::Clusters)?);
    let active: BTreeSet<String> = admin.active_clusters().await?.into_keys().collect();
    if written != active {
        differences.push(format!(
            "clusters: serves {active:?}, the file holds {written:?}"
        ));
    }

    let states = admin.listener_states().await?;
    for name in names(&resources(ResourceKind::Listeners)?) {
        if states.get(&name) != Some(&true) {
            differences.push(format!("listener {name}: not active"));
        }
    }
    Ok(differences)
}

fn names(resources: &[Json]) -> BTreeSet<String> {
    resources
        .iter()
        .filter_map(|r| Some(r.get("name")?.as_str()?.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::super::pidfile::{boot_id, pid_path};
    use super::*;

    fn expected(command: &[&str]) -> Expected {
        Expected {
            command: command.iter().map(|s| s.to_string()).collect(),
            bootstrap_sha256: "abc".into(),
            bootstrap: PathBuf::from("/x/bootstrap.yaml"),
            boot_id: boot_id(),
        }
    }

    fn record_of(pid: u32, info: &ProcessInfo) -> PidRecord {
        PidRecord {
            pid,
            start_time: info.start_time,
            boot_id: boot_id(),
            admin_port: 1,
            command: info.command.clone(),
            bootstrap_sha256: "abc".into(),
        }
    }

    /// A child that runs until killed, killed on drop.
    struct Sleeper(std::process::Child);

    impl Sleeper {
        fn start() -> Self {
            let child = Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .spawn()
                .expect("run sleep");
            // Until the child has exec'd, /proc shows the test's own command line.
            let cmdline = format!("/proc/{}/cmdline", child.id());
            for _ in 0..500 {
                if std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(b"sleep")) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Self(child)
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn only_the_recorded_process_with_the_wanted_command_passes() {
        let sleeper = Sleeper::start();
        let pid = sleeper.0.id();
        let info = ProcessInfo::read(pid).expect("the sleeper runs");
        let record = record_of(pid, &info);
        let wanted: Vec<&str> = info.command.iter().map(String::as_str).collect();
        assert!(check_process(&record, Some(&info), &expected(&wanted)).is_ok());

        // A reused pid: same number, another start time.
        let mut other = record.clone();
        other.start_time += 1;
        assert!(matches!(
            check_process(&other, Some(&info), &expected(&wanted)),
            Err(NotAdoptable::OtherProcess { .. })
        ));
        // This meshcd would start another command (its configuration changed).
        assert!(matches!(
            check_process(&record, Some(&info), &expected(&["envoy", "-c", "x"])),
            Err(NotAdoptable::OtherCommand { .. })
        ));
        // Another bootstrap.
        let mut bootstrap = expected(&wanted);
        bootstrap.bootstrap_sha256 = "def".into();
        assert!(matches!(
            check_process(&record, Some(&info), &bootstrap),
            Err(NotAdoptable::OtherBootstrap { .. })
        ));
        // An earlier boot.
        let mut rebooted = record.clone();
        rebooted.boot_id = "another boot".into();
        assert!(matches!(
            check_process(&rebooted, Some(&info), &expected(&wanted)),
            Err(NotAdoptable::Rebooted { .. })
        ));
        // A zombie is gone.
        let zombie = ProcessInfo {
            zombie: true,
            ..info.clone()
        };
        assert!(matches!(
            check_process(&record, Some(&zombie), &expected(&wanted)),
            Err(NotAdoptable::Gone { .. })
        ));
    }

    #[tokio::test]
    async fn a_stale_pid_file_is_not_adopted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = pid_path(dir.path());
        let admin = AdminClient::loopback(crate::envoy::process::free_port().expect("port"))
            .expect("admin client");

        // No pid file.
        assert!(matches!(
            find(&path, &expected(&["envoy"]), &admin).await,
            Err(NotAdoptable::NoRecord { .. })
        ));

        // A pid file naming a process that exited.
        let mut sleeper = Sleeper::start();
        let pid = sleeper.0.id();
        let info = ProcessInfo::read(pid).expect("the sleeper runs");
        let record = record_of(pid, &info);
        let wanted: Vec<&str> = info.command.iter().map(String::as_str).collect();
        let wanted = expected(&wanted);
        record.write(&path).expect("write the pid file");
        sleeper.0.kill().expect("kill");
        sleeper.0.wait().expect("reap");
        let stale = find(&path, &wanted, &admin).await;
        assert!(
            matches!(stale, Err(NotAdoptable::Gone { pid: p }) if p == pid),
            "{stale:?}"
        );

        // The right process, but nothing answers on the admin port.
        let sleeper = Sleeper::start();
        let info = ProcessInfo::read(sleeper.0.id()).expect("the sleeper runs");
        record_of(sleeper.0.id(), &info)
            .write(&path)
            .expect("write the pid file");
        let silent = find(&path, &wanted, &admin).await;
        assert!(
            matches!(silent, Err(NotAdoptable::AdminSilent { .. })),
            "{silent:?}"
        );
        let text = silent.map(|_| ()).expect_err("not adoptable").to_string();
        assert!(text.contains("does not answer"), "{text}");

        // Not a meshcd record.
        std::fs::write(&path, "4242\n").expect("write");
        assert!(matches!(
            find(&path, &wanted, &admin).await,
            Err(NotAdoptable::BadRecord(_))
        ));
    }
}
