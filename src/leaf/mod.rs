//! Leaf nodes, on the reference's leaf node protocol: as a hub, other
//! servers connect to our leaf port and are bound to one of our accounts;
//! as a leaf, we connect to the hubs in `remotes`, each bound to one of
//! our accounts. Interest crosses as LS+/LS- (a hub sends its leaf all of
//! the account's interest, a leaf sends its hub only its own), messages as
//! LMSG/HMSG. A leaf's JetStream is reached from the hub through its
//! domain: `$JS.<domain>.API.>` is mapped onto `$JS.API.>` here.

mod conn;
mod info;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error, info};

use crate::config::leafnodes::{LeafOptions, LeafRemote};
use crate::server::Server;

/// How long a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait between attempts to reach a hub.
const RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// This server's leaf node side: the hub port and the remotes.
pub struct Leafs {
    server: Arc<Server>,
    opts: LeafOptions,
    listen: Option<SocketAddr>,
    accept: Mutex<Option<tokio::task::JoinHandle<()>>>,
    dialers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// `leafnodes { tls }`: leaf nodes must connect with TLS.
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// `$LDS.<token>`: the interest this server announces on every leaf
    /// connection; seeing it come back on one means a loop.
    lds: String,
}

/// Starts the leaf port (when configured) and the remotes.
pub async fn start(server: &Arc<Server>, opts: &LeafOptions) -> std::io::Result<Arc<Leafs>> {
    let listener = match opts.port {
        Some(port) => {
            let host = if opts.host.is_empty() {
                server.opts().host.clone()
            } else {
                opts.host.clone()
            };
            Some(TcpListener::bind((host.as_str(), port)).await?)
        }
        None => None,
    };
    let listen = listener.as_ref().and_then(|l| l.local_addr().ok());
    let acceptor = match &opts.tls {
        Some(tls) => Some(tokio_rustls::TlsAcceptor::from(tls.load().map_err(
            |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        )?)),
        None => None,
    };
    let leafs = Arc::new(Leafs {
        server: server.clone(),
        opts: opts.clone(),
        listen,
        accept: Mutex::new(None),
        dialers: Mutex::new(Vec::new()),
        acceptor,
        lds: format!("$LDS.{}", &crate::info::new_server_id()[1..23]),
    });
    if let (Some(listener), Some(addr)) = (listener, listen) {
        server.set_leaf_addr(addr);
        info!("Listening for leafnode connections on {}", addr);
        *leafs.accept.lock() = Some(tokio::spawn(accept_loop(Arc::downgrade(&leafs), listener)));
    }
    for remote in &opts.remotes {
        let task = tokio::spawn(leafs.clone().solicit(remote.clone()));
        leafs.dialers.lock().push(task);
    }
    Ok(leafs)
}

async fn accept_loop(leafs: std::sync::Weak<Leafs>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                let Some(leafs) = leafs.upgrade() else {
                    return;
                };
                let _ = sock.set_nodelay(true);
                tokio::spawn(async move {
                    conn::run(leafs, sock, peer, None).await;
                });
            }
            Err(e) => {
                error!("Error accepting leafnode connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Leafs {
    /// Stops taking leaf nodes, stops reconnecting, closes the connections.
    pub fn stop(&self) {
        if let Some(accept) = self.accept.lock().take() {
            accept.abort();
        }
        for d in self.dialers.lock().drain(..) {
            d.abort();
        }
        for leaf in self.server.peers().leafs() {
            leaf.handle
                .close(crate::handle::CloseReason::ServerShutdown);
        }
    }

    /// Where leaf nodes connect, when listening.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Connects to a hub, and again (after a pause) whenever the
    /// connection drops; the URLs are tried in turn.
    async fn solicit(self: Arc<Self>, remote: LeafRemote) {
        let mut attempt = 0usize;
        loop {
            if self.server.is_stopped() {
                return;
            }
            let url = &remote.urls[attempt % remote.urls.len()];
            attempt += 1;
            match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&url.addr)).await {
                Ok(Ok(sock)) => {
                    let _ = sock.set_nodelay(true);
                    let peer = sock.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                    let wait = conn::run(self.clone(), sock, peer, Some((remote.clone(), url.clone()))).await;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(Err(e)) => debug!("Error trying to connect as leafnode to remote server {:?} (attempt {attempt}): {e}", url.addr),
                Err(_) => debug!("Error trying to connect as leafnode to remote server {:?} (attempt {attempt}): timed out", url.addr),
            }
            tokio::time::sleep(self.opts.reconnect.unwrap_or(RECONNECT_WAIT)).await;
        }
    }
}
