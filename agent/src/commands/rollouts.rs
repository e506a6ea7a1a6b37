//! `meshcd status` and the rollout gates `meshcd promote|abort|pause|resume`: through the
//! running daemon's API, or on the state store when no daemon runs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use meshcd_core::human;
use meshcd_core::model::ResourceId;
use meshcd_core::rollout::duration;
use meshcd_core::rollout::machine::{Event, Gate, Rollout};
use serde_json::{json, Value};

use super::{cannot_run, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{GateArgs, HistoryFormat, RolloutSource, StatusArgs};
use crate::engine::rollouts::book::now_ms;
use crate::engine::rollouts::{progress_line, RolloutEvent};
use crate::errors::report;
use crate::store::{state_path_in, Store};
pub(crate) use client::DaemonClient;

pub(crate) mod client;

/// The daemon's address when neither --server nor --config says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:9090";

/// Where the rollouts are read and gated.
enum Place {
    /// A running daemon.
    Daemon(DaemonClient),
    /// The state store (no daemon answered); the target ids it holds rollouts for.
    Store(Store),
}

fn server_url(source: &RolloutSource) -> Result<String, Failure> {
    if let Some(server) = &source.server {
        return Ok(server.trim_end_matches('/').to_string());
    }
    if let Some(config) = &source.config {
        let config = crate::config::load_config(config).map_err(cannot_run)?;
        let mut addr = config.server.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        return Ok(format!("http://{addr}"));
    }
    Ok(DEFAULT_SERVER.to_string())
}

async fn place(source: &RolloutSource) -> Result<Place, Failure> {
    let server = server_url(source)?;
    let client = DaemonClient::new(&server).map_err(cannot_run)?;
    let reachable = client.get("/healthz", Duration::from_secs(2)).await.is_ok();
    if reachable {
        return Ok(Place::Daemon(client));
    }
    let Some(config) = &source.config else {
        return Err(cannot_run(anyhow::anyhow!(
            "no meshcd daemon answers at {server}; start `meshcd run`, pass --server URL, or \
             --config FILE to use its state store"
        )));
    };
    let config = crate::config::load_config(config).map_err(cannot_run)?;
    let store = Store::open(state_path_in(&config.state_dir)).map_err(|e| {
        cannot_run(anyhow::anyhow!(
            "no meshcd daemon answers at {server}, and its state store cannot be opened: {}",
            report(&e)
        ))
    })?;
    Ok(Place::Store(store))
}

/// Every target's rollouts in a store, with their target ids.
fn stored(store: &Store) -> Result<Vec<(String, Rollout)>, Failure> {
    Ok(store
        .list_all_rollouts::<Rollout>()
        .map_err(cannot_run)?
        .into_iter()
        .map(|(target, _, rollout)| (target, rollout))
        .collect())
}

fn event_of(rollout: &Rollout) -> RolloutEvent {
    RolloutEvent::of(rollout, rollout.plan.bake_time.as_millis() as u64, now_ms())
}

async fn list(place: &Place) -> Result<Vec<RolloutEvent>, Failure> {
    match place {
        Place::Daemon(client) => {
            let server = client.server();
            let answer = client
                .get("/api/v1/rollouts", Duration::from_secs(5))
                .await
                .map_err(|e| cannot_run(anyhow::Error::new(e).context(server.to_string())))?;
            if !answer.status.is_success() {
                return Err(cannot_run(anyhow::anyhow!(
                    "{server}: HTTP {}",
                    answer.status
                )));
            }
            let body = answer
                .json()
                .map_err(|e| cannot_run(anyhow::anyhow!("{server}: not JSON: {e}")))?;
            serde_json::from_value(body["rollouts"].clone())
                .map_err(|e| cannot_run(anyhow::anyhow!("{server}: unexpected answer: {e}")))
        }
        Place::Store(store) => Ok(stored(store)?.iter().map(|(_, r)| event_of(r)).collect()),
    }
}

/// `meshcd status [--watch]`.
pub fn status(args: &StatusArgs) -> Result<u8, Failure> {
    let interval = duration::parse(&args.interval)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            cannot_run(anyhow::anyhow!(
                "--interval `{}` is not a duration such as `1s`",
                args.interval
            ))
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let place = place(&args.source).await?;
        let json = args.source.format == HistoryFormat::Json;
        let mut last: BTreeMap<ResourceId, RolloutEvent> = BTreeMap::new();
        let tty = std::io::stdout().is_terminal();
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let rollouts = list(&place).await?;
            let fleets = fleets(&place).await;
            if !args.watch {
                if json {
                    let mut document = json!({ "rollouts": rollouts });
                    if let Some(xds) = &fleets {
                        document["xds"] = xds.clone();
                    }
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&document).unwrap_or_default()
                    );
                } else {
                    if rollouts.is_empty() {
                        println!("no rollouts");
                    }
                    for r in &rollouts {
                        println!("{}", progress_line(r));
                    }
                    for line in fleets.as_ref().map(fleet_lines).unwrap_or_default() {
                        println!("{line}");
                    }
                }
                return Ok(EXIT_OK);
            }
            if json {
                for r in &rollouts {
                    if last.get(&r.route) != Some(r) {
                        println!("{}", serde_json::to_string(r).unwrap_or_default());
                    }
                }
            } else {
                if tty {
                    print!("\x1b[2J\x1b[H");
                }
                println!(
                    "{} rollout(s); refreshing every {} (Ctrl-C to stop)",
                    rollouts.len(),
                    human::duration(interval)
                );
                for r in &rollouts {
                    println!("{}", progress_line(r));
                }
                for line in fleets.as_ref().map(fleet_lines).unwrap_or_default() {
                    println!("{line}");
                }
            }
            last = rollouts.into_iter().map(|r| (r.route.clone(), r)).collect();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = &mut interrupt => return Ok(EXIT_OK),
            }
        }
    })
}

/// The daemon's xDS summary (`GET /api/v1/xds`), when it publishes over xDS.
async fn fleets(place: &Place) -> Option<serde_json::Value> {
    let Place::Daemon(client) = place else {
        return None;
    };
    let answer = client
        .get("/api/v1/xds", Duration::from_secs(5))
        .await
        .ok()?;
    if !answer.status.is_success() {
        return None;
    }
    answer.json().ok()
}

/// One line per fleet: `fleet edge: 3 Envoys; version 7 on 3` (and who rejected what).
fn fleet_lines(xds: &serde_json::Value) -> Vec<String> {
    let served = &xds["served"];
    let mut lines = Vec::new();
    for (name, fleet) in xds["fleets"].as_object().into_iter().flatten() {
        let versions: Vec<String> = fleet["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(version, count)| format!("version {version} on {count}"))
            .collect();
        lines.push(format!(
            "fleet {name}: {} Envoy(s), serving version {served}; {}",
            fleet["envoys"],
            versions.join(", ")
        ));
        for (node, nack) in fleet["rejected"].as_object().into_iter().flatten() {
            lines.push(format!(
                "  {node} rejected {} of version {}: {}",
                nack["kind"].as_str().unwrap_or("?"),
                nack["version"],
                nack["message"].as_str().unwrap_or("")
            ));
        }
    }
    lines
}

/// `meshcd promote|abort|pause|resume ROUTE`.
pub fn gate(args: &GateArgs, gate: Gate) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let json = args.source.format == HistoryFormat::Json;
        let result = match place(&args.source).await? {
            Place::Daemon(client) => gate_daemon(&client, &args.route, gate).await?,
            Place::Store(store) => gate_store(&store, &args.route, gate)?,
        };
        match result {
            Ok((event, note)) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&json!({ "rollout": event })).unwrap_or_default()
                    );
                } else {
                    println!("{}: {}", gate.as_str(), progress_line(&event));
                    if let Some(note) = note {
                        println!("{note}");
                    }
                }
                Ok(EXIT_OK)
            }
            Err(message) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&json!({ "error": message })).unwrap_or_default()
                    );
                }
                eprintln!("meshcd {}: {message}", gate.as_str());
                Ok(EXIT_FINDINGS)
            }
        }
    })
}

type GateResult = Result<(RolloutEvent, Option<String>), String>;

async fn gate_daemon(
    client: &DaemonClient,
    route: &str,
    gate: Gate,
) -> Result<GateResult, Failure> {
    let server = client.server();
    let answer = client
        .post_json(
            &format!("/api/v1/rollouts/{}", gate.as_str()),
            &json!({ "route": route }),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| cannot_run(anyhow::Error::new(e).context(server.to_string())))?;
    let status = answer.status;
    let body: Value = answer.json().unwrap_or(Value::Null);
    if status.is_success() {
        let event = serde_json::from_value(body["rollout"].clone())
            .map_err(|e| cannot_run(anyhow::anyhow!("{server}: unexpected answer: {e}")))?;
        return Ok(Ok((event, None)));
    }
    if status.is_client_error() {
        let message = body["error"].as_str().unwrap_or("refused").to_string();
        return Ok(Err(message));
    }
    Err(cannot_run(anyhow::anyhow!(
        "{server} answered {}: {}",
        status.as_u16(),
        body["error"].as_str().unwrap_or("")
    )))
}

fn gate_store(store: &Store, route: &str, gate: Gate) -> Result<GateResult, Failure> {
    let rollouts = stored(store)?;
    let matches: Vec<&(String, Rollout)> = rollouts
        .iter()
        .filter(|(_, r)| r.route.answers_to(route))
        .collect();
    let (target, rollout) = match matches.as_slice() {
        [] => {
            return Ok(Err(format!(
                "no rollout of `{route}` (see `meshcd status`)"
            )))
        }
        [one] => (*one).clone(),
        many => {
            let names: Vec<String> = many.iter().map(|(_, r)| r.route.to_string()).collect();
            return Ok(Err(format!(
                "`{route}` names several rollouts: {}",
                names.join(", ")
            )));
        }
    };
    let mut rollout = rollout;
    if let Err(refused) = rollout.on(Event::Manual(gate), now_ms()) {
        return Ok(Err(refused.to_string()));
    }
    store
        .put_rollout(&target, &rollout.route.to_string(), &rollout)
        .map_err(cannot_run)?;
    Ok(Ok((
        event_of(&rollout),
        Some(
            "no daemon runs: the gate is recorded; `meshcd run` or `meshcd apply` carries it out"
                .to_string(),
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_lines_say_how_many_envoys_hold_which_version_and_who_rejected_what() {
        let xds = json!({
            "served": 9,
            "fleets": {
                "edge": {"envoys": 3, "versions": {"8": 1, "9": 2},
                         "rejected": {"e3": {"version": 9, "kind": "RDS", "message": "bad weights"}}},
                "meshcd": {"envoys": 1, "versions": {"9": 1}, "rejected": {}},
            },
        });
        assert_eq!(
            fleet_lines(&xds),
            vec![
                "fleet edge: 3 Envoy(s), serving version 9; version 8 on 1, version 9 on 2",
                "  e3 rejected RDS of version 9: bad weights",
                "fleet meshcd: 1 Envoy(s), serving version 9; version 9 on 1",
            ]
        );
        assert!(fleet_lines(&json!({})).is_empty());
    }
}
