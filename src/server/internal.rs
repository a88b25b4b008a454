//! Internal clients: handles without a socket (JetStream, the system
//! account's services, embedded programs) that publish and subscribe
//! through the same routers as socket clients.

use std::sync::Arc;

use bytes::Bytes;

use super::Server;
use crate::account::Account;
use crate::deliver::deliver_all;
use crate::handle::{FlushSet, Handle, InternalCallback};
use crate::proto::write::{Frame, Sizes};
use crate::router::Subscription;

/// An internal client: a handle without a socket, and the account whose
/// subject space it subscribes in.
#[derive(Clone)]
pub struct InternalClient {
    /// What the router delivers to (its callback).
    pub handle: Arc<Handle>,
    account: Arc<Account>,
}

impl InternalClient {
    /// The account it lives in.
    pub fn account(&self) -> &Arc<Account> {
        &self.account
    }

    /// Subscribes it to `subject` (in `queue`, when given) as `sid`.
    pub fn subscribe(&self, subject: &str, queue: Option<&str>, sid: &str) -> Arc<Subscription> {
        let sub = Arc::new(Subscription::new(
            self.handle.clone(),
            Bytes::copy_from_slice(sid.as_bytes()),
            Bytes::copy_from_slice(subject.as_bytes()),
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
        ));
        self.account.router.insert(sub.clone());
        sub
    }

    /// Ends one of its subscriptions.
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        if sub.close() {
            self.account.router.remove(sub);
        }
    }
}

impl Server {
    /// Creates an internal client of the default account: no socket,
    /// deliveries run `callback`.
    pub fn internal_client(&self, callback: InternalCallback) -> InternalClient {
        self.internal_client_in(&self.global, callback)
    }

    /// Creates an internal client of `account`.
    pub fn internal_client_in(
        &self,
        account: &Arc<Account>,
        callback: InternalCallback,
    ) -> InternalClient {
        InternalClient {
            handle: Arc::new(Handle::internal(self.next_id(), callback)),
            account: account.clone(),
        }
    }

    /// Publishes from inside the server into `account`'s subject space;
    /// true if anyone received it.
    pub fn publish_in(
        &self,
        account: &Account,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut flush = FlushSet::default();
        let delivered = self.publish_to(
            account, subject, subject, reply, headers, payload, &mut flush,
        );
        flush.flush();
        delivered
    }

    /// Publishes into `account` without a reply subject, noting the
    /// receiving writers in `flush` (the caller wakes them once, after
    /// the rest of its batch).
    pub fn publish_noted(
        &self,
        account: &Account,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        flush: &mut FlushSet,
    ) -> bool {
        self.publish_to(account, subject, subject, None, headers, payload, flush)
    }

    /// Subscribes an internal client (`InternalClient::subscribe`).
    pub fn subscribe_internal(
        &self,
        client: &InternalClient,
        subject: &str,
        queue: Option<&str>,
        sid: &str,
    ) -> Arc<Subscription> {
        client.subscribe(subject, queue, sid)
    }

    /// Ends an internal client's subscription (`InternalClient::unsubscribe`).
    pub fn unsubscribe_internal(&self, client: &InternalClient, sub: &Arc<Subscription>) {
        client.unsubscribe(sub);
    }

    /// Publishes from inside the server; true if anyone received it.
    pub fn publish_internal(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.publish_in(&self.global, subject, reply, headers, payload)
    }

    /// Publishes many messages from inside the server, waking each
    /// receiving writer once at the end (a batch of acks, say).
    pub fn publish_internal_batch<'a>(&self, msgs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
        self.publish_batch_in(&self.global, msgs);
    }

    /// `publish_internal_batch` into `account`.
    pub fn publish_batch_in<'a>(
        &self,
        account: &Account,
        msgs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        let mut flush = FlushSet::default();
        for (subject, payload) in msgs {
            self.publish_to(account, subject, subject, None, None, payload, &mut flush);
        }
        flush.flush();
    }

    /// Sends messages from inside the server, each routed by the
    /// subscriptions of `to` but written with its own subject (JetStream's
    /// pull deliveries), waking each receiving writer once at the end.
    pub fn publish_internal_routed<'a>(&self, msgs: impl IntoIterator<Item = RoutedMsg<'a>>) {
        self.publish_routed_in(&self.global, msgs);
    }

    /// `publish_internal_routed` into `account`.
    pub fn publish_routed_in<'a>(
        &self,
        account: &Account,
        msgs: impl IntoIterator<Item = RoutedMsg<'a>>,
    ) {
        let mut flush = FlushSet::default();
        for m in msgs {
            self.publish_to(
                account, m.to, m.subject, m.reply, m.headers, m.payload, &mut flush,
            );
        }
        flush.flush();
    }

    /// Whether anyone subscribes to `subject` (as a member of `queue`,
    /// when given).
    pub fn has_interest(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.has_interest_in(&self.global, subject, queue)
    }

    /// `has_interest` in `account`.
    pub fn has_interest_in(&self, account: &Account, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let result = account.router.lookup(subject);
        match queue {
            None => !result.is_empty(),
            Some(q) => result.queues.iter().any(|g| g.name.as_ref() == q),
        }
    }

    /// Routes by `to` in `account`, written with `subject`.
    #[allow(clippy::too_many_arguments)]
    fn publish_to(
        &self,
        account: &Account,
        to: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        flush: &mut FlushSet,
    ) -> bool {
        let joined;
        let (header_len, message) = match headers {
            Some(h) => {
                joined = [h, payload].concat();
                (Some(h.len()), &joined[..])
            }
            None => (None, payload),
        };
        let sizes = Sizes::of(header_len, message.len());
        let frame = Frame::new(subject, reply, header_len, message, &sizes);
        let result = account.router.lookup(to);
        deliver_all(account, &self.stats, &result, &frame, None, flush)
    }
}

/// A message for [`Server::publish_internal_routed`].
pub struct RoutedMsg<'a> {
    /// The subject to route by: whose subscriptions receive it.
    pub to: &'a [u8],
    /// The subject the receivers see in the MSG.
    pub subject: &'a [u8],
    /// The reply subject, if any.
    pub reply: Option<&'a [u8]>,
    /// The header block, if any.
    pub headers: Option<&'a [u8]>,
    /// The message body.
    pub payload: &'a [u8],
}
