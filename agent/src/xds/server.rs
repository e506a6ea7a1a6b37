//! The gRPC server: listens on a Unix socket (the local managed Envoy), on TCP with mTLS (remote
//! Envoys), or on plain TCP on a loopback address; serves the aggregated discovery service
//! (delta) and the client status discovery service (CSDS) over each.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::status::v3::client_status_discovery_service_server::ClientStatusDiscoveryServiceServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::server::{Connected, TcpConnectInfo, UdsConnectInfo};
use tonic::{Request, Response, Status, Streaming};

use super::csds::Csds;
use super::metrics::MetricsSink;
use super::registry::Registry;
use super::snapshot::{ResourceType, Snapshot};
use super::stream::{Event, StreamState};
use super::tls::{identities, Admission, ReloadingTls, TlsFiles};
use super::XdsError;
use envoy_types::pb::envoy::service::metrics::v3::metrics_service_server::MetricsServiceServer;

/// Where and how the xDS server listens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XdsOptions {
    /// A Unix socket for the local managed Envoy (created with mode 0600).
    pub socket: Option<PathBuf>,
    /// A TCP address for remote Envoys.
    pub listen: Option<SocketAddr>,
    /// mTLS on the TCP address (required unless it is a loopback address).
    pub tls: Option<TlsFiles>,
    /// The client certificate identities admitted over mTLS.
    pub admit: Vec<String>,
}

/// Who is on the other end of a connection, as the server admitted it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Where it connects from.
    pub address: String,
    /// The identity it was admitted as.
    pub identity: String,
}

impl Peer {
    fn of<T>(request: &Request<T>) -> Self {
        let extensions = request.extensions();
        if let Some(peer) = extensions.get::<Peer>() {
            return peer.clone();
        }
        if extensions.get::<UdsConnectInfo>().is_some() {
            return Peer {
                address: "unix socket".into(),
                identity: "local".into(),
            };
        }
        let address = extensions
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        Peer {
            address,
            identity: "loopback".into(),
        }
    }
}

/// A running xDS server; stops when dropped.
#[derive(Debug)]
pub struct XdsServer {
    registry: Arc<Registry>,
    stops: Vec<oneshot::Sender<()>>,
    listen: Option<SocketAddr>,
    socket: Option<PathBuf>,
}

impl XdsServer {
    /// Binds every configured listener and starts serving `registry`.
    pub async fn start(options: &XdsOptions, registry: Arc<Registry>) -> Result<Self, XdsError> {
        let mut server = Self {
            registry: registry.clone(),
            stops: Vec::new(),
            listen: None,
            socket: None,
        };
        if let Some(path) = &options.socket {
            let listener = bind_unix(path)?;
            let incoming = UnixListenerStream::new(listener);
            server
                .stops
                .push(serve(&registry, incoming, path.display().to_string()));
            server.socket = Some(path.clone());
        }
        if let Some(address) = options.listen {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|source| XdsError::Bind {
                    address: address.to_string(),
                    source,
                })?;
            let bound = listener.local_addr().map_err(|source| XdsError::Bind {
                address: address.to_string(),
                source,
            })?;
            let stop = match &options.tls {
                Some(files) => {
                    let tls = Arc::new(ReloadingTls::new(files.clone())?);
                    let admission = Admission::new(options.admit.clone());
                    let incoming = tls_incoming(listener, tls, admission);
                    serve(&registry, incoming, bound.to_string())
                }
                None if bound.ip().is_loopback() => {
                    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                    serve(&registry, incoming, bound.to_string())
                }
                None => {
                    return Err(XdsError::PlainOffLoopback {
                        address: bound.to_string(),
                    })
                }
            };
            server.stops.push(stop);
            server.listen = Some(bound);
        }
        Ok(server)
    }

    /// The registry the server serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The TCP address it listens on (with the port picked when 0 was asked for).
    pub fn listen_address(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// The Unix socket it listens on.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }
}

impl Drop for XdsServer {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Serves the xDS services on `incoming` until the returned sender fires (or is dropped).
fn serve<S, IO, E>(registry: &Arc<Registry>, incoming: S, label: String) -> oneshot::Sender<()>
where
    S: tokio_stream::Stream<Item = Result<IO, E>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let router = routes(registry);
    tokio::spawn(async move {
        let served = router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!("xDS server on {label} stopped: {error}");
        }
    });
    stop
}

fn routes(registry: &Arc<Registry>) -> tonic::transport::server::Router {
    tonic::transport::Server::builder()
        .add_service(AggregatedDiscoveryServiceServer::new(Ads {
            registry: registry.clone(),
        }))
        .add_service(ClientStatusDiscoveryServiceServer::new(Csds::new(
            registry.clone(),
        )))
        .add_service(MetricsServiceServer::new(MetricsSink::new(
            registry.metrics().clone(),
        )))
}

/// Binds the Unix socket (replacing a stale one) with mode 0600.
fn bind_unix(path: &Path) -> Result<UnixListener, XdsError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| XdsError::Bind {
        address: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// Accepts TCP connections, completes each TLS handshake in a task of its own (a slow client
/// holds up nobody), and passes on only connections whose certificate is admitted.
fn tls_incoming(
    listener: TcpListener,
    tls: Arc<ReloadingTls>,
    admission: Admission,
) -> ReceiverStream<Result<TlsConnection, std::io::Error>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, address) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("xDS: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
            let admission = admission.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                        .await;
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::warn!("xDS: refused {address}: TLS handshake failed: {error}");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!("xDS: refused {address}: TLS handshake timed out");
                        return;
                    }
                };
                let ids = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(identities)
                    .unwrap_or_default();
                let Some(identity) = admission.admit(&ids).cloned() else {
                    tracing::warn!(
                        "xDS: refused {address}: certificate identities {ids:?} are not admitted"
                    );
                    return;
                };
                let peer = Peer {
                    address: address.to_string(),
                    identity,
                };
                let _ = tx.send(Ok(TlsConnection { stream, peer })).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

/// An admitted mTLS connection.
struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Peer,
}

impl Connected for TlsConnection {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The aggregated discovery service.
#[derive(Debug, Clone)]
struct Ads {
    registry: Arc<Registry>,
}

type Boxed<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = Boxed<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        _request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        Err(Status::unimplemented(
            "meshcd serves delta xDS only: set `ads_config.api_type: DELTA_GRPC` in the \
             Envoy bootstrap (`meshcd envoy-bootstrap` prints one)",
        ))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let peer = Peer::of(&request);
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(serve_stream(self.registry.clone(), peer, inbound, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The listen address an Envoy asks for in its node metadata.
fn listen_address(node: &envoy_types::pb::envoy::config::core::v3::Node) -> Option<String> {
    use envoy_types::pb::google::protobuf::value::Kind;
    let value = node
        .metadata
        .as_ref()?
        .fields
        .get(meshcd_core::envoy::LISTEN_ADDRESS_METADATA)?;
    match &value.kind {
        Some(Kind::StringValue(address)) if !address.is_empty() => Some(address.clone()),
        _ => None,
    }
}

/// The snapshot as one Envoy gets it: with its own listen address, when it asks for one.
fn localize(
    snapshot: Arc<Snapshot>,
    address: Option<&str>,
    last: &mut Option<Arc<Snapshot>>,
) -> Arc<Snapshot> {
    let Some(address) = address else {
        return snapshot;
    };
    match snapshot.with_listen_address(address, last.as_deref()) {
        Ok(local) => {
            let local = Arc::new(local);
            *last = Some(local.clone());
            local
        }
        Err(error) => {
            tracing::warn!("xDS: cannot bind listeners to {address}: {error}");
            snapshot
        }
    }
}

/// Serves one Envoy's stream until it ends.
async fn serve_stream(
    registry: Arc<Registry>,
    peer: Peer,
    mut inbound: Streaming<DeltaDiscoveryRequest>,
    tx: mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>,
) {
    let first = match inbound.message().await {
        Ok(Some(first)) => first,
        Ok(None) => return,
        Err(status) => {
            tracing::debug!("xDS stream from {} ended: {status}", peer.address);
            return;
        }
    };
    let Some(node) = first.node.clone().filter(|n| !n.id.is_empty()) else {
        let _ = tx
            .send(Err(Status::invalid_argument(
                "the first request of a stream must carry the node (with an id)",
            )))
            .await;
        return;
    };
    let Some(mut snapshots) = registry.subscribe(&node.cluster) else {
        tracing::warn!(
            "xDS: refused Envoy `{}` from {}: fleet `{}` is not configured",
            node.id,
            peer.address,
            node.cluster
        );
        let _ = tx
            .send(Err(Status::permission_denied(format!(
                "fleet `{}` (node.cluster) is not configured in meshcd.yaml (target.envoy.fleets)",
                node.cluster
            ))))
            .await;
        return;
    };
    let connection = registry.connect(&node.id, &node.cluster, &peer.address, &peer.identity);
    tracing::info!(
        "xDS: Envoy `{}` (fleet `{}`) connected from {} as {}",
        node.id,
        node.cluster,
        peer.address,
        peer.identity
    );
    let listen_address = listen_address(&node);
    let mut localized: Option<Arc<Snapshot>> = None;
    let mut state = StreamState::new();
    let mut reported = None;
    {
        let published = snapshots.borrow_and_update().clone();
        let snapshot = localize(
            published.snapshot,
            listen_address.as_deref(),
            &mut localized,
        );
        state.set_snapshot(snapshot, published.authoritative);
    }
    let mut next = Some(first);
    let ended = loop {
        if let Some(request) = next.take() {
            if let Some(Event::Nacked(nack)) = state.on_request(&request) {
                tracing::warn!(
                    "xDS: Envoy `{}` rejected {} of version {}: {}",
                    node.id,
                    nack.kind,
                    nack.version,
                    nack.message
                );
            }
        }
        loop {
            let (response, event) = state.next_response();
            if let Some(event) = event {
                tracing::debug!("xDS: Envoy `{}`: {event:?}", node.id);
            }
            match response {
                Some(response) => {
                    if tx.send(Ok(response)).await.is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
        if Some(state.revision()) != reported {
            reported = Some(state.revision());
            let held = ResourceType::ALL
                .into_iter()
                .map(|kind| (kind.short().to_string(), state.held(kind).clone()))
                .collect();
            registry.update(connection, state.live(), state.nack(), held);
        }
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(request)) => next = Some(request),
                Ok(None) => break "the Envoy closed the stream".to_string(),
                Err(status) => break format!("stream error: {}", status.message()),
            },
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break "the server stopped".to_string();
                }
                let published = snapshots.borrow_and_update().clone();
                let snapshot =
                    localize(published.snapshot, listen_address.as_deref(), &mut localized);
                state.set_snapshot(snapshot, published.authoritative);
            }
            () = tx.closed() => break "the response stream closed".to_string(),
        }
    };
    registry.disconnect(connection);
    tracing::info!("xDS: Envoy `{}` disconnected: {ended}", node.id);
}
