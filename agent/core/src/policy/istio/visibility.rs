//! Who sees an Istio resource (`exportTo`), and which hostnames overlap (Istio's wildcard
//! matching), with an index so overlaps are found without comparing every pair.

use std::collections::{BTreeSet, HashMap};

use super::names::MAX_HOST_LEN;

/// The namespaces an Istio resource is visible in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every namespace (no `exportTo`, or `*`).
    All,
    /// These namespaces only (`.` is the resource's own).
    Namespaces(BTreeSet<String>),
}

impl Visibility {
    /// The visibility of `exportTo` for a resource in `namespace`. `~` (visible to none) adds no
    /// namespace, so `[~]` is an empty set.
    pub fn of(export_to: &[String], namespace: &str) -> Self {
        if export_to.is_empty() || export_to.iter().any(|e| e == "*") {
            return Visibility::All;
        }
        Visibility::Namespaces(
            export_to
                .iter()
                .filter(|e| e.as_str() != "~")
                .map(|e| {
                    if e == "." {
                        namespace.to_string()
                    } else {
                        e.clone()
                    }
                })
                .collect(),
        )
    }

    /// True when a client in `namespace` sees the resource.
    pub fn includes(&self, namespace: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Namespaces(set) => set.contains(namespace),
        }
    }

    /// True when some namespace sees both.
    pub fn meets(&self, other: &Visibility) -> bool {
        match (self, other) {
            (Visibility::All, Visibility::All) => true,
            (Visibility::All, Visibility::Namespaces(set))
            | (Visibility::Namespaces(set), Visibility::All) => !set.is_empty(),
            (Visibility::Namespaces(a), Visibility::Namespaces(b)) => !a.is_disjoint(b),
        }
    }

    /// A namespace that sees both, for messages (`None` when both see every namespace).
    pub fn common<'v>(&'v self, other: &'v Visibility) -> Option<&'v str> {
        match (self, other) {
            (Visibility::All, Visibility::All) => None,
            (Visibility::All, Visibility::Namespaces(set))
            | (Visibility::Namespaces(set), Visibility::All) => set.first().map(String::as_str),
            (Visibility::Namespaces(a), Visibility::Namespaces(b)) => {
                a.intersection(b).next().map(String::as_str)
            }
        }
    }
}

/// True when two hostnames overlap as Istio matches them: equal, or a wildcard (`*.foo.com`,
/// `*`) covering the other (a plain suffix test, as Istio does).
pub fn hosts_overlap(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(x), Some(y)) => {
            if a.len() < b.len() {
                y.ends_with(x)
            } else {
                x.ends_with(y)
            }
        }
        (Some(x), None) => b.ends_with(x),
        (None, Some(y)) => a.ends_with(y),
        (None, None) => a == b,
    }
}

/// Hostnames indexed by their suffixes, to find every entry that overlaps a hostname in time
/// proportional to its labels. Hostnames longer than Istio allows are not indexed.
#[derive(Debug, Default)]
pub struct HostIndex<'a> {
    /// Every entry: `(id, host)`.
    entries: Vec<(usize, &'a str)>,
    /// Wildcards by what follows the `*` when that is empty or starts with `.`.
    wildcards: HashMap<&'a str, Vec<usize>>,
    /// Partial wildcards (`*foo.com`): few, tested one by one.
    partial: Vec<usize>,
    /// Each suffix starting at a `.` of each host (after the `*` of a wildcard).
    suffixes: HashMap<&'a str, Vec<usize>>,
    /// Plain hosts, exactly.
    plain: HashMap<&'a str, Vec<usize>>,
}

impl<'a> HostIndex<'a> {
    /// Adds a hostname under an id.
    pub fn insert(&mut self, id: usize, host: &'a str) {
        if host.len() > MAX_HOST_LEN {
            return;
        }
        let entry = self.entries.len();
        self.entries.push((id, host));
        let name = match host.strip_prefix('*') {
            Some(rest) if rest.is_empty() || rest.starts_with('.') => {
                self.wildcards.entry(rest).or_default().push(entry);
                rest
            }
            Some(rest) => {
                self.partial.push(entry);
                rest
            }
            None => {
                self.plain.entry(host).or_default().push(entry);
                host
            }
        };
        for (i, _) in name.match_indices('.') {
            self.suffixes.entry(&name[i..]).or_default().push(entry);
        }
    }

    /// The ids of the entries whose host overlaps `host`, in insertion order, each once.
    pub fn overlapping(&self, host: &str) -> Vec<usize> {
        if host.len() > MAX_HOST_LEN {
            return Vec::new();
        }
        let mut found: Vec<usize> = Vec::new();
        let name = host.strip_prefix('*');
        let bare = name.unwrap_or(host);
        // Wildcards that cover `host`: their part after `*` is a suffix of `host`'s.
        if let Some(list) = self.wildcards.get("") {
            found.extend(list);
        }
        for (i, _) in bare.match_indices('.') {
            if let Some(list) = self.wildcards.get(&bare[i..]) {
                found.extend(list);
            }
        }
        found.extend(&self.partial);
        match name {
            // A wildcard `host` covers entries whose name ends with its part after `*`.
            Some("") => found.extend(0..self.entries.len()),
            Some(suffix) if suffix.starts_with('.') => {
                if let Some(list) = self.suffixes.get(suffix) {
                    found.extend(list);
                }
            }
            Some(_) => found.extend(0..self.entries.len()),
            None => {
                if let Some(list) = self.plain.get(host) {
                    found.extend(list);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .filter(|&e| hosts_overlap(host, self.entries[e].1))
            .map(|e| self.entries[e].0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn export_to_means_what_istio_says() {
        assert_eq!(Visibility::of(&[], "a"), Visibility::All);
        assert_eq!(Visibility::of(&strings(&["*"]), "a"), Visibility::All);
        let local = Visibility::of(&strings(&["."]), "a");
        assert!(local.includes("a") && !local.includes("b"));
        let other = Visibility::of(&strings(&["."]), "b");
        assert!(!local.meets(&other));
        assert!(local.meets(&Visibility::of(&strings(&["a"]), "b")));
        assert!(local.meets(&Visibility::All));
        let hidden = Visibility::of(&strings(&["~"]), "a");
        assert!(!hidden.meets(&Visibility::All) && !hidden.includes("a"));
        assert_eq!(local.common(&Visibility::All), Some("a"));
    }

    #[test]
    fn overlaps_follow_istio() {
        assert!(hosts_overlap("foo.com", "foo.com"));
        assert!(hosts_overlap("*.com", "foo.com"));
        assert!(hosts_overlap("bar.com", "*.com"));
        assert!(!hosts_overlap("*.foo.com", "foo.com"));
        assert!(hosts_overlap("*", "foo.com"));
        assert!(hosts_overlap("*", "*.com"));
        assert!(hosts_overlap("*.productpage.d", "*.d"));
        assert!(!hosts_overlap("*.productpage.d", "*.e"));
    }

    #[test]
    fn the_index_finds_what_a_pairwise_test_finds() {
        let hosts = [
            "a.b.com",
            "*.b.com",
            "*.com",
            "*",
            "x.y.org",
            "*.y.org",
            "*ar.com",
            "bar.com",
            "b.com",
            "*.a.b.com",
        ];
        let mut index = HostIndex::default();
        for (i, h) in hosts.iter().enumerate() {
            index.insert(i, h);
        }
        let probes = hosts
            .iter()
            .chain(["q.b.com", "*.org", "*.net", "*r.com"].iter());
        for probe in probes {
            let expected: Vec<usize> = (0..hosts.len())
                .filter(|&i| hosts_overlap(probe, hosts[i]))
                .collect();
            assert_eq!(index.overlapping(probe), expected, "{probe}");
        }
        let huge = "a".repeat(MAX_HOST_LEN + 1);
        index.insert(99, &huge);
        assert!(index.overlapping(&huge).is_empty());
    }
}
