//! [`TargetError`]: why a target failed, with the client's error as its source, and whether
//! trying again may help; [`Op`]: what the target was doing.

use std::fmt;
use std::path::PathBuf;

use meshcd_core::model::{Kind, Resource, ResourceId};
use meshcd_core::plan::Action;

use crate::cluster::ClusterError;
use crate::envoy::EnvoyError;
use crate::gcp::GcpError;

/// What a target was doing when it failed: the context a [`TargetError`] says in its own
/// message (the client's error is its source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Opening the target's client (credentials, kubeconfig).
    Open,
    /// Reading back what the target holds: of one kind (resource targets), or the whole served
    /// configuration (`None`, Envoy).
    Read(Option<Kind>),
    /// Publishing a whole configuration (Envoy).
    Publish,
    /// Waiting until the target answers again after a restart.
    WaitReady,
    /// Creating, updating or deleting one resource.
    Change {
        /// What was done to it.
        action: Action,
        /// The resource.
        id: ResourceId,
        /// Where Git declares it (`file:line`); `None` for a deletion.
        at: Option<String>,
    },
}

impl Op {
    /// A change to `resource`, located at its file and line.
    pub fn change(action: Action, resource: &Resource) -> Self {
        Self::Change {
            action,
            id: resource.id.clone(),
            at: Some(format!("{}:{}", resource.file, resource.pos.line)),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open => f.write_str("opening the target"),
            Self::Read(Some(kind)) => write!(f, "listing {kind} resources"),
            Self::Read(None) => f.write_str("reading the served configuration"),
            Self::Publish => f.write_str("publishing the configuration"),
            Self::WaitReady => f.write_str("waiting until the target is ready"),
            Self::Change { action, id, at } => {
                if let Some(at) = at {
                    write!(f, "{at}: ")?;
                }
                let verb = match action {
                    Action::Create => "creating",
                    Action::Update => "updating",
                    Action::Delete => "deleting",
                };
                write!(f, "{verb} {id}")
            }
        }
    }
}

/// A client's error and what the target was doing when it came: the message is the [`Op`],
/// the source the client's error.
#[derive(Debug, thiserror::Error)]
#[error("{op}")]
pub struct OpError<E: std::error::Error + 'static> {
    /// What the target was doing.
    pub op: Op,
    /// The client's error.
    #[source]
    pub source: E,
}

/// A failure of the target. Its message says what the target was doing ([`Op`]) or what it
/// refused; the client's error (Envoy, Google Cloud, Kubernetes, the file system) is its
/// [`std::error::Error::source`], and decides [`TargetError::is_retryable`] where there is one.
///
/// The client variants hold a boxed [`OpError`] (client errors are large; a `Result` with this
/// error stays small); their message and source are the `OpError`'s.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The local Envoy failed: its admin interface did not answer, it was not ready, or it
    /// rejected (or `--mode validate` refused) the configuration.
    #[error(transparent)]
    Envoy(Box<OpError<EnvoyError>>),
    /// The Google Cloud API failed or refused a request.
    #[error(transparent)]
    Gcp(Box<OpError<GcpError>>),
    /// The Kubernetes API server failed or refused a request (a server-side apply conflict
    /// included).
    #[error(transparent)]
    Cluster(Box<OpError<ClusterError>>),
    /// A file of the target's folder could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the target's folder is not YAML.
    #[error("{}: not YAML", path.display())]
    NotYaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The target refuses a resource as Git has it, before sending anything: a kind it does
    /// not manage, a name under another project, a mesh that does not exist.
    #[error("{resource} {reason}")]
    Rejected {
        /// The resource, with its file and line when known.
        resource: String,
        /// Why, as the rest of the sentence (`is not a route the gcp target manages`).
        reason: String,
    },
    /// What the target holds cannot be read back as resources.
    #[error("{origin}: what the target holds cannot be read: {reason}")]
    Unreadable {
        /// Where the document came from (`gcp:projects/…`, a file).
        origin: String,
        /// The loader's finding.
        reason: String,
    },
    /// A failure described by its message alone (fakes and tests).
    #[error("{message}")]
    Other {
        /// What went wrong, in one line (no secrets).
        message: String,
        /// Whether trying again may help.
        retryable: bool,
    },
}

impl TargetError {
    /// True when trying again later may succeed: a connection failure, 429 or 5xx, Envoy not
    /// ready or slow, an I/O error that may pass. False when the target refused the change
    /// itself: Envoy rejected the configuration or `--mode validate` refused it, a 4xx other
    /// than 429, a server-side apply conflict, a resource the target does not take.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Envoy(error) => error.source.is_retryable(),
            Self::Gcp(error) => error.source.retryable(),
            Self::Cluster(error) => error.source.retryable(),
            Self::Io { source, .. } => crate::errors::io_retryable(source),
            Self::NotYaml { .. } | Self::Rejected { .. } | Self::Unreadable { .. } => false,
            Self::Other { retryable, .. } => *retryable,
        }
    }

    /// Envoy's `source`, met while doing `op`.
    pub fn envoy(op: Op, source: EnvoyError) -> Self {
        Self::Envoy(Box::new(OpError { op, source }))
    }

    /// The Google Cloud client's `source`, met while doing `op`.
    pub fn gcp(op: Op, source: GcpError) -> Self {
        Self::Gcp(Box::new(OpError { op, source }))
    }

    /// The Kubernetes client's `source`, met while doing `op`.
    pub fn cluster(op: Op, source: ClusterError) -> Self {
        Self::Cluster(Box::new(OpError { op, source }))
    }

    /// A failure described by its message alone that may pass (for fakes and tests).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure described by its message alone that retrying will not fix (for fakes and
    /// tests).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            retryable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use super::*;
    use crate::envoy::AdminClient;
    use crate::errors::report;

    fn envoy(source: EnvoyError) -> TargetError {
        TargetError::envoy(Op::Publish, source)
    }

    fn gcp_api(status: u16) -> TargetError {
        TargetError::gcp(
            Op::Read(Some(Kind::NsHttpRoute)),
            GcpError::Api {
                status,
                reason: String::new(),
                message: "m".into(),
                resource: "projects/p/locations/global/httpRoutes".into(),
                method: "GET".into(),
                attempts: 1,
            },
        )
    }

    fn cluster(source: ClusterError) -> TargetError {
        TargetError::cluster(
            Op::Change {
                action: Action::Create,
                id: ResourceId {
                    kind: Kind::VirtualService,
                    namespace: "ads".into(),
                    name: "ads".into(),
                },
                at: Some("routes/ads.yaml:1".into()),
            },
            source,
        )
    }

    fn io_error(kind: io::ErrorKind) -> TargetError {
        TargetError::Io {
            path: "/srv/render/kubernetes".into(),
            source: io::Error::from(kind),
        }
    }

    /// A loopback port nothing listens on, and the error a connection to it gets.
    fn refused_port() -> (u16, io::Error) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let refused = std::net::TcpStream::connect(("127.0.0.1", port)).expect_err("refused");
        (port, refused)
    }

    #[tokio::test]
    async fn a_refused_connection_to_envoy_is_retryable_and_keeps_its_cause() {
        let (port, refused) = refused_port();
        let admin = AdminClient::loopback(port).expect("client");
        let source = admin.ready().await.expect_err("nothing listens");
        assert!(
            matches!(source, EnvoyError::Unreachable { .. }),
            "{source:?}"
        );
        let error = TargetError::envoy(Op::Read(None), source);
        assert!(error.is_retryable());
        let cause = error.source().expect("a source");
        assert!(matches!(
            cause.downcast_ref::<EnvoyError>(),
            Some(EnvoyError::Unreachable { .. })
        ));
        // The whole chain down to the operating system's words, each said once.
        let text = report(&error);
        println!("{text}");
        assert!(
            text.starts_with("reading the served configuration: "),
            "{text}"
        );
        assert_eq!(text.matches(&refused.to_string()).count(), 1, "{text}");
        assert_eq!(error.to_string(), "reading the served configuration");
    }

    #[test]
    fn an_envoy_rejection_or_invalid_configuration_is_permanent() {
        let rejected = envoy(EnvoyError::Rejected {
            reason: "routes (version 3): update_rejected rose from 0 to 1".into(),
        });
        assert!(!rejected.is_retryable());
        assert!(!envoy(EnvoyError::Invalid {
            reason: "unknown cluster 'nope'".into()
        })
        .is_retryable());
        assert!(!envoy(EnvoyError::NotFound { looked: vec![] }).is_retryable());
        assert_eq!(
            report(&rejected),
            "publishing the configuration: Envoy rejected the configuration: routes (version \
             3): update_rejected rose from 0 to 1"
        );
    }

    #[test]
    fn envoy_not_ready_or_slow_is_retryable() {
        assert!(envoy(EnvoyError::TimedOut {
            reason: "routes not served within 2s".into()
        })
        .is_retryable());
        assert!(envoy(EnvoyError::NotReady {
            admin_url: "http://127.0.0.1:9901".into(),
            waited: std::time::Duration::from_secs(10),
            why: "state PRE_INITIALIZING".into(),
            logs: String::new(),
        })
        .is_retryable());
        assert!(envoy(EnvoyError::io(
            "/work/envoy",
            io::Error::from(io::ErrorKind::StorageFull)
        ))
        .is_retryable());
        assert!(!envoy(EnvoyError::io(
            "/work/envoy",
            io::Error::from(io::ErrorKind::PermissionDenied)
        ))
        .is_retryable());
    }

    #[test]
    fn google_cloud_errors_follow_the_status() {
        for status in [429, 500, 503] {
            assert!(gcp_api(status).is_retryable(), "{status}");
        }
        for status in [400, 403, 404, 409] {
            assert!(!gcp_api(status).is_retryable(), "{status}");
        }
        let unreachable = TargetError::gcp(
            Op::Open,
            GcpError::Http {
                method: "GET".into(),
                resource: "r".into(),
                url: "https://networkservices.googleapis.com".into(),
                attempts: 5,
                message: "connection refused".into(),
            },
        );
        assert!(unreachable.is_retryable());
    }

    #[test]
    fn kubernetes_conflicts_and_4xx_are_permanent_transport_and_5xx_retryable() {
        let conflict = cluster(ClusterError::Conflict {
            resource: "VirtualService/ads/ads".into(),
            message: "conflict with \"kubectl\"".into(),
        });
        assert!(!conflict.is_retryable());
        let api = |status| ClusterError::Api {
            status,
            resource: "VirtualService/ads/ads".into(),
            message: "m".into(),
        };
        assert!(!cluster(api(422)).is_retryable());
        assert!(cluster(api(500)).is_retryable());
        assert!(cluster(api(429)).is_retryable());
        assert!(cluster(ClusterError::Transport("connection refused".into())).is_retryable());
        assert!(text_starts_with(
            &conflict,
            "routes/ads.yaml:1: creating VirtualService/ads/ads: VirtualService/ads/ads: \
             server-side apply conflict"
        ));
    }

    fn text_starts_with(error: &TargetError, start: &str) -> bool {
        report(error).starts_with(start)
    }

    #[test]
    fn file_errors_follow_the_io_error() {
        assert!(io_error(io::ErrorKind::StorageFull).is_retryable());
        assert!(io_error(io::ErrorKind::Interrupted).is_retryable());
        assert!(!io_error(io::ErrorKind::PermissionDenied).is_retryable());
        assert!(!io_error(io::ErrorKind::ReadOnlyFilesystem).is_retryable());
        let not_yaml = TargetError::NotYaml {
            path: "/srv/render/kubernetes/ads/virtualservice-ads.yaml".into(),
            source: serde_yaml_ng::from_str::<serde_json::Value>("a: [").expect_err("not YAML"),
        };
        assert!(!not_yaml.is_retryable());
    }

    #[test]
    fn refusals_by_the_target_are_permanent() {
        let rejected = TargetError::Rejected {
            resource: "routes/web.yaml:1: HttpRoute/web".into(),
            reason: "attaches to meshes/nope, which does not exist in projects/p/locations/global"
                .into(),
        };
        assert!(!rejected.is_retryable());
        assert!(rejected.source().is_none());
        let unreadable = TargetError::Unreadable {
            origin: "gcp:projects/p/locations/global/httpRoutes/web".into(),
            reason: "missing field `rules`".into(),
        };
        assert!(!unreadable.is_retryable());
        assert!(TargetError::retryable("busy").is_retryable());
        assert!(!TargetError::permanent("no").is_retryable());
    }

    #[test]
    fn every_client_error_is_the_source() {
        let error = gcp_api(409);
        let source = error.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<GcpError>().and_then(GcpError::status),
            Some(409)
        );
        assert_eq!(
            error.to_string(),
            "listing HttpRoute resources",
            "the message says the target's own part only"
        );

        let error = cluster(ClusterError::Transport("reset".into()));
        let source = error.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<ClusterError>(),
            Some(&ClusterError::Transport("reset".into()))
        );

        let error = envoy(EnvoyError::Invalid {
            reason: "bad regex".into(),
        });
        assert!(matches!(
            error.source().and_then(|s| s.downcast_ref::<EnvoyError>()),
            Some(EnvoyError::Invalid { .. })
        ));

        let error = io_error(io::ErrorKind::PermissionDenied);
        let source = error.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert_eq!(error.to_string(), "/srv/render/kubernetes");
    }
}
