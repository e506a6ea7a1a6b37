//! MC513 `tcp-match-address`: a TcpRoute match address is not an IPv4 address or CIDR range.
//!
//! **What it does.** Checks each networkservices TcpRoute match `address`: an IPv4 address
//! (`10.0.0.1`, a single address) or an IPv4 CIDR range (`10.0.0.0/8`, prefix length 0 to 32).
//! A range whose address has bits set past its prefix (`10.1.2.3/8`) is a warning: it means
//! `10.0.0.0/8`.
//!
//! **Why.** The API takes IPv4 only and rejects anything else, so the revision would fail to
//! apply: an IPv6 address, a hostname, or a prefix past 32 are common slips.
//!
//! **Example.** `address: db.internal`: write the address range the clients dial, e.g.
//! `10.20.0.0/16`.

use std::net::Ipv4Addr;

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC513",
    name: "tcp-match-address",
    summary: "a TcpRoute match address is not an IPv4 address or CIDR range",
    check: Some(check),
};

/// What is wrong with an address: `Err` for an error, `Ok(Some)` for a warning.
fn problem(address: &str) -> Result<Option<String>, String> {
    let (ip, prefix) = match address.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (address, None),
    };
    let ip: Ipv4Addr = ip.parse().map_err(|_| {
        if ip.contains(':') {
            "is an IPv6 address; TcpRoute matches take IPv4 only".to_string()
        } else {
            "is not an IPv4 address".to_string()
        }
    })?;
    let Some(prefix) = prefix else {
        return Ok(None);
    };
    let length: u32 = prefix
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("has prefix length `{prefix}`; it must be 0 to 32"))?;
    let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
    let network = Ipv4Addr::from(u32::from(ip) & mask);
    Ok((network != ip).then(|| {
        format!("has bits set past its /{length} prefix: it means `{network}/{length}`; write that")
    }))
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::NsTcpRoute(route) = &resource.spec else {
            continue;
        };
        for (i, rule) in route.rules.iter().enumerate() {
            for (j, m) in rule.matches.iter().enumerate() {
                let Some(address) = m.address.as_deref().filter(|a| !a.is_empty()) else {
                    continue;
                };
                let path = resource
                    .spec_path()
                    .key("rules")
                    .index(i)
                    .key("matches")
                    .index(j)
                    .key("address");
                let (severity, problem) = match problem(address) {
                    Ok(None) => continue,
                    Ok(Some(warning)) => (Severity::Warning, warning),
                    Err(error) => (Severity::Error, error),
                };
                out.push(resource.finding(
                    &RULE,
                    severity,
                    &path,
                    format!("`{path}` `{address}` {problem}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn tcp(matches: &str) -> String {
        format!("apiVersion: networkservices.googleapis.com/v1\nkind: TcpRoute\nname: db\nrules:\n- matches: {matches}\n  action: {{originalDestination: true}}\n")
    }

    #[test]
    fn ipv4_addresses_and_ranges_pass() {
        let yaml = tcp("[{address: 10.0.0.1, port: '5432'}, {address: 10.0.0.0/8, port: '5432'}, {address: 0.0.0.0/0, port: '5432'}]");
        assert_eq!(findings_of("MC513", &yaml), Vec::<String>::new());
    }

    #[test]
    fn other_addresses() {
        let yaml = tcp("[{address: 'fd00::1', port: '5432'}, {address: db.internal, port: '5432'}, {address: 10.0.0.0/33, port: '5432'}, {address: 10.1.2.3/8, port: '5432'}]");
        assert_eq!(
            findings_of("MC513", &yaml),
            vec![
                "MC513 error 5:23 `rules[0].matches[0].address` `fd00::1` is an IPv6 address; TcpRoute matches take IPv4 only",
                "MC513 error 5:59 `rules[0].matches[1].address` `db.internal` is not an IPv4 address",
                "MC513 error 5:97 `rules[0].matches[2].address` `10.0.0.0/33` has prefix length `33`; it must be 0 to 32",
                "MC513 warning 5:135 `rules[0].matches[3].address` `10.1.2.3/8` has bits set past its /8 prefix: it means `10.0.0.0/8`; write that",
            ]
        );
    }
}
