//! Mutations aimed at the CRDs' validation rules, found by the shape of the field each rule
//! belongs to: every rule is broken at every place it applies, and near misses that the rules
//! accept check that the built-in checks do not over-reach.

use serde_json::{json, Value as Json};

use super::mutate::{child, Expect, Mutation};

/// Every rule mutation of `value` and its fields; `shape` is its path without indices.
pub fn by_rules(kind: &str, value: &Json, pointer: &str, shape: &str, out: &mut Vec<Mutation>) {
    at_field(kind, value, pointer, shape, out);
    match value {
        Json::Object(fields) => {
            for (key, sub) in fields {
                by_rules(
                    kind,
                    sub,
                    &child(pointer, key),
                    &format!("{shape}.{key}"),
                    out,
                );
            }
        }
        Json::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                by_rules(
                    kind,
                    sub,
                    &child(pointer, &i.to_string()),
                    &format!("{shape}[]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn at_field(kind: &str, value: &Json, p: &str, shape: &str, out: &mut Vec<Mutation>) {
    let last = shape.rsplit('.').next().unwrap_or(shape);
    match last {
        "parentRefs" => parent_refs(value, p, out),
        "backendRefs[]" | "backendRef" => backend(value, p, out),
        "filters" => filter_list(kind, value, p, out),
        "filters[]" => filter(kind, value, p, out),
        "requestMirror" => mirror(value, p, out),
        "fraction" => fraction(value, p, out),
        "path" if shape.ends_with("requestRedirect.path") || shape.ends_with("urlRewrite.path") => {
            path_modifier(value, p, out)
        }
        "path" if shape.ends_with("matches[].path") => path_match(p, out),
        "rules[]" if kind == "HTTPRoute" => http_rule(value, p, out),
        "rules" if kind == "HTTPRoute" || kind == "GRPCRoute" => match_totals(kind, p, out),
        "timeouts" => timeouts(p, out),
        "allowOrigins" => wildcard(p, "https://a.example.com", out),
        "allowHeaders" => wildcard(p, "x-a", out),
        "allowMethods" => wildcard(p, "GET", out),
        "method" if kind == "GRPCRoute" && shape.ends_with("matches[].method") => {
            grpc_method(p, out)
        }
        "hostnames" if kind == "TLSRoute" => tls_hostnames(p, out),
        _ => {}
    }
}

fn set(out: &mut Vec<Mutation>, pointer: &str, value: Json, name: &str, expect: Expect) {
    out.push(Mutation::set(
        pointer,
        value,
        format!("{pointer}: {name}"),
        expect,
    ));
}

fn remove(out: &mut Vec<Mutation>, pointer: &str, name: &str, expect: Expect) {
    out.push(Mutation::remove(
        pointer,
        format!("{pointer}: {name}"),
        expect,
    ));
}

/// A copy of `object` with `changes` merged in (a `null` removes the key).
fn with(object: &Json, changes: Json) -> Json {
    let mut out = object.clone();
    if let (Json::Object(map), Json::Object(changes)) = (&mut out, changes) {
        for (k, v) in changes {
            if v.is_null() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
        }
    }
    out
}

fn appended(list: &Json, item: Json) -> Json {
    let mut items = list.as_array().cloned().unwrap_or_default();
    items.push(item);
    Json::Array(items)
}

fn parent_refs(refs: &Json, p: &str, out: &mut Vec<Mutation>) {
    let items = refs.as_array().cloned().unwrap_or_default();
    assert!(
        items.len() >= 2,
        "{p}: the valid documents have two refs to one parent"
    );
    set(
        out,
        p,
        appended(refs, items[0].clone()),
        "same parent twice",
        Expect::Error,
    );
    let second = child(p, "1");
    remove(
        out,
        &child(&second, "sectionName"),
        "one of two refs to a parent without section",
        Expect::Error,
    );
    set(
        out,
        &child(&second, "sectionName"),
        items[0]["sectionName"].clone(),
        "same section twice",
        Expect::Error,
    );
    set(
        out,
        &second,
        with(
            &items[1],
            json!({"namespace": "elsewhere", "sectionName": null}),
        ),
        "another parent, no section",
        Expect::Valid,
    );
    set(
        out,
        &second,
        with(&items[1], json!({"sectionName": null, "namespace": null})),
        "another namespace (the route's), no section",
        Expect::Any,
    );
    remove(
        out,
        &child(&child(p, "0"), "name"),
        "ref without name",
        Expect::Error,
    );
    let mut many = Vec::new();
    for i in 0..4 {
        many.push(with(&items[0], json!({"sectionName": format!("s{i}")})));
    }
    set(
        out,
        p,
        Json::Array(many),
        "four sections of one parent",
        Expect::Valid,
    );
}

fn backend(backend: &Json, p: &str, out: &mut Vec<Mutation>) {
    let needs_port = |b: &Json| {
        b.get("group")
            .and_then(Json::as_str)
            .unwrap_or("")
            .is_empty()
            && b.get("kind").and_then(Json::as_str).unwrap_or("Service") == "Service"
    };
    let no_port = with(backend, json!({"port": null}));
    let expect = if needs_port(&no_port) {
        Expect::Error
    } else {
        Expect::Valid
    };
    set(out, p, no_port.clone(), "no port", expect);
    set(
        out,
        p,
        with(&no_port, json!({"group": "", "kind": "Service"})),
        "Service without port",
        Expect::Error,
    );
    set(
        out,
        p,
        with(&no_port, json!({"group": null, "kind": null})),
        "defaulted Service without port",
        Expect::Error,
    );
    set(
        out,
        p,
        with(&no_port, json!({"group": "example.com"})),
        "other group without port",
        Expect::Valid,
    );
    set(
        out,
        p,
        with(&no_port, json!({"group": "", "kind": "ConfigMap"})),
        "other core kind without port",
        Expect::Valid,
    );
}

/// The filter types of a route kind, and those allowed once per list.
fn filter_types(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    if kind == "HTTPRoute" {
        (
            &[
                "RequestHeaderModifier",
                "ResponseHeaderModifier",
                "RequestMirror",
                "RequestRedirect",
                "URLRewrite",
                "ExtensionRef",
                "CORS",
            ],
            &[
                "RequestHeaderModifier",
                "ResponseHeaderModifier",
                "RequestRedirect",
                "URLRewrite",
                "CORS",
            ],
        )
    } else {
        (
            &[
                "RequestHeaderModifier",
                "ResponseHeaderModifier",
                "RequestMirror",
                "ExtensionRef",
            ],
            &["RequestHeaderModifier", "ResponseHeaderModifier"],
        )
    }
}

/// The settings field of a filter type, and a valid value for it.
fn settings(ty: &str) -> (&'static str, Json) {
    match ty {
        "RequestHeaderModifier" => (
            "requestHeaderModifier",
            json!({"set": [{"name": "x-z", "value": "z"}]}),
        ),
        "ResponseHeaderModifier" => ("responseHeaderModifier", json!({"remove": ["x-z"]})),
        "RequestMirror" => (
            "requestMirror",
            json!({"backendRef": {"name": "m", "port": 1}}),
        ),
        "RequestRedirect" => ("requestRedirect", json!({"statusCode": 301})),
        "URLRewrite" => ("urlRewrite", json!({"hostname": "r.example.com"})),
        "ExtensionRef" => (
            "extensionRef",
            json!({"group": "", "kind": "K", "name": "n"}),
        ),
        "CORS" => ("cors", json!({"maxAge": 1})),
        other => panic!("unknown filter type {other}"),
    }
}

fn filter_list(kind: &str, list: &Json, p: &str, out: &mut Vec<Mutation>) {
    let (_, once) = filter_types(kind);
    let items = list.as_array().cloned().unwrap_or_default();
    for item in &items {
        let ty = item["type"].as_str().unwrap_or_default();
        let expect = if once.contains(&ty) {
            Expect::Error
        } else {
            Expect::Valid
        };
        set(
            out,
            p,
            appended(list, item.clone()),
            &format!("{ty} filter twice"),
            expect,
        );
    }
    let has = |ty: &str| items.iter().any(|i| i["type"] == ty);
    if kind == "HTTPRoute" {
        for (present, other) in [
            ("RequestRedirect", "URLRewrite"),
            ("URLRewrite", "RequestRedirect"),
        ] {
            if has(present) {
                let (field, value) = settings(other);
                let extra = json!({"type": other, field: value});
                set(
                    out,
                    p,
                    appended(list, extra),
                    &format!("{present} with {other}"),
                    Expect::Error,
                );
            }
        }
    }
    set(
        out,
        p,
        appended(list, json!({})),
        "filter without type",
        Expect::Error,
    );
    set(
        out,
        p,
        appended(list, json!({"type": "ExtensionRef"})),
        "filter without its settings",
        Expect::Error,
    );
}

fn filter(kind: &str, item: &Json, p: &str, out: &mut Vec<Mutation>) {
    let (types, _) = filter_types(kind);
    let ty = item["type"].as_str().unwrap_or_default();
    let (own, _) = settings(ty);
    for other in types.iter().filter(|t| **t != ty) {
        set(
            out,
            &child(p, "type"),
            json!(other),
            &format!("type {other} over {own}"),
            Expect::Error,
        );
        let (field, value) = settings(other);
        set(
            out,
            &child(p, field),
            value,
            &format!("{field} beside {own}"),
            Expect::Error,
        );
    }
    remove(out, &child(p, own), "settings removed", Expect::Error);
    remove(out, &child(p, "type"), "type removed", Expect::Error);
}

fn mirror(mirror: &Json, p: &str, out: &mut Vec<Mutation>) {
    if mirror.get("percent").is_some() {
        set(
            out,
            &child(p, "fraction"),
            json!({"numerator": 1}),
            "percent and fraction",
            Expect::Error,
        );
    }
    if mirror.get("fraction").is_some() {
        set(
            out,
            &child(p, "percent"),
            json!(5),
            "fraction and percent",
            Expect::Error,
        );
    }
    set(
        out,
        p,
        with(mirror, json!({"percent": null, "fraction": null})),
        "neither percent nor fraction",
        Expect::Valid,
    );
}

fn fraction(fraction: &Json, p: &str, out: &mut Vec<Mutation>) {
    let denominator = fraction
        .get("denominator")
        .and_then(Json::as_i64)
        .unwrap_or(100);
    set(
        out,
        &child(p, "numerator"),
        json!(denominator + 1),
        "numerator over denominator",
        Expect::Error,
    );
    set(
        out,
        &child(p, "numerator"),
        json!(denominator),
        "numerator equal to denominator",
        Expect::Valid,
    );
    set(
        out,
        p,
        json!({"numerator": 101}),
        "numerator over the default denominator",
        Expect::Error,
    );
    set(
        out,
        p,
        json!({"numerator": 100}),
        "numerator at the default denominator",
        Expect::Valid,
    );
    remove(out, &child(p, "numerator"), "no numerator", Expect::Error);
}

fn path_modifier(path: &Json, p: &str, out: &mut Vec<Mutation>) {
    let (ty, own, other_ty, other) = if path["type"] == "ReplaceFullPath" {
        (
            "ReplaceFullPath",
            "replaceFullPath",
            "ReplacePrefixMatch",
            "replacePrefixMatch",
        )
    } else {
        (
            "ReplacePrefixMatch",
            "replacePrefixMatch",
            "ReplaceFullPath",
            "replaceFullPath",
        )
    };
    set(
        out,
        &child(p, "type"),
        json!(other_ty),
        &format!("{other_ty} with {own}"),
        Expect::Error,
    );
    remove(
        out,
        &child(p, own),
        &format!("{ty} without {own}"),
        Expect::Error,
    );
    set(
        out,
        &child(p, other),
        json!("/x"),
        &format!("{other} beside {own}"),
        Expect::Error,
    );
    remove(out, &child(p, "type"), "no type", Expect::Error);
    set(
        out,
        p,
        json!({"type": other_ty, other: "/y"}),
        &format!("{other_ty} alone"),
        Expect::Any,
    );
}

/// Values an `Exact` or `PathPrefix` path may not take.
const BAD_PATHS: &[&str] = &[
    "api", "/a//b", "/a/./b", "/a/../b", "/a%2fb", "/a%2Fb", "/a#b", "/a/..", "/a/.", "/a[0]",
    "/a%zz", "/é", "", "/a b", "/a\"b",
];

fn path_match(p: &str, out: &mut Vec<Mutation>) {
    for ty in ["Exact", "PathPrefix"] {
        for bad in BAD_PATHS {
            set(
                out,
                p,
                json!({"type": ty, "value": bad}),
                &format!("{ty} path {bad:?}"),
                Expect::Error,
            );
        }
        set(
            out,
            p,
            json!({"type": ty, "value": "/a-b_c~d/%41;x=1,y@z:$&'()*+!"}),
            &format!("{ty} path of every allowed character"),
            Expect::Any,
        );
    }
    set(
        out,
        p,
        json!({"type": "RegularExpression", "value": "/a[0"}),
        "regular expression path",
        Expect::Any,
    );
    set(
        out,
        p,
        json!({"type": "Bogus", "value": "/a"}),
        "unknown path type",
        Expect::Error,
    );
    set(
        out,
        p,
        json!({"value": "/ok"}),
        "path type defaulted",
        Expect::Any,
    );
    set(
        out,
        p,
        json!({"type": "Exact"}),
        "path value defaulted",
        Expect::Any,
    );
}

/// Whether the rule (or one of its backends) has a filter replacing the path prefix.
fn replaces_prefix(rule: &Json) -> bool {
    let in_filters = |filters: Option<&Json>| {
        filters.and_then(Json::as_array).is_some_and(|fs| {
            fs.iter().any(|f| {
                ["requestRedirect", "urlRewrite"]
                    .iter()
                    .any(|k| f[*k]["path"]["type"] == "ReplacePrefixMatch")
            })
        })
    };
    in_filters(rule.get("filters"))
        || rule["backendRefs"]
            .as_array()
            .is_some_and(|bs| bs.iter().any(|b| in_filters(b.get("filters"))))
}

fn http_rule(rule: &Json, p: &str, out: &mut Vec<Mutation>) {
    let redirects = rule["filters"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|f| f.get("requestRedirect").is_some()));
    if redirects {
        set(
            out,
            &child(p, "backendRefs"),
            json!([{"name": "x", "port": 80}]),
            "redirect with backends",
            Expect::Error,
        );
        set(
            out,
            &child(p, "backendRefs"),
            json!([]),
            "redirect with no backends",
            Expect::Any,
        );
    }
    let matches = child(p, "matches");
    let prefix = |v: &str| json!({"path": {"type": "PathPrefix", "value": v}});
    let expect = if replaces_prefix(rule) {
        Expect::Error
    } else {
        Expect::Any
    };
    set(
        out,
        &matches,
        json!([{"path": {"type": "Exact", "value": "/x"}}]),
        "one Exact match",
        expect,
    );
    set(
        out,
        &matches,
        json!([prefix("/a"), prefix("/b")]),
        "two prefix matches",
        expect,
    );
    set(out, &matches, json!([]), "no match", expect);
    set(
        out,
        &matches,
        json!([{"method": "GET"}]),
        "a match with a defaulted path",
        Expect::Any,
    );
    remove(out, &matches, "defaulted matches", Expect::Any);
}

/// Rules with these numbers of matches each.
fn rules_with(kind: &str, counts: &[usize]) -> Json {
    let mut n = 0;
    let rules: Vec<Json> = counts
        .iter()
        .map(|count| {
            let matches: Vec<Json> = (0..*count)
                .map(|_| {
                    n += 1;
                    if kind == "HTTPRoute" {
                        json!({"path": {"type": "PathPrefix", "value": format!("/m{n}")}})
                    } else {
                        json!({"method": {"service": "s", "method": format!("M{n}")}})
                    }
                })
                .collect();
            json!({"matches": matches, "backendRefs": [{"name": "a", "port": 80}]})
        })
        .collect();
    Json::Array(rules)
}

fn match_totals(kind: &str, p: &str, out: &mut Vec<Mutation>) {
    set(
        out,
        p,
        rules_with(kind, &[43, 43, 43]),
        "129 matches",
        Expect::Error,
    );
    set(
        out,
        p,
        rules_with(kind, &[64, 64, 1]),
        "129 matches, 64 in a rule",
        Expect::Error,
    );
    set(
        out,
        p,
        rules_with(kind, &[43, 43, 42]),
        "128 matches",
        Expect::Valid,
    );
    let mut many = vec![8; 16];
    many.push(64);
    set(
        out,
        p,
        rules_with(kind, &many),
        "17 rules, the 17th over 128",
        Expect::Error,
    );
    set(
        out,
        p,
        rules_with(kind, &[0, 0]),
        "rules without match",
        Expect::Any,
    );
}

fn timeouts(p: &str, out: &mut Vec<Mutation>) {
    let cases = [
        (
            json!({"request": "1s", "backendRequest": "2s"}),
            Expect::Error,
        ),
        (
            json!({"request": "1m", "backendRequest": "61s"}),
            Expect::Error,
        ),
        (
            json!({"request": "1h1m1s1ms", "backendRequest": "1h1m1s2ms"}),
            Expect::Error,
        ),
        (
            json!({"request": "1h", "backendRequest": "60m"}),
            Expect::Valid,
        ),
        (
            json!({"request": "0s", "backendRequest": "99999h"}),
            Expect::Valid,
        ),
        (
            json!({"request": "0ms", "backendRequest": "1s"}),
            Expect::Valid,
        ),
        (
            json!({"request": "1d", "backendRequest": "1s"}),
            Expect::Error,
        ),
        (
            json!({"request": "10s", "backendRequest": "abc"}),
            Expect::Error,
        ),
        (
            json!({"request": "100000s", "backendRequest": "1s"}),
            Expect::Error,
        ),
        (
            json!({"request": "1s", "backendRequest": "1s1s1s1s1s"}),
            Expect::Error,
        ),
        (json!({"backendRequest": "5s"}), Expect::Valid),
        (json!({"request": "5s"}), Expect::Valid),
        (json!({}), Expect::Valid),
    ];
    for (value, expect) in cases {
        set(out, p, value.clone(), &format!("timeouts {value}"), expect);
    }
}

fn wildcard(p: &str, other: &str, out: &mut Vec<Mutation>) {
    set(
        out,
        p,
        json!(["*", other]),
        "`*` beside another",
        Expect::Error,
    );
    set(
        out,
        p,
        json!([other, "*"]),
        "another beside `*`",
        Expect::Error,
    );
    set(out, p, json!(["*"]), "`*` alone", Expect::Valid);
    set(out, p, json!([]), "empty list", Expect::Valid);
}

fn grpc_method(p: &str, out: &mut Vec<Mutation>) {
    let cases = [
        (json!({"type": "Exact"}), Expect::Error),
        (json!({}), Expect::Error),
        (json!({"service": "a/b"}), Expect::Error),
        (json!({"service": "a..b"}), Expect::Error),
        (json!({"service": "1a"}), Expect::Error),
        (
            json!({"type": "RegularExpression", "service": "a/b"}),
            Expect::Valid,
        ),
        (json!({"method": "1x"}), Expect::Error),
        (json!({"method": "Get.Set"}), Expect::Error),
        (
            json!({"type": "RegularExpression", "method": "1x"}),
            Expect::Valid,
        ),
        (json!({"service": ".a.B_c", "method": "M_1"}), Expect::Valid),
        (
            json!({"service": "\u{212A}elvin.\u{17F}ervice"}),
            Expect::Any,
        ),
        (json!({"type": "RegularExpression"}), Expect::Error),
    ];
    for (value, expect) in cases {
        set(out, p, value.clone(), &format!("method {value}"), expect);
    }
}

fn tls_hostnames(p: &str, out: &mut Vec<Mutation>) {
    let cases = [
        (json!(["10.0.0.1"]), Expect::Error),
        (json!(["a.example.com", "192.168.1.1"]), Expect::Error),
        (json!(["*"]), Expect::Error),
        (json!(["a.*.b"]), Expect::Error),
        (json!(["*.-a.b"]), Expect::Error),
        (json!(["a-.b"]), Expect::Error),
        (json!(["::1"]), Expect::Error),
        (json!(["*.b"]), Expect::Valid),
        (json!(["1.2.3"]), Expect::Valid),
        (json!(["010.0.0.1"]), Expect::Any),
        (json!(["1.2.3.4.5"]), Expect::Any),
    ];
    for (value, expect) in cases {
        set(out, p, value.clone(), &format!("hostnames {value}"), expect);
    }
}
