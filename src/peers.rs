//! The other servers this one is routed to, as the rest of the server
//! sees them: who they are, the client URLs they told us (for client
//! INFO), their traffic (for `/routez`). The route module keeps it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::handle::Handle;

/// Which of the connections to a server a route is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSlot {
    /// The only one: pooling is off on one side, every account goes here.
    Single,
    /// Place `n` of the pool; the accounts that hash to it go here.
    Pool(usize),
    /// The connection pinned to one account.
    Account(String),
}

/// One route connection to another server.
pub struct RoutePeer {
    /// The route connection (what the router delivers to).
    pub handle: Arc<Handle>,
    /// Which connection to that server it is.
    pub slot: RouteSlot,
    /// Its `server_id`.
    pub remote_id: String,
    /// Its `server_name`.
    pub remote_name: String,
    /// Its pool's size (0: it has no pool).
    pub remote_pool_size: usize,
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

/// Why a route connection was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRegistered {
    /// One to that server in that place stands already and keeps it.
    Duplicate,
    /// Every place in the pool is taken.
    PoolFull,
}

/// Where a new route connection goes.
pub enum SlotChoice {
    /// This place (a single route, or the one the dialler picked).
    Exact(RouteSlot),
    /// The first free place of a pool of `n` (we dialled it).
    FirstFree(usize),
}

/// A registered route connection.
pub struct Registered {
    /// The connection as registered.
    pub peer: Arc<RoutePeer>,
    /// It is the first connection to that server.
    pub first: bool,
    /// It is the first to that server that is not pinned to an account.
    pub first_unpinned: bool,
    /// The connection it replaced (to be closed).
    pub replaced: Option<Arc<RoutePeer>>,
}

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

    /// One connection to each server (its first), for what goes once to
    /// every server (gossip).
    pub fn remotes(&self) -> Vec<Arc<RoutePeer>> {
        let routes = self.routes.read();
        let mut out: Vec<Arc<RoutePeer>> = Vec::new();
        for r in routes.iter() {
            if !out.iter().any(|o| o.remote_id == r.remote_id) {
                out.push(r.clone());
            }
        }
        out
    }

    /// Adds a route connection built by `make` for the place `choice`
    /// gives. When that place of that server is taken, the new one takes
    /// it if `replaces(old, new)` (the old is returned, to be closed),
    /// else it is refused.
    pub fn register(
        &self,
        remote_id: &str,
        choice: SlotChoice,
        make: impl FnOnce(RouteSlot) -> RoutePeer,
        replaces: impl Fn(&RoutePeer, &RoutePeer) -> bool,
    ) -> Result<Registered, NotRegistered> {
        let mut routes = self.routes.write();
        let taken = |slot: &RouteSlot| {
            routes
                .iter()
                .position(|r| r.remote_id == remote_id && &r.slot == slot)
        };
        let slot = match choice {
            SlotChoice::Exact(slot) => slot,
            SlotChoice::FirstFree(n) => (0..n)
                .map(RouteSlot::Pool)
                .find(|s| taken(s).is_none())
                .ok_or(NotRegistered::PoolFull)?,
        };
        let first = !routes.iter().any(|r| r.remote_id == remote_id);
        let first_unpinned = !matches!(slot, RouteSlot::Account(_))
            && !routes
                .iter()
                .any(|r| r.remote_id == remote_id && !matches!(r.slot, RouteSlot::Account(_)));
        let at = taken(&slot);
        let peer = Arc::new(make(slot));
        match at {
            None => {
                routes.push(peer.clone());
                Ok(Registered {
                    peer,
                    first,
                    first_unpinned,
                    replaced: None,
                })
            }
            Some(at) if replaces(&routes[at], &peer) => {
                let old = std::mem::replace(&mut routes[at], peer.clone());
                Ok(Registered {
                    peer,
                    first: false,
                    first_unpinned: false,
                    replaced: Some(old),
                })
            }
            Some(_) => Err(NotRegistered::Duplicate),
        }
    }

    /// Sets the client URLs server `remote_id` advertises (on each of its
    /// connections); whether they changed.
    pub fn set_client_urls(&self, remote_id: &str, urls: &[String]) -> bool {
        let mut changed = false;
        for r in self.routes.read().iter() {
            if r.remote_id == remote_id && *r.client_urls.read() != urls {
                *r.client_urls.write() = urls.to_vec();
                changed = true;
            }
        }
        changed
    }

    /// Takes a route connection away (it closed); with whether it was the
    /// last one to that server.
    pub fn remove(&self, handle_id: u64) -> Option<(Arc<RoutePeer>, bool)> {
        let mut routes = self.routes.write();
        let at = routes.iter().position(|r| r.handle.id == handle_id)?;
        let gone = routes.remove(at);
        let last = !routes.iter().any(|r| r.remote_id == gone.remote_id);
        Some((gone, last))
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
