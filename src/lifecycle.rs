//! A server's life: starting it (monitoring, JetStream, the client port),
//! and stopping it, at once or in lame duck mode.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, error, info};

use crate::config::options::{Options, Port};
use crate::handle::{CloseReason, Handle};
use crate::proto::write;
use crate::server::{Connection, Server};

// The errors `StartError` carries, named here: the modules that define
// them are private to the crate.
pub use crate::jetstream::JetStreamStartError;
pub use crate::monitor::MonitorError;

/// A started server: its address, and the controls to stop it.
pub struct Running {
    server: Arc<Server>,
    /// The accept loop; none for a server started without a client port.
    accept_task: Option<JoinHandle<()>>,
    /// The WebSocket port's address and accept loop, when configured.
    websocket: Option<(SocketAddr, JoinHandle<()>)>,
    /// Routes to the other servers of the cluster, when configured.
    cluster: Option<Arc<crate::route::Cluster>>,
    /// Leaf node connections, when configured.
    leafs: Option<Arc<crate::leaf::Leafs>>,
    jetstream: Vec<crate::jetstream::Attached>,
}

impl Running {
    /// The server itself.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The client address. For a server started with its client port
    /// (`start`); one started without it (`Builder::dont_listen`) has
    /// none: see [`Running::local_addr`].
    pub fn addr(&self) -> SocketAddr {
        self.server
            .addr()
            .expect("a server started with its client port has its address")
    }

    /// The WebSocket port's address, when `websocket { }` is configured.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket.as_ref().map(|(a, _)| *a)
    }

    /// Where routes are taken, when `cluster { }` is configured.
    pub fn cluster_addr(&self) -> Option<SocketAddr> {
        self.cluster.as_ref().map(|c| c.listen_addr())
    }

    /// Where leaf nodes connect, when `leafnodes { port }` is configured.
    pub fn leaf_addr(&self) -> Option<SocketAddr> {
        self.leafs.as_ref().and_then(|l| l.listen_addr())
    }

    /// The client address, if the server listens for clients.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.addr()
    }

    /// Stops accepting, closes every client, returns when they are gone.
    pub async fn shutdown(self) {
        info!("Initiating Shutdown...");
        // In-process users fail fast from here on.
        self.server.mark_stopped();
        crate::monitor::events::server_going(&self.server, "SHUTDOWN");
        self.server.stop_accepting.notify_one();
        if let Some((_, ws)) = &self.websocket {
            ws.abort();
        }
        if let Some(cluster) = &self.cluster {
            cluster.stop();
        }
        if let Some(leafs) = &self.leafs {
            leafs.stop();
        }
        if let Some(accept) = self.accept_task {
            let _ = accept.await;
        }
        self.server
            .close_all_clients(CloseReason::ServerShutdown)
            .await;
        let all = self.jetstream;
        let late = self.server.take_shutdown_tasks();
        if !all.is_empty() || !late.is_empty() {
            info!("Initiating JetStream Shutdown...");
            // Writer threads finish their batch and commit; off the runtime.
            let _ = tokio::task::spawn_blocking(move || {
                all.into_iter().for_each(|js| js.shutdown());
                late.into_iter().for_each(|task| task());
            })
            .await;
            info!("JetStream Shutdown");
        }
        // Handles that outlive the server (an embedded KV) must not keep
        // its files open: a new server on the same store needs them.
        if let Some(readers) = self.server.jetstream_readers() {
            readers.clear();
        }
        info!("Server Exiting..");
    }

    /// Lame duck mode: stop accepting, tell every client (INFO with `ldm`),
    /// wait the grace period, close clients spread over the rest of the
    /// lame duck duration, then shut down.
    pub async fn lame_duck(self) {
        let server = self.server.clone();
        info!("Entering lame duck mode, stop accepting new clients");
        crate::monitor::events::server_going(&server, "LAMEDUCK");
        server.enter_lame_duck();
        server.stop_accepting.notify_one();
        if let Some((_, ws)) = &self.websocket {
            ws.abort();
        }
        if let Some(cluster) = &self.cluster {
            // The other servers stop offering this one to their clients.
            cluster.announce_lame_duck();
        }
        let clients = server.all_clients();
        for handle in clients
            .iter()
            .map(|c| &c.handle)
            .filter(|h| h.wants_async_info())
        {
            if let Some(out) = handle.outbound() {
                let info = server.info_json(handle.id, None, None, None);
                out.send_now(|b| write::append_info(b, &info));
            }
        }
        let opts = server.opts();
        let grace = opts.lame_duck_grace_period.min(opts.lame_duck_duration);
        info!("Waiting {:?} grace period before closing clients", grace);
        tokio::time::sleep(grace).await;
        let spread = opts.lame_duck_duration.saturating_sub(grace);
        let clients = server.all_clients();
        if !clients.is_empty() {
            info!("Closing existing clients");
            let pause = spread / u32::try_from(clients.len()).unwrap_or(u32::MAX);
            for conn in clients {
                conn.handle.close(CloseReason::LameDuck);
                if !pause.is_zero() {
                    tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
                }
            }
        }
        self.shutdown().await;
    }
}

/// Why a server did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The client port could not be bound.
    Listen(io::Error),
    /// JetStream could not start (its store cannot be opened, say).
    JetStream(crate::jetstream::JetStreamStartError),
    /// The TLS certificate or key could not be loaded.
    Tls(crate::tls::TlsError),
    /// The monitoring port could not be bound (or its TLS is missing).
    Monitor(crate::monitor::MonitorError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Listen(e) => write!(f, "{e}"),
            StartError::JetStream(e) => write!(f, "Could not start JetStream: {e}"),
            StartError::Tls(e) => write!(f, "{e}"),
            StartError::Monitor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Listen(e) => Some(e),
            StartError::JetStream(e) => Some(e),
            StartError::Tls(e) => Some(e),
            StartError::Monitor(e) => Some(e),
        }
    }
}

/// Starts JetStream (when enabled), binds the client port and accepts.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    start_listening(opts, true).await
}

/// `start`, with the client port (`listen`) or without it: a server only
/// in-process clients reach (the reference's `DontListen`).
pub async fn start_listening(
    opts: Options,
    listen_for_clients: bool,
) -> Result<Running, StartError> {
    let port = match opts.port {
        Port::Fixed(p) => p,
        Port::Random => 0,
    };
    let tls = match &opts.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(
            t.load().map_err(StartError::Tls)?,
        )),
        None => None,
    };
    let server = Arc::new(Server::new(opts, tls));
    let opts = server.opts();
    if opts.tls.is_some() {
        info!("TLS required for client connections");
    }
    info!("  Name:     {}", server.name());
    info!("  ID:       {}", server.id());
    crate::imports::wire(&server);
    crate::monitor::system::start(&server);
    crate::monitor::events::start_heartbeat(&server);
    // Monitoring opens before the client port, as in the reference.
    let port_number = |p: Port| match p {
        Port::Fixed(p) => p,
        Port::Random => 0,
    };
    let monitor = match (opts.http_port, opts.https_port) {
        (Some(http), Some(https)) => {
            return Err(StartError::Monitor(crate::monitor::MonitorError(format!(
                "can't specify both HTTP ({}) and HTTPs ({}) ports",
                port_number(http),
                port_number(https)
            ))))
        }
        (Some(http), None) => Some((port_number(http), None)),
        (None, Some(https)) => {
            let acceptor = server.tls_acceptor();
            let Some(acceptor) = acceptor else {
                return Err(StartError::Monitor(crate::monitor::MonitorError(
                    "TLS cert and key required for HTTPS".into(),
                )));
            };
            Some((port_number(https), Some(acceptor)))
        }
        (None, None) => None,
    };
    if let Some((port, tls)) = monitor {
        let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
        let addr = crate::monitor::start(&server, &host, port, tls)
            .await
            .map_err(StartError::Monitor)?;
        server.set_monitor_addr(addr);
    }
    if let (true, Some(domain)) = (opts.jetstream, &opts.js_domain) {
        for account in server.accounts() {
            if Some(account.name.as_str()) != server.system_account_name() {
                account.set_js_domain(domain);
            }
        }
    }
    let jetstream = if opts.jetstream {
        crate::jetstream::start(&server).map_err(StartError::JetStream)?
    } else {
        Vec::new()
    };
    let accept_task = if listen_for_clients {
        let listener = listen(&opts.host, port).await.map_err(StartError::Listen)?;
        let addr = listener.local_addr().map_err(StartError::Listen)?;
        server.set_addr(addr);
        info!("Listening for client connections on {}", addr);
        Some(tokio::spawn(accept_loop(server.clone(), listener)))
    } else {
        info!("Not listening for client connections (in-process only)");
        None
    };
    let websocket = match (&opts.websocket, listen_for_clients) {
        (Some(ws), true) => Some(
            crate::websocket::start(&server, ws)
                .await
                .map_err(StartError::Listen)?,
        ),
        _ => None,
    };
    let cluster = match (&opts.cluster, listen_for_clients) {
        (Some(c), true) => Some(
            crate::route::start(&server, c)
                .await
                .map_err(StartError::Listen)?,
        ),
        _ => None,
    };
    let leafs = match (&opts.leafnodes, listen_for_clients) {
        (Some(l), true) => Some(
            crate::leaf::start(&server, l)
                .await
                .map_err(StartError::Listen)?,
        ),
        _ => None,
    };
    Ok(Running {
        server,
        accept_task,
        websocket,
        cluster,
        leafs,
        jetstream,
    })
}

/// The reference's accept-error backoff bounds.
const ACCEPT_MIN_SLEEP: Duration = Duration::from_millis(10);
const ACCEPT_MAX_SLEEP: Duration = Duration::from_secs(1);
/// The listen backlog: the reference's, so bursts of connects queue
/// instead of overflowing (the usual 128 stalls a burst for a second).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the client port (the first address `host` resolves to that binds).
async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("no address for {host}"),
        )
    }))
}

/// Accepts clients until the server stops accepting.
async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    let mut pause = ACCEPT_MIN_SLEEP;
    loop {
        tokio::select! {
            () = server.stop_accepting.notified() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    pause = ACCEPT_MIN_SLEEP;
                    admit(server.clone(), stream, peer);
                }
                Err(e) => {
                    // Out of descriptors and the like: back off, doubling
                    // up to a second as the reference does, keep serving.
                    error!("Temporary Client Accept Error({e}), sleeping {}ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(ACCEPT_MAX_SLEEP);
                }
            },
        }
    }
}

/// Registers an accepted client and starts its tasks (or refuses it, at
/// `max_connections`).
fn admit(server: Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = server.next_id();
    let opts = server.opts();
    let handle = Arc::new(Handle::socket(id, opts.max_pending, peer));
    let conn = Arc::new(Connection::new(handle, server.global_account().clone()));
    if !server.register(&conn, opts.max_connections) {
        tokio::spawn(refuse_connection(server, conn.handle.clone(), stream, peer));
        return;
    }
    debug!("{peer} - cid:{id} - Client connection created");
    let ip = peer.ip().to_string();
    if let Some(acceptor) = server.tls_acceptor() {
        tokio::spawn(crate::client::run_tls_connection(
            server, conn, stream, peer, ip, acceptor,
        ));
        return;
    }
    let greeting = crate::client::Greeting {
        cookies: None,
        send_info: true,
        nonce: server.new_nonce(),
        client_cert: None,
    };
    tokio::spawn(crate::client::run_connection(
        server,
        conn,
        stream.into_split(),
        peer,
        ip,
        greeting,
    ));
}

/// The reference tells a client over the limit after its INFO, then closes.
async fn refuse_connection(
    server: Arc<Server>,
    handle: Arc<Handle>,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    use tokio::io::AsyncWriteExt;
    crate::rate_limit::error_limited(
        &crate::rate_limit::REFUSED_CONNECTIONS,
        format_args!("{peer} - cid:{} - maximum connections exceeded", handle.id),
    );
    let mut buf = bytes::BytesMut::new();
    write::append_info(
        &mut buf,
        &server.info_json(handle.id, Some(&peer.ip().to_string()), None, None),
    );
    write::append_err(&mut buf, "maximum connections exceeded");
    let _ = tokio::time::timeout(server.opts().write_deadline, stream.write_all(&buf)).await;
    let _ = stream.shutdown().await;
}
