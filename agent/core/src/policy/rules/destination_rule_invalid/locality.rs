//! Locality load-balancing settings of a DestinationRule, as Istio's `ValidateLocalityLbSetting`
//! checks them.

use std::collections::BTreeMap;

use super::TOPOLOGY_LABELS;
use crate::model::istio::{LocalityLbSetting, OutlierDetection};
use crate::path::FieldPath;
use crate::policy::istio::names::shown;
use crate::policy::istio::Reporter;

/// Zones by region, subzones by zone; `*` marks a whole region or zone.
type Tree<'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a str>>>;

/// Checks that localities are `region[/zone[/subzone]]`, with one trailing `*` at most, and do
/// not overlap.
fn localities<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut tree: Tree<'a> = BTreeMap::new();
    for locality in list {
        let stars = locality.matches('*').count();
        if stars > 1 || (stars == 1 && !locality.ends_with('*')) {
            return Err(format!(
                "locality `{}` may only end with a single `*`",
                shown(locality)
            ));
        }
        let overlap = || {
            Err(format!(
                "locality `{}` overlaps one given before it",
                shown(locality)
            ))
        };
        if tree.contains_key("*") {
            return overlap();
        }
        let parts: Vec<&str> = locality.splitn(3, '/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "locality `{}` has an empty region, zone or subzone",
                shown(locality)
            ));
        }
        match parts.as_slice() {
            [region] => {
                if tree.contains_key(region) {
                    return overlap();
                }
                tree.insert(region, BTreeMap::from([("*", vec!["*"])]));
            }
            [region, zone] => {
                let zones = tree.entry(region).or_default();
                if zones.contains_key("*") || zones.contains_key(zone) {
                    return overlap();
                }
                zones.insert(zone, vec!["*"]);
            }
            [region, zone, subzone] => {
                let zones = tree.entry(region).or_default();
                if zones.contains_key("*") {
                    return overlap();
                }
                let subzones = zones.entry(zone).or_default();
                if subzones.contains(&"*") || subzones.contains(subzone) {
                    return overlap();
                }
                subzones.push(subzone);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks one `localityLbSetting`.
pub(super) fn check(
    r: &mut Reporter<'_>,
    at: &FieldPath,
    lb: &LocalityLbSetting,
    outlier: Option<&OutlierDetection>,
) {
    if !lb.distribute.is_empty() && !lb.failover.is_empty() {
        r.error(
            at,
            format!("`{at}` sets both `distribute` and `failover`; keep one"),
        );
        return;
    }
    if !lb.failover.is_empty() {
        if let Some(label) = lb
            .failover_priority
            .iter()
            .find(|l| TOPOLOGY_LABELS.contains(&l.as_str()))
        {
            let p = at.key("failoverPriority");
            r.error(
                &p,
                format!("`{p}` lists the topology label `{label}` beside `failover`; `failover` already orders regions, remove one of them"),
            );
            return;
        }
    }
    for (i, d) in lb.distribute.iter().enumerate() {
        let path = at.key("distribute").index(i);
        if let Some((locality, weight)) = d.to.iter().find(|(_, w)| !(1..=100).contains(*w)) {
            r.error(
                &path.key("to"),
                format!(
                    "`{}` gives `{}` weight {weight}; a locality weight is 1 to 100",
                    path.key("to"),
                    shown(locality)
                ),
            );
            return;
        }
        let total: i64 = d.to.values().sum();
        if total != 100 {
            r.error(
                &path.key("to"),
                format!(
                    "`{}` weights sum to {total}; they must sum to 100",
                    path.key("to")
                ),
            );
            return;
        }
        if let Err(problem) = localities(d.to.keys().map(String::as_str)) {
            r.error(&path.key("to"), format!("`{}`: {problem}", path.key("to")));
        }
    }
    let sources = lb.distribute.iter().filter_map(|d| d.from.as_deref());
    if let Err(problem) = localities(sources) {
        let p = at.key("distribute");
        r.error(&p, format!("`{p}`: {problem}"));
    }
    if (!lb.failover.is_empty() || !lb.failover_priority.is_empty()) && outlier.is_none() {
        r.warning(
            at,
            format!("`{at}` sets failover without `outlierDetection`; endpoints are never ejected, so traffic never fails over: add outlier detection"),
        );
    }
    for (i, f) in lb.failover.iter().enumerate() {
        let path = at.key("failover").index(i);
        let from = f.from.as_deref().unwrap_or("");
        let to = f.to.as_deref().unwrap_or("");
        if from == to {
            r.error(
                &path,
                format!(
                    "`{path}` fails over from `{}` to itself; name two different regions",
                    shown(from)
                ),
            );
        }
        if from.contains('/') || to.contains('/') {
            r.error(
                &path,
                format!("`{path}` names a zone; failover goes between regions only"),
            );
        }
        if from.contains('*') || to.contains('*') {
            r.error(
                &path,
                format!("`{path}` uses `*`; failover names regions exactly"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::localities;

    #[test]
    fn localities_do_not_overlap() {
        assert_eq!(
            localities(["us-east", "us-west/zone1", "eu/z1/s1", "eu/z1/s2"]),
            Ok(())
        );
        assert!(localities(["us-east/*", "us-east/zone1"]).is_err());
        assert!(localities(["*", "us"]).is_err());
        assert!(localities(["us/*/x"]).is_err());
        assert!(localities(["us//x"]).is_err());
        assert!(localities(["us", "us"]).is_err());
    }
}
