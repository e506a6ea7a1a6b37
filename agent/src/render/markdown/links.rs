//! Links to files and commits on the repository's web host (GitHub or GitLab), from a web
//! address or derived from a Git remote URL.

/// The URL layout of a web host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// `https://github.com/o/r/blob/<commit>/<path>#L<line>` (also GitHub Enterprise).
    GitHub,
    /// `https://gitlab.com/g/r/-/blob/<commit>/<path>#L<line>`.
    GitLab,
}

/// Where the repository is shown on the web.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoLinks {
    base: String,
    host: Host,
}

impl RepoLinks {
    /// A web address given by the user (`--repo-url`), e.g. `https://github.com/o/r`. GitLab's
    /// layout is used when the host name says `gitlab`, GitHub's otherwise. `None` unless it
    /// is an `http(s)` URL with a path.
    pub fn from_web_url(text: &str) -> Option<RepoLinks> {
        let url = url::Url::parse(text.trim()).ok()?;
        if !matches!(url.scheme(), "https" | "http") {
            return None;
        }
        let host = url.host_str()?.to_ascii_lowercase();
        let path = clean_path(url.path())?;
        let layout = if host.contains("gitlab") {
            Host::GitLab
        } else {
            Host::GitHub
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Some(RepoLinks {
            base: format!("{}://{host}{port}/{path}", url.scheme()),
            host: layout,
        })
    }

    /// The web address of a Git remote on GitHub or GitLab: `https://github.com/o/r.git`,
    /// `git@github.com:o/r.git`, `ssh://git@gitlab.com/g/r.git`. Credentials are dropped.
    /// `None` for other hosts and for local paths.
    pub fn from_remote(remote: &str) -> Option<RepoLinks> {
        let remote = remote.trim();
        let (host, path) = if let Ok(url) = url::Url::parse(remote) {
            if !matches!(url.scheme(), "https" | "http" | "ssh" | "git") {
                return None;
            }
            (url.host_str()?.to_ascii_lowercase(), url.path().to_string())
        } else {
            // scp-like: user@host:path
            let (user_host, path) = remote.split_once(':')?;
            let host = user_host.rsplit('@').next()?;
            if host.contains('/') || path.starts_with("//") {
                return None;
            }
            (host.to_ascii_lowercase(), path.to_string())
        };
        let layout = if host.contains("gitlab") {
            Host::GitLab
        } else if host.contains("github") {
            Host::GitHub
        } else {
            return None;
        };
        let path = clean_path(&path)?;
        Some(RepoLinks {
            base: format!("https://{host}/{path}"),
            host: layout,
        })
    }

    /// The repository's web address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A file at a commit, at a line when given.
    pub fn file(&self, commit: &str, path: &str, line: Option<u32>) -> String {
        let anchor = line.map(|l| format!("#L{l}")).unwrap_or_default();
        format!(
            "{}{}/blob/{commit}/{}{anchor}",
            self.base,
            self.separator(),
            encode_path(path)
        )
    }

    /// A commit.
    pub fn commit(&self, commit: &str) -> String {
        format!("{}{}/commit/{commit}", self.base, self.separator())
    }

    fn separator(&self) -> &'static str {
        match self.host {
            Host::GitHub => "",
            Host::GitLab => "/-",
        }
    }
}

/// `/o/r.git/` → `o/r`; `None` when nothing is left.
fn clean_path(path: &str) -> Option<String> {
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    (!path.is_empty()).then(|| path.to_string())
}

/// Percent-encodes what a URL path cannot hold; `/` separates segments.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_of_github_and_gitlab_become_web_addresses() {
        for remote in [
            "https://github.com/acme/routes.git",
            "https://x-access-token:secret@github.com/acme/routes",
            "git@github.com:acme/routes.git",
            "ssh://git@github.com/acme/routes.git",
        ] {
            let links = RepoLinks::from_remote(remote).unwrap();
            assert_eq!(links.base(), "https://github.com/acme/routes", "{remote}");
        }
        let gitlab = RepoLinks::from_remote("git@gitlab.com:group/sub/routes.git").unwrap();
        assert_eq!(
            gitlab.file("abc", "routes/a b.yaml", Some(3)),
            "https://gitlab.com/group/sub/routes/-/blob/abc/routes/a%20b.yaml#L3"
        );
        assert!(RepoLinks::from_remote("/srv/git/routes.git").is_none());
        assert!(RepoLinks::from_remote("file:///srv/git/routes.git").is_none());
        assert!(RepoLinks::from_remote("https://example.com/routes.git").is_none());
    }

    #[test]
    fn web_addresses_pick_the_layout_by_host() {
        let github = RepoLinks::from_web_url("https://ghe.example.com/acme/routes/").unwrap();
        assert_eq!(
            github.file("abc", "r.yaml", Some(11)),
            "https://ghe.example.com/acme/routes/blob/abc/r.yaml#L11"
        );
        assert_eq!(
            github.commit("abc"),
            "https://ghe.example.com/acme/routes/commit/abc"
        );
        assert!(RepoLinks::from_web_url("git@github.com:acme/routes").is_none());
        assert!(RepoLinks::from_web_url("https://github.com/").is_none());
    }
}
