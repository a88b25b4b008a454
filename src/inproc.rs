//! The server's side of the in-process port (`tern_link::Port`): each
//! subscription is an internal client whose deliveries run the
//! subscription's callback directly (no lookup per message); publishing
//! goes into the port's account. Once the server stops, every call fails
//! with `PortError::Closed`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tern_link::{Deliver, MsgRef, Port, PortError, SubId};

use crate::account::Account;
use crate::handle::InternalMsg;
use crate::router::Subscription;
use crate::Server;

/// An in-process connection to a server, in one account.
pub struct ServerPort {
    server: Arc<Server>,
    account: Arc<Account>,
    /// The port's subscriptions, for unsubscribing.
    subs: RwLock<HashMap<u64, Arc<Subscription>>>,
    next: AtomicU64,
}

impl ServerPort {
    /// A port into `account` of `server`.
    pub fn new(server: Arc<Server>, account: Arc<Account>) -> ServerPort {
        ServerPort {
            server,
            account,
            subs: RwLock::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }

    fn check_open(&self) -> Result<(), PortError> {
        if self.server.is_stopped() {
            Err(PortError::Closed)
        } else {
            Ok(())
        }
    }
}

impl ServerPort {
    /// Takes one of the port's subscriptions out of the router.
    fn end(&self, sub: &Arc<Subscription>) {
        if sub.close() {
            self.account.router.remove(sub);
        }
    }
}

impl Port for ServerPort {
    fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), PortError> {
        self.check_open()?;
        PortError::check_subject(subject)?;
        // An embedded program publishes as a client does: mapped.
        let mapped = self.account.map_subject(subject.as_bytes());
        let Some(subject) = mapped.route(subject.as_bytes()) else {
            return Ok(());
        };
        self.server.publish_in(
            &self.account,
            subject,
            reply.map(str::as_bytes),
            headers,
            payload,
        );
        Ok(())
    }

    fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        deliver: Deliver,
    ) -> Result<SubId, PortError> {
        self.check_open()?;
        PortError::check_subscription(subject, queue)?;
        let sid = self.next.fetch_add(1, Ordering::Relaxed);
        let client = self.server.internal_client_in(
            &self.account,
            Box::new(move |m: &InternalMsg<'_>| {
                deliver(&MsgRef {
                    subject: m.subject,
                    reply: m.reply,
                    headers: m.headers,
                    payload: m.payload,
                });
            }),
        );
        let sub = client.subscribe(subject, queue, &sid.to_string());
        self.subs.write().insert(sid, sub);
        Ok(SubId(sid))
    }

    fn unsubscribe(&self, id: SubId) {
        let removed = self.subs.write().remove(&id.0);
        if let Some(sub) = removed {
            // The router drops its handle: the client, and with it the
            // callback (which tells a waiting receiver), go.
            self.end(&sub);
        }
    }

    fn is_open(&self) -> bool {
        !self.server.is_stopped()
    }

    fn unique_token(&self) -> String {
        self.server.next_inbox_token()
    }

    fn committed(&self, stream: &str) -> Option<tern_jetstream::store::StoreReader> {
        if !Arc::ptr_eq(&self.account, self.server.global_account()) {
            return None;
        }
        self.server
            .jetstream_readers()?
            .get(stream)
            .filter(|r| r.is_current())
    }
}

impl Server {
    /// An in-process connection (`tern_link::Port`) into the default
    /// account `$G`, where the embedded KV and object store live.
    pub fn connect(self: &Arc<Self>) -> Arc<dyn tern_link::Port> {
        Arc::new(ServerPort::new(self.clone(), self.global_account().clone()))
    }

    /// An in-process connection into `account`; `None` if there is no
    /// such account.
    pub fn connect_to(self: &Arc<Self>, account: &str) -> Option<Arc<dyn tern_link::Port>> {
        let account = self.account(account)?;
        Some(Arc::new(ServerPort::new(self.clone(), account)))
    }
}

impl Drop for ServerPort {
    fn drop(&mut self) {
        let subs: Vec<Arc<Subscription>> = self.subs.write().drain().map(|(_, s)| s).collect();
        for sub in subs {
            self.end(&sub);
        }
    }
}
