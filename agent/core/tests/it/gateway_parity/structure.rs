//! The built-in schema trees compared with the upstream CRDs' node by node: the same fields,
//! types, bounds, enums, patterns, defaults, list keys, and as many rules at each node.

use meshcd_core::schema::model::{Extra, Format, ListType, Schema};

/// Every difference between `ours` and `theirs`, named by field path.
pub fn differences(ours: &Schema, theirs: &Schema, at: &str, out: &mut Vec<String>) {
    let mut differ = |what: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{at}: {what}: built-in {a}, upstream {b}"));
        }
    };
    differ("type", format!("{:?}", ours.ty), format!("{:?}", theirs.ty));
    differ(
        "int-or-string",
        ours.int_or_string.to_string(),
        theirs.int_or_string.to_string(),
    );
    differ(
        "nullable",
        ours.nullable.to_string(),
        theirs.nullable.to_string(),
    );
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.join(",")
    };
    differ("required", sorted(&ours.required), sorted(&theirs.required));
    let extra = |e: &Extra| match e {
        Extra::Unknown => "unknown".to_string(),
        Extra::Preserve => "preserve".to_string(),
        Extra::Values(_) => "values".to_string(),
    };
    differ("extra", extra(&ours.extra), extra(&theirs.extra));
    let list = |l: &ListType| format!("{l:?}");
    differ("list type", list(&ours.list_type), list(&theirs.list_type));
    let allowed = |s: &Schema| {
        let mut v: Vec<String> = s.allowed.iter().map(|a| a.to_string()).collect();
        v.sort();
        v.join(",")
    };
    differ("enum", allowed(ours), allowed(theirs));
    let pattern = |s: &Schema| {
        s.pattern
            .as_ref()
            .map(|p| p.source.clone())
            .unwrap_or_default()
    };
    differ("pattern", pattern(ours), pattern(theirs));
    differ(
        "minLength",
        format!("{:?}", ours.min_length),
        format!("{:?}", theirs.min_length),
    );
    differ(
        "maxLength",
        format!("{:?}", ours.max_length),
        format!("{:?}", theirs.max_length),
    );
    differ(
        "minItems",
        format!("{:?}", ours.min_items),
        format!("{:?}", theirs.min_items),
    );
    differ(
        "maxItems",
        format!("{:?}", ours.max_items),
        format!("{:?}", theirs.max_items),
    );
    differ(
        "minimum",
        format!("{:?}", ours.minimum),
        format!("{:?}", theirs.minimum),
    );
    differ(
        "maximum",
        format!("{:?}", ours.maximum),
        format!("{:?}", theirs.maximum),
    );
    differ(
        "exclusive bounds",
        format!("{} {}", ours.exclusive_minimum, ours.exclusive_maximum),
        format!("{} {}", theirs.exclusive_minimum, theirs.exclusive_maximum),
    );
    // Formats meshcd does not check (`int32`) are the same as none.
    let format = |s: &Schema| match s.format {
        Some(Format::DateTime) => "date-time",
        _ => "",
    };
    differ("format", format(ours).into(), format(theirs).into());
    differ(
        "default",
        format!("{:?}", ours.default),
        format!("{:?}", theirs.default),
    );
    // The built-in model adds one check where a rule reads a field that may be missing, saying
    // so (its message says what "cannot be checked").
    let own_rules = ours
        .rules
        .iter()
        .filter(|r| !r.message.contains("cannot be checked"))
        .count();
    differ(
        "rules",
        own_rules.to_string(),
        theirs.rules.len().to_string(),
    );
    let names = |s: &Schema| s.properties.keys().cloned().collect::<Vec<_>>().join(",");
    differ("fields", names(ours), names(theirs));
    for (name, sub) in &ours.properties {
        if let Some(other) = theirs.properties.get(name) {
            differences(sub, other, &format!("{at}.{name}"), out);
        }
    }
    match (&ours.items, &theirs.items) {
        (Some(a), Some(b)) => differences(a, b, &format!("{at}[]"), out),
        (None, None) => {}
        _ => out.push(format!("{at}: items differ")),
    }
    if let (Extra::Values(a), Extra::Values(b)) = (&ours.extra, &theirs.extra) {
        differences(a, b, &format!("{at}{{*}}"), out);
    }
}
