//! Which matches of a VirtualService's ordered `http`, `tcp` and `tls` rules can never decide
//! anything, as istioctl's IST0130 (VirtualServiceUnreachableRule) and IST0131
//! (VirtualServiceIneffectiveMatch) find them: a match that repeats an earlier one, and (HTTP)
//! a URI prefix match that an earlier, shorter prefix with the same other conditions catches
//! first. Shared by MC202 and MC203.
//!
//! Everything after the first rule without matches (a catch-all) is MC202's catch-all finding
//! and is not analysed further. Work is linear in the number of matches (hash lookups), not a
//! comparison of every pair.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::istio::{HttpMatchRequest, HttpRoute, StringMatch, TcpRoute, TlsRoute};

/// A match by rule and position in the rule's `match` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    /// Rule index in its list.
    pub rule: usize,
    /// Match index in the rule.
    pub index: usize,
}

/// A match that never decides anything, and the earlier match that takes its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The match.
    pub at: At,
    /// The earlier match.
    pub by: At,
    /// `Some((prefix, earlier prefix))` when an earlier, shorter URI prefix covers it; `None`
    /// for a repeat.
    pub prefixes: Option<(String, String)>,
}

/// What the analysis of one rule list found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Rules every match of which repeats an earlier match (IST0130), with those repeats.
    pub repeated_rules: Vec<(usize, Vec<Shadowed>)>,
    /// Single matches that repeat or are covered (IST0131), outside `repeated_rules`.
    pub shadowed: Vec<Shadowed>,
}

/// The first rule without matches, if any.
fn first_catch_all(match_counts: impl Iterator<Item = usize>) -> Option<usize> {
    match_counts
        .enumerate()
        .find(|(_, n)| *n == 0)
        .map(|(i, _)| i)
}

/// Repeats among keyed matches (`keys[rule][index]`), up to the first catch-all.
fn repeats(keys: &[Vec<String>]) -> Analysis {
    let end = first_catch_all(keys.iter().map(Vec::len)).unwrap_or(keys.len());
    let mut first: HashMap<&str, At> = HashMap::new();
    let mut analysis = Analysis::default();
    for (rule, matches) in keys[..end].iter().enumerate() {
        let mut found = Vec::new();
        for (index, key) in matches.iter().enumerate() {
            let at = At { rule, index };
            match first.get(key.as_str()) {
                Some(by) => found.push(Shadowed {
                    at,
                    by: *by,
                    prefixes: None,
                }),
                None => {
                    first.insert(key, at);
                }
            }
        }
        if !found.is_empty() && found.len() == matches.len() {
            analysis.repeated_rules.push((rule, found));
        } else {
            analysis.shadowed.extend(found);
        }
    }
    analysis
}

fn key<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// An HTTP match as istioctl compares it: without its name, with zero values left out.
fn http_key(m: &HttpMatchRequest) -> String {
    let mut m = m.clone();
    m.name = None;
    if m.ignore_uri_case == Some(false) {
        m.ignore_uri_case = None;
    }
    if m.port == Some(0) {
        m.port = None;
    }
    if m.source_namespace.as_deref() == Some("") {
        m.source_namespace = None;
    }
    if m.stat_prefix.as_deref() == Some("") {
        m.stat_prefix = None;
    }
    key(&m)
}

/// Analyses a VirtualService's `http` rules: repeats, and prefixes covered by earlier ones.
pub fn http(rules: &[HttpRoute]) -> Analysis {
    let keys: Vec<Vec<String>> = rules
        .iter()
        .map(|r| r.matches.iter().map(http_key).collect())
        .collect();
    let mut analysis = repeats(&keys);
    let end = first_catch_all(rules.iter().map(|r| r.matches.len())).unwrap_or(rules.len());
    let repeated: HashSet<At> = analysis
        .repeated_rules
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.at))
        .chain(analysis.shadowed.iter().map(|s| s.at))
        .collect();
    // Prefix matches by everything else they test, then by prefix: a later match whose prefix
    // starts with an earlier one's, with the very same other conditions, is covered.
    let mut earlier: HashMap<(String, String), (At, &str)> = HashMap::new();
    for (rule, r) in rules[..end].iter().enumerate() {
        for (index, m) in r.matches.iter().enumerate() {
            let at = At { rule, index };
            let Some(written) = m.uri.as_ref().and_then(|u| u.prefix.as_deref()) else {
                continue;
            };
            if written.is_empty() || repeated.contains(&at) {
                continue;
            }
            let mut rest = m.clone();
            rest.name = None;
            rest.stat_prefix = None;
            rest.uri = None;
            let group = http_key(&rest);
            let case_blind = m.ignore_uri_case == Some(true);
            let prefix = if case_blind {
                written.to_lowercase()
            } else {
                written.to_string()
            };
            let covering = prefix
                .char_indices()
                .skip(1)
                .map(|(i, _)| &prefix[..i])
                .find_map(|shorter| earlier.get(&(group.clone(), shorter.to_string())));
            match covering {
                Some((by, shorter)) => analysis.shadowed.push(Shadowed {
                    at,
                    by: *by,
                    prefixes: Some((written.to_string(), (*shorter).to_string())),
                }),
                None => {
                    earlier.entry((group, prefix)).or_insert((at, written));
                }
            }
        }
    }
    analysis.shadowed.sort_by_key(|s| s.at);
    analysis
}

/// Analyses a VirtualService's `tcp` rules (repeats).
pub fn tcp(rules: &[TcpRoute]) -> Analysis {
    let keys: Vec<Vec<String>> = rules
        .iter()
        .map(|r| r.matches.iter().map(key).collect())
        .collect();
    repeats(&keys)
}

/// Analyses a VirtualService's `tls` rules (repeats).
pub fn tls(rules: &[TlsRoute]) -> Analysis {
    let keys: Vec<Vec<String>> = rules
        .iter()
        .map(|r| r.matches.iter().map(key).collect())
        .collect();
    repeats(&keys)
}

/// A string match in words (`prefix /api`), for messages.
pub fn describe(m: &StringMatch) -> String {
    match (&m.exact, &m.prefix, &m.regex) {
        (Some(v), _, _) => format!("exact `{v}`"),
        (_, Some(v), _) => format!("prefix `{v}`"),
        (_, _, Some(v)) => format!("regex `{v}`"),
        _ => "any value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Vec<HttpRoute> {
        let value: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("yaml");
        serde_json::from_value(value).expect("rules")
    }

    #[test]
    fn repeats_and_covered_prefixes() {
        let analysis = http(&rules(
            "
- match: [{uri: {prefix: /api}}, {headers: {x: {exact: a}}}]
- match: [{name: again, uri: {prefix: /api}}, {uri: {prefix: /web}}]
- match: [{headers: {x: {exact: a}}}]
- match: [{uri: {prefix: /api/v1}}, {uri: {prefix: /api/v1}, method: {exact: POST}}]
- route: []
- match: [{uri: {prefix: /late}}]
",
        ));
        assert_eq!(
            analysis.repeated_rules,
            vec![(
                2,
                vec![Shadowed {
                    at: At { rule: 2, index: 0 },
                    by: At { rule: 0, index: 1 },
                    prefixes: None
                }]
            )]
        );
        assert_eq!(
            analysis.shadowed,
            vec![
                Shadowed {
                    at: At { rule: 1, index: 0 },
                    by: At { rule: 0, index: 0 },
                    prefixes: None
                },
                Shadowed {
                    at: At { rule: 3, index: 0 },
                    by: At { rule: 0, index: 0 },
                    prefixes: Some(("/api/v1".into(), "/api".into()))
                },
            ]
        );
    }

    #[test]
    fn different_conditions_do_not_cover() {
        let analysis = http(&rules(
            "
- match: [{uri: {prefix: /api}, method: {exact: GET}}]
- match: [{uri: {prefix: /api/v1}}]
- match: [{uri: {prefix: /web}, ignoreUriCase: false}]
- match: [{uri: {prefix: /web}, ignoreUriCase: true}]
- match: [{uri: {prefix: /Web/x}, ignoreUriCase: true}]
",
        ));
        assert_eq!(analysis.repeated_rules, vec![]);
        assert_eq!(
            analysis.shadowed,
            vec![Shadowed {
                at: At { rule: 4, index: 0 },
                by: At { rule: 3, index: 0 },
                prefixes: Some(("/Web/x".into(), "/web".into()))
            }]
        );
    }
}
