//! The other servers this one is routed to, as the rest of the server
//! sees them: who they are, the client URLs they told us (for client
//! INFO), their traffic (for `/routez`). The route module keeps it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::handle::Handle;

/// One route to another server.
pub struct RoutePeer {
    /// The route connection (what the router delivers to).
    pub handle: Arc<Handle>,
    /// Its `server_id`.
    pub remote_id: String,
    /// Its `server_name`.
    pub remote_name: String,
    /// We dialled it.
    pub did_solicit: bool,
    /// Dialled because the configuration lists it.
    pub is_configured: bool,
    /// The peer's address.
    pub peer: std::net::SocketAddr,
    /// When the route was registered.
    pub started: std::time::SystemTime,
    /// The client URLs it advertised.
    pub client_urls: RwLock<Vec<String>>,
    /// The WebSocket client URLs it advertised.
    pub ws_urls: RwLock<Vec<String>>,
    /// Messages it sent us.
    pub in_msgs: AtomicU64,
    /// Bytes of those messages.
    pub in_bytes: AtomicU64,
    /// Subscriptions it holds here (its interest).
    pub subscriptions: AtomicU64,
}

impl RoutePeer {
    /// Counts one message it sent.
    pub fn count_in(&self, bytes: usize) {
        self.in_msgs.fetch_add(1, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// One leaf node connection (either side).
pub struct LeafPeer {
    /// The connection (what the router delivers to).
    pub handle: Arc<Handle>,
    /// The other server's name.
    pub remote_name: String,
    /// We are the leaf on this connection (we dialled the hub), as
    /// `/leafz` reports it.
    pub is_spoke: bool,
    /// Our account the connection is bound to.
    pub account: String,
    /// The peer's address.
    pub peer: std::net::SocketAddr,
    /// Messages it sent us.
    pub in_msgs: AtomicU64,
    /// Bytes of those messages.
    pub in_bytes: AtomicU64,
    /// Subscriptions it holds here.
    pub subscriptions: AtomicU64,
}

/// A route to that server stands already and keeps its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyRouted;

/// The routes of a server, and the cluster it is in.
#[derive(Default)]
pub struct Peers {
    routes: RwLock<Vec<Arc<RoutePeer>>>,
    leafs: RwLock<Vec<Arc<LeafPeer>>>,
    /// The cluster's name, once clustering runs.
    cluster_name: RwLock<Option<String>>,
    /// Route-learned client URLs stay out of client INFO (`no_advertise`).
    no_advertise: std::sync::atomic::AtomicBool,
}

impl Peers {
    /// Every route now.
    pub fn routes(&self) -> Vec<Arc<RoutePeer>> {
        self.routes.read().clone()
    }

    /// The route to server `id`, if any.
    pub fn get(&self, id: &str) -> Option<Arc<RoutePeer>> {
        self.routes
            .read()
            .iter()
            .find(|r| r.remote_id == id)
            .cloned()
    }

    /// Adds a route. When one to that server stands, the new one takes
    /// its place if `replaces(old, new)` (the old is returned, to be
    /// closed), else it is refused.
    pub fn register(
        &self,
        peer: Arc<RoutePeer>,
        replaces: impl Fn(&RoutePeer, &RoutePeer) -> bool,
    ) -> Result<Option<Arc<RoutePeer>>, AlreadyRouted> {
        let mut routes = self.routes.write();
        match routes.iter().position(|r| r.remote_id == peer.remote_id) {
            None => {
                routes.push(peer);
                Ok(None)
            }
            Some(at) if replaces(&routes[at], &peer) => {
                Ok(Some(std::mem::replace(&mut routes[at], peer)))
            }
            Some(_) => Err(AlreadyRouted),
        }
    }

    /// Takes a route away (it closed).
    pub fn remove(&self, handle_id: u64) -> Option<Arc<RoutePeer>> {
        let mut routes = self.routes.write();
        let at = routes.iter().position(|r| r.handle.id == handle_id)?;
        Some(routes.remove(at))
    }

    /// Every leaf node connection now.
    pub fn leafs(&self) -> Vec<Arc<LeafPeer>> {
        self.leafs.read().clone()
    }

    /// Adds a leaf node connection.
    pub fn add_leaf(&self, leaf: Arc<LeafPeer>) {
        self.leafs.write().push(leaf);
    }

    /// Takes a leaf node connection away (it closed).
    pub fn remove_leaf(&self, handle_id: u64) {
        self.leafs.write().retain(|l| l.handle.id != handle_id);
    }

    /// The cluster's name, when clustered.
    pub fn cluster_name(&self) -> Option<String> {
        self.cluster_name.read().clone()
    }

    /// Names the cluster (at start, or adopting a named peer's).
    pub fn set_cluster_name(&self, name: String) {
        *self.cluster_name.write() = Some(name);
    }

    /// Keeps route-learned client URLs out of client INFO.
    pub fn set_no_advertise(&self, on: bool) {
        self.no_advertise.store(on, Ordering::Relaxed);
    }

    /// The client URLs other servers of the cluster advertised, in the
    /// order they joined.
    pub fn peer_client_urls(&self) -> Vec<String> {
        self.peer_urls(|r| &r.client_urls)
    }

    /// The WebSocket client URLs other servers of the cluster advertised.
    pub fn peer_ws_urls(&self) -> Vec<String> {
        self.peer_urls(|r| &r.ws_urls)
    }

    fn peer_urls(&self, of: impl Fn(&RoutePeer) -> &RwLock<Vec<String>>) -> Vec<String> {
        if self.no_advertise.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for r in self.routes.read().iter() {
            for u in of(r).read().iter() {
                if !out.contains(u) {
                    out.push(u.clone());
                }
            }
        }
        out
    }
}
