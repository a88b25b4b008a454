//! A subscription's queue of messages: the router's callback appends, the
//! subscriber takes. The subscriber is woken only when the queue goes from
//! empty to not empty, and takes everything queued at once, so a burst of
//! messages costs one wake-up, not one per message (as the server's
//! writers are woken once per read batch).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use crate::{Msg, MsgRef};

/// The size of the buffers messages are copied into, many to a buffer:
/// a burst costs one allocation (and one free, on whichever thread drops
/// the last of its messages) per this many bytes, not one per message.
/// A message kept long pins at most this much beside itself.
const ARENA_CHUNK: usize = 32 * 1024;

struct Queued {
    msgs: VecDeque<Msg>,
    /// Where the next messages' bytes go.
    arena: bytes::BytesMut,
}

struct Shared {
    queue: Mutex<Queued>,
    wake: Arc<Notify>,
    /// The subscription ended (unsubscribed, or the server stopped).
    closed: AtomicBool,
}

/// The appending side, owned by the subscription's callback; dropping it
/// (the subscription ends) tells the receiver.
pub(crate) struct Sender(Arc<Shared>);

impl Sender {
    #[cfg(test)]
    pub(crate) fn send(&self, m: Msg) {
        let was_empty = {
            let mut q = self.0.queue.lock();
            let was_empty = q.msgs.is_empty();
            q.msgs.push_back(m);
            was_empty
        };
        if was_empty {
            self.0.wake.notify_one();
        }
    }

    /// Queues a copy of a delivered message.
    pub(crate) fn send_copy(&self, m: &MsgRef<'_>) {
        let was_empty = {
            let mut q = self.0.queue.lock();
            let Queued { msgs, arena } = &mut *q;
            let was_empty = msgs.is_empty();
            msgs.push_back(Msg::copy_into(m, arena, ARENA_CHUNK));
            was_empty
        };
        if was_empty {
            self.0.wake.notify_one();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// A subscription's messages, in order.
pub struct Receiver {
    shared: Arc<Shared>,
    /// Taken from the queue, not yet handed out.
    local: VecDeque<Msg>,
    waiting: Option<Pin<Box<OwnedNotified>>>,
    /// Ends the subscription when the receiver goes.
    unsubscribe: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(end) = self.unsubscribe.take() {
            end();
        }
    }
}

pub(crate) fn queue() -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queued {
            msgs: VecDeque::new(),
            arena: bytes::BytesMut::new(),
        }),
        wake: Arc::new(Notify::new()),
        closed: AtomicBool::new(false),
    });
    (
        Sender(shared.clone()),
        Receiver {
            shared,
            local: VecDeque::new(),
            waiting: None,
            unsubscribe: None,
        },
    )
}

impl Receiver {
    /// Runs `end` (unsubscribes) when the receiver is dropped.
    pub(crate) fn on_drop(&mut self, end: Box<dyn FnOnce() + Send + Sync>) {
        self.unsubscribe = Some(end);
    }

    /// The next message; `None` once the subscription has ended and
    /// everything queued was taken.
    pub async fn recv(&mut self) -> Option<Msg> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Messages taken but not yet handed out, plus those queued.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.queue.lock().msgs.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As [`Receiver::recv`], for a poll-based reader.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        loop {
            if let Some(m) = self.local.pop_front() {
                return Poll::Ready(Some(m));
            }
            // Armed before the queue is looked at: a message appended
            // after the look finds the waiter (or leaves its permit).
            let waiting = self
                .waiting
                .get_or_insert_with(|| Box::pin(self.shared.wake.clone().notified_owned()));
            std::mem::swap(&mut self.local, &mut self.shared.queue.lock().msgs);
            if !self.local.is_empty() {
                continue;
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return Poll::Ready(None);
            }
            match waiting.as_mut().poll(cx) {
                Poll::Ready(()) => self.waiting = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u8) -> Msg {
        Msg {
            subject: "s".into(),
            reply: None,
            headers: None,
            payload: bytes::Bytes::from(vec![n]),
        }
    }

    #[tokio::test]
    async fn messages_in_order_then_the_end() {
        let (tx, mut rx) = queue();
        for n in 0..3 {
            tx.send(msg(n));
        }
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(m) = rx.recv().await {
                got.push(m.payload[0]);
            }
            got
        });
        tokio::task::yield_now().await;
        tx.send(msg(3));
        drop(tx);
        assert_eq!(waiter.await.unwrap(), [0, 1, 2, 3]);
    }

    /// Copies share arena chunks, yet each message keeps exactly its own
    /// bytes, across a chunk boundary and for a message larger than one.
    #[tokio::test]
    async fn copies_share_chunks_and_keep_their_bytes() {
        let (tx, mut rx) = queue();
        let big = vec![7u8; ARENA_CHUNK + 10];
        let mut sent = Vec::new();
        for n in 0..2_000u32 {
            let payload = if n == 1_000 {
                big.clone()
            } else {
                n.to_be_bytes().repeat(5)
            };
            let subject = format!("s.{n}");
            let reply = (n % 3 == 0).then(|| format!("r.{n}"));
            let headers = (n % 5 == 0).then(|| format!("NATS/1.0\r\nN: {n}\r\n\r\n"));
            tx.send_copy(&MsgRef {
                subject: subject.as_bytes(),
                reply: reply.as_deref().map(str::as_bytes),
                headers: headers.as_deref().map(str::as_bytes),
                payload: &payload,
            });
            sent.push((subject, reply, headers, payload));
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(m) = rx.recv().await {
            got.push(m);
        }
        assert_eq!(got.len(), sent.len());
        for (m, (subject, reply, headers, payload)) in got.iter().zip(&sent) {
            assert_eq!(m.subject.as_str(), subject);
            assert_eq!(m.reply.as_ref().map(|r| r.as_str()), reply.as_deref());
            assert_eq!(m.headers.as_deref(), headers.as_deref().map(str::as_bytes));
            assert_eq!(&m.payload[..], &payload[..]);
        }
        // Dropping some while others live frees nothing they still use.
        let kept: Vec<Msg> = got.into_iter().step_by(97).collect();
        for m in &kept {
            assert!(m.subject.as_str().starts_with("s."));
        }
    }
}
