//! The names Istio's validating webhook checks: DNS labels, hostnames (plain or wildcard), IP
//! addresses and CIDRs, Kubernetes-style labels, port names and protocols.

use std::fmt;
use std::net::IpAddr;

/// The longest hostname Istio takes (its webhook's limit; DNS itself stops at 253).
pub const MAX_HOST_LEN: usize = 255;
/// The longest DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a hostname is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostProblem {
    /// Empty.
    Empty,
    /// Longer than [`MAX_HOST_LEN`] (its length).
    TooLong(usize),
    /// A label that is not a DNS label.
    BadLabel(String),
    /// The last label is a number.
    NumericTld(String),
}

impl fmt::Display for HostProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostProblem::Empty => f.write_str("a hostname cannot be empty"),
            HostProblem::TooLong(n) => write!(
                f,
                "it is {n} characters long; a hostname has at most {MAX_HOST_LEN}"
            ),
            HostProblem::BadLabel(label) if label.is_empty() => {
                f.write_str("it has an empty label (two dots in a row, or a leading dot)")
            }
            HostProblem::BadLabel(label) => write!(
                f,
                "label `{}` is not a DNS label: at most {MAX_LABEL_LEN} letters, digits or `-`, \
                 starting and ending with a letter or digit",
                shown(label)
            ),
            HostProblem::NumericTld(tld) => {
                write!(f, "its last label `{}` is a number", shown(tld))
            }
        }
    }
}

/// A value as shown in a message: long values are cut (a finding must stay readable, and a
/// megabyte of hostname must not be copied into every report).
pub fn shown(value: &str) -> String {
    const KEEP: usize = 60;
    if value.len() <= KEEP + 20 {
        return value.to_string();
    }
    let cut = (0..=KEEP)
        .rev()
        .find(|i| value.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} characters)", &value[..cut], value.len())
}

/// True for a DNS label (RFC 1123; Istio takes upper case too).
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            s.len() <= MAX_LABEL_LEN
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// True for the first label of a wildcard host: `*`, a DNS label, or one led by `*` or `*-`.
pub fn is_wildcard_label(s: &str) -> bool {
    if s.len() > MAX_LABEL_LEN {
        return false;
    }
    s == "*"
        || is_dns_label(s)
        || s.strip_prefix("*-").is_some_and(is_dns_label)
        || s.strip_prefix('*').is_some_and(is_dns_label)
}

/// Checks the labels of a domain: each a DNS label (a trailing dot is allowed) and the last not a
/// number.
fn check_labels(domain: &str) -> Result<(), HostProblem> {
    let parts: Vec<&str> = domain.split('.').collect();
    let tld = parts.last().copied().unwrap_or("");
    if tld.parse::<i64>().is_ok() {
        return Err(HostProblem::NumericTld(tld.to_string()));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == parts.len() - 1 && label.is_empty() {
            return Ok(());
        }
        if !is_dns_label(label) {
            return Err(HostProblem::BadLabel((*label).to_string()));
        }
    }
    Ok(())
}

fn preconditions(name: &str) -> Result<(), HostProblem> {
    if name.is_empty() {
        return Err(HostProblem::Empty);
    }
    if name.len() > MAX_HOST_LEN {
        return Err(HostProblem::TooLong(name.len()));
    }
    Ok(())
}

/// Checks a fully qualified domain name (no wildcard).
pub fn check_fqdn(name: &str) -> Result<(), HostProblem> {
    preconditions(name)?;
    check_labels(name)
}

/// Checks a hostname that may start with a wildcard label (`*.example.com`, `*`).
pub fn check_wildcard_host(name: &str) -> Result<(), HostProblem> {
    preconditions(name)?;
    let (first, rest) = match name.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if !is_wildcard_label(first) {
        return Err(HostProblem::BadLabel(first.to_string()));
    }
    match rest {
        Some(rest) => check_labels(rest),
        None => Ok(()),
    }
}

/// True for a `*` that is not a whole first label (`*foo.com`): Istio only warns about those in
/// ServiceEntries.
pub fn is_partial_wildcard(host: &str) -> bool {
    host.contains('*') && host != "*" && !host.starts_with("*.")
}

/// True for an IPv4 or IPv6 address (an IPv6 zone, `%eth0`, is accepted as Go does).
pub fn is_ip(address: &str) -> bool {
    let bare = match address.split_once('%') {
        Some((ip, zone)) if ip.contains(':') && !zone.is_empty() => ip,
        _ => address,
    };
    bare.parse::<IpAddr>().is_ok()
}

/// Checks an IP address or, with one `/`, a CIDR block.
pub fn check_ip_or_cidr(value: &str) -> Result<(), String> {
    if value.matches('/').count() == 1 {
        let (address, bits) = value.split_once('/').unwrap_or((value, ""));
        let max = match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => 32,
            Ok(IpAddr::V6(_)) => 128,
            Err(_) => return Err(format!("`{}` is not a valid CIDR block", shown(value))),
        };
        let ok = !bits.is_empty()
            && bits.bytes().all(|b| b.is_ascii_digit())
            && bits.parse::<u32>().is_ok_and(|b| b <= max);
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a valid CIDR block (the prefix length must be 0 to {max})",
                shown(value)
            ))
        };
    }
    if is_ip(value) {
        Ok(())
    } else {
        Err(format!("`{}` is not an IP address", shown(value)))
    }
}

/// A qualified name as Kubernetes label keys and values use it: letters, digits, `-`, `_` and
/// `.`, starting and ending with a letter or digit.
fn is_qualified_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Checks a label key as Istio does: an optional DNS-name prefix and `/`, then a name of at most
/// 63 characters.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let labels_ok = prefix.split('.').all(|label| {
            let bytes = label.as_bytes();
            !label.is_empty()
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        });
        if !labels_ok || prefix.len() > 253 {
            return Err(format!(
                "label key `{}` has an invalid prefix: it must be a DNS name of at most 253 \
                 characters before the `/`",
                shown(key)
            ));
        }
    }
    if !is_qualified_name(name) || name.len() > MAX_LABEL_LEN {
        return Err(format!(
            "label key `{}` is invalid: the name must be at most 63 letters, digits, `-`, `_` or \
             `.`, starting and ending with a letter or digit",
            shown(key)
        ));
    }
    Ok(())
}

/// Checks a label value as Istio does: empty, or letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_name(value) {
        Ok(())
    } else {
        Err(format!(
            "label value `{}` is invalid: use letters, digits, `-`, `_` or `.`, starting and \
             ending with a letter or digit",
            shown(value)
        ))
    }
}

/// The protocols Istio knows for a port (case does not matter).
pub const PROTOCOLS: &[&str] = &[
    "TCP",
    "UDP",
    "GRPC",
    "GRPC-Web",
    "HTTP",
    "HTTP_PROXY",
    "HTTP2",
    "HTTPS",
    "TLS",
    "Mongo",
    "Redis",
    "MySQL",
];

/// What a port protocol carries, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolClass {
    /// HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-Web.
    Http,
    /// HTTPS, TLS.
    Tls,
    /// TCP, Mongo, Redis, MySQL.
    Tcp,
    /// UDP.
    Udp,
    /// Not a protocol Istio knows (or empty).
    Unknown,
}

/// Classifies a protocol name as Istio parses it.
pub fn protocol_class(protocol: &str) -> ProtocolClass {
    match protocol.to_ascii_lowercase().as_str() {
        "http" | "http2" | "http_proxy" | "grpc" | "grpc-web" => ProtocolClass::Http,
        "https" | "tls" => ProtocolClass::Tls,
        "tcp" | "mongo" | "redis" | "mysql" => ProtocolClass::Tcp,
        "udp" => ProtocolClass::Udp,
        _ => ProtocolClass::Unknown,
    }
}

/// Characters an HTTP header name may hold (RFC 7230 `tchar`).
pub fn is_header_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_istios_rules() {
        for ok in [
            "reviews",
            "reviews.prod.svc.cluster.local",
            "*.example.com",
            "*",
            "*-api.example.com",
            "*api.example.com",
            "istio.io.",
            "Reviews.Example.COM",
            "123",
        ] {
            assert_eq!(check_wildcard_host(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_wildcard_host(""), Err(HostProblem::Empty));
        assert_eq!(
            check_wildcard_host("a..b"),
            Err(HostProblem::BadLabel(String::new()))
        );
        assert_eq!(
            check_wildcard_host("foo.*.com"),
            Err(HostProblem::BadLabel("*".into()))
        );
        assert_eq!(
            check_wildcard_host("foo.123"),
            Err(HostProblem::NumericTld("123".into()))
        );
        assert_eq!(
            check_wildcard_host(&"a".repeat(64)),
            Err(HostProblem::BadLabel("a".repeat(64)))
        );
        assert_eq!(
            check_fqdn("*.example.com"),
            Err(HostProblem::BadLabel("*".into()))
        );
        let long = format!("{}.com", "a.".repeat(200));
        assert_eq!(
            check_wildcard_host(&long),
            Err(HostProblem::TooLong(long.len()))
        );
    }

    #[test]
    fn a_huge_host_is_refused_by_length_alone_and_shown_cut() {
        let huge = "a".repeat(5_000_000);
        assert_eq!(
            check_wildcard_host(&huge),
            Err(HostProblem::TooLong(5_000_000))
        );
        let text = shown(&huge);
        assert!(text.len() < 100, "{text}");
        assert!(text.ends_with("(5000000 characters)"), "{text}");
    }

    #[test]
    fn addresses_and_cidrs() {
        for ok in [
            "10.0.0.1",
            "2001:db8::1",
            "fe80::1%eth0",
            "10.0.0.0/8",
            "::/0",
        ] {
            assert_eq!(check_ip_or_cidr(ok), Ok(()), "{ok}");
        }
        for bad in [
            "10.0.0.0/33",
            "example.com",
            "10.0.0.0/",
            "1.2.3.4/8/9",
            "300.1.1.1",
        ] {
            assert!(check_ip_or_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_and_tokens() {
        assert_eq!(check_label_key("app.kubernetes.io/name"), Ok(()));
        assert_eq!(check_label_key("version"), Ok(()));
        assert!(check_label_key("-bad").is_err());
        assert!(check_label_key("a/b/c").is_err());
        assert_eq!(check_label_value(""), Ok(()));
        assert_eq!(check_label_value("v1.2_x"), Ok(()));
        assert!(check_label_value("v1 ").is_err());
        assert!(is_header_token("x-request-id"));
        assert!(!is_header_token("bad header"));
        assert_eq!(protocol_class("grpc-web"), ProtocolClass::Http);
        assert_eq!(protocol_class(""), ProtocolClass::Unknown);
    }
}
