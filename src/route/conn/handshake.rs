//! A route's handshake: the other server's CONNECT and INFO checked, its
//! place among the connections to that server negotiated (a single
//! route, a place of the pool, or an account's own), and the route
//! registered and announced.

use tracing::{debug, error, info};

use super::{Ended, Route, Stop};
use crate::handle::CloseReason;
use crate::peers::{NotRegistered, RoutePeer, RouteSlot, SlotChoice};
use crate::proto::write;
use crate::route::info::{RouteConnect, RouteInfo};
use crate::route::{route_addr, Dial};
use bytes::Bytes;

impl Route {
    pub(super) fn on_connect(&mut self, json: &[u8]) -> Option<Stop> {
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            self.send_err("Invalid Protocol");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        };
        if connect.lang.is_some() {
            self.send_err("attempted to connect to route port");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        }
        if let Some((user, pass)) = &self.cluster.opts.user {
            if &connect.user != user || &connect.pass != pass {
                error!(
                    "{} - Router connect error: Authorization Violation",
                    self.rid()
                );
                self.send_err("Authorization Violation");
                return Some(Stop::Closed(CloseReason::AuthenticationViolation));
            }
        }
        if let Some(stop) = self.check_cluster_name(&connect.cluster, connect.cluster_dynamic) {
            return Some(stop);
        }
        self.got_connect = true;
        None
    }

    /// A peer of another cluster is refused; a made-up name yields to a
    /// configured one.
    fn check_cluster_name(&self, theirs: &str, theirs_dynamic: bool) -> Option<Stop> {
        let ours = self.cluster.name();
        if theirs.is_empty() || theirs == ours {
            return None;
        }
        if self.cluster.is_dynamic() && !theirs_dynamic {
            info!("Cluster name updated to {theirs}");
            self.cluster.adopt_name(theirs);
            return None;
        }
        if theirs_dynamic {
            return None;
        }
        error!(
            "{} - Rejecting connection, cluster name {:?} does not match {:?}",
            self.rid(),
            theirs,
            ours
        );
        self.send_err(&format!(
            "Rejecting connection, cluster name {theirs:?} does not match {ours:?}"
        ));
        Some(Stop::Closed(CloseReason::ClusterNameConflict))
    }

    pub(super) fn on_info(&mut self, json: &[u8]) -> Option<Stop> {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            self.send_err("Invalid Protocol");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        };
        if let Some(peer) = self.registered.clone() {
            if info.server_id != peer.remote_id {
                // Gossip: a server that joined the cluster.
                self.cluster.gossiped(&info, self.peer.ip(), &peer.slot);
            } else if info.route_account.is_empty() {
                let urls = if info.ldm {
                    Vec::new()
                } else {
                    info.connect_urls
                };
                if self.server.peers().set_client_urls(&peer.remote_id, &urls) {
                    self.cluster.client_urls_changed();
                }
            }
            return None;
        }
        if self.solicited.is_none() && !self.got_connect {
            return Some(self.protocol_error());
        }
        if info.server_id == self.server.id() {
            debug!("{} - Detected route to self, ignoring", self.rid());
            return Some(Stop::Ended(Ended::Myself, CloseReason::ClientClosed));
        }
        if let Some(stop) = self.check_cluster_name(&info.cluster, info.cluster_dynamic) {
            return Some(stop);
        }
        if !info.server_name.is_empty() && info.server_name == self.server.name() {
            error!(
                "{} - Remote server has a duplicate name: {:?}",
                self.rid(),
                info.server_name
            );
            return Some(Stop::Closed(CloseReason::DuplicateServerName));
        }
        let choice = match self.place(&info) {
            Ok(choice) => choice,
            Err(stop) => return Some(stop),
        };
        self.register(info, choice)
    }

    /// Where this connection goes among the routes to that server, as the
    /// reference negotiates it: one route when either side has no pool; a
    /// dialler takes the first free place of the pool and names it in its
    /// INFO, which the acceptor takes; a pinned account's connection is
    /// named by its account.
    fn place(&mut self, info: &RouteInfo) -> Result<SlotChoice, Stop> {
        let theirs = info
            .route_pool_size
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0);
        let pool = match (self.cluster.pool, theirs) {
            (Some(ours), Some(theirs)) => Some(ours.max(theirs)),
            _ => None,
        };
        let refuse = |route: &Self, text: String| {
            error!("{} - {text}", route.rid());
            route.send_err(&text);
            Stop::Closed(CloseReason::ProtocolError)
        };
        let no_pinning = |account: &str| {
            format!("Not possible to have a dedicated route for account {account:?} between those servers")
        };
        if let Some(solicited) = &self.solicited {
            return match (&solicited.kind, pool) {
                (Dial::Account(account), None) => {
                    debug!("{} - {}", self.rid(), no_pinning(account));
                    Err(Stop::Ended(Ended::GiveUp, CloseReason::ClientClosed))
                }
                (Dial::Account(account), Some(_)) => {
                    Ok(SlotChoice::Exact(RouteSlot::Account(account.clone())))
                }
                (_, None) => Ok(SlotChoice::Exact(RouteSlot::Single)),
                (_, Some(size)) => match info.route_pool_idx.unwrap_or(0) {
                    0 => Ok(SlotChoice::FirstFree(size)),
                    idx => Err(refuse(
                        self,
                        format!("Route pool index should not be set but is set to {idx}"),
                    )),
                },
            };
        }
        if !info.route_account.is_empty() {
            let account = &info.route_account;
            if pool.is_none() {
                return Err(refuse(self, no_pinning(account)));
            }
            if !self.cluster.pinned.contains(account) {
                return Err(refuse(self, format!("No route for account {account:?}")));
            }
            return Ok(SlotChoice::Exact(RouteSlot::Account(account.clone())));
        }
        let Some(size) = pool else {
            return Ok(SlotChoice::Exact(RouteSlot::Single));
        };
        match info.route_pool_idx.unwrap_or(0) {
            idx if (0..size as i64).contains(&idx) => {
                Ok(SlotChoice::Exact(RouteSlot::Pool(idx as usize)))
            }
            idx => Err(refuse(
                self,
                format!(
                    "Invalid route pool index: {idx} - pool size is {}",
                    info.route_pool_size.unwrap_or(0)
                ),
            )),
        }
    }

    fn register(&mut self, info: RouteInfo, choice: SlotChoice) -> Option<Stop> {
        let (did_solicit, is_configured) = match &self.solicited {
            Some(s) => (true, s.configured),
            None => (false, false),
        };
        let make = |slot: RouteSlot| RoutePeer {
            handle: self.handle.clone(),
            slot,
            remote_id: info.server_id.clone(),
            remote_name: info.server_name.clone(),
            remote_pool_size: info
                .route_pool_size
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0),
            did_solicit,
            is_configured,
            peer: self.peer,
            started: std::time::SystemTime::now(),
            client_urls: parking_lot::RwLock::new(info.connect_urls.clone()),
            ws_urls: parking_lot::RwLock::new(info.ws_connect_urls.clone()),
            in_msgs: Default::default(),
            in_bytes: Default::default(),
            subscriptions: Default::default(),
        };
        // Between two tern servers that dialled each other at once, both
        // keep the connection the server with the smaller id dialled; with
        // the reference, the first registered stays (as it does).
        let my_id = self.server.id().to_string();
        let tie_break = info.go == "tern";
        let prefer = move |p: &RoutePeer| p.did_solicit == (my_id.as_str() < p.remote_id.as_str());
        let registered = self
            .server
            .peers()
            .register(&info.server_id, choice, make, |old, new| {
                tie_break && prefer(new) && !prefer(old)
            });
        let registered = match registered {
            Ok(r) => r,
            Err(NotRegistered::Duplicate) => {
                debug!("{} - Duplicate route to {:?}", self.rid(), info.server_id);
                return Some(Stop::Ended(
                    Ended::Duplicate(info.server_id),
                    CloseReason::DuplicateRoute,
                ));
            }
            Err(NotRegistered::PoolFull) => {
                debug!(
                    "{} - Route pool size reached, closing extra connection to {:?}",
                    self.rid(),
                    info.server_id
                );
                // As a duplicate: the dialler waits for the pool to go.
                return Some(Stop::Ended(
                    Ended::Duplicate(info.server_id),
                    CloseReason::DuplicateRoute,
                ));
            }
        };
        if let Some(old) = registered.replaced {
            old.handle.close(CloseReason::DuplicateRoute);
        }
        let peer = registered.peer;
        if let RouteSlot::Account(account) = &peer.slot {
            self.pinned = Some(Bytes::copy_from_slice(account.as_bytes()));
        }
        info!("{} - Route connection created", self.rid());
        debug!(
            "{} - Registering remote route {:?}",
            self.rid(),
            info.server_id
        );
        // A pooling dialler's INFO, now that it has its place.
        if !self.info_sent {
            let mut ours = self.cluster.info();
            match &peer.slot {
                RouteSlot::Pool(idx) => ours.route_pool_idx = Some(*idx as i64),
                RouteSlot::Account(account) => ours.route_account = account.clone(),
                RouteSlot::Single => {}
            }
            self.send_info(ours);
        }
        self.registered = Some(peer.clone());
        self.send_interest(&peer.slot);
        // Tell the other servers of the newcomer (and of each connection
        // pinned to an account), unless we only know it because one of
        // them told us.
        let pinned = match &peer.slot {
            RouteSlot::Account(account) => Some(account.clone()),
            _ => None,
        };
        let from_gossip = matches!(&self.solicited, Some(s) if !s.configured);
        if (registered.first_unpinned || pinned.is_some()) && !from_gossip {
            let mut forward = info.clone();
            forward.nonce.clear();
            forward.route_pool_idx = None;
            forward.route_account = pinned.unwrap_or_default();
            forward.ip = format!("nats-route://{}/", route_addr(&forward, self.peer.ip()));
            let json = serde_json::to_vec(&forward).unwrap_or_default();
            for other in self.server.peers().remotes() {
                if other.remote_id == peer.remote_id {
                    continue;
                }
                if let Some(out) = other.handle.outbound() {
                    out.send_now(|b| write::append_info(b, &json));
                }
            }
        }
        if registered.first {
            self.cluster.client_urls_changed();
        }
        // A dialler fills the pool one connection after another.
        if let (Some(s), RouteSlot::Pool(_)) = (&self.solicited, &peer.slot) {
            let size = self.cluster.pool.unwrap_or(1).max(peer.remote_pool_size);
            let placed = self
                .server
                .peers()
                .routes()
                .iter()
                .filter(|r| r.remote_id == peer.remote_id && matches!(r.slot, RouteSlot::Pool(_)))
                .count();
            if placed < size {
                tokio::spawn(self.cluster.clone().dial(
                    s.url.clone(),
                    s.configured,
                    Dial::PoolMember,
                ));
            }
        }
        None
    }
}
