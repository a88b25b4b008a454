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

use crate::Msg;

struct Shared {
    queue: Mutex<VecDeque<Msg>>,
    wake: Arc<Notify>,
    /// The subscription ended (unsubscribed, or the server stopped).
    closed: AtomicBool,
}

/// The appending side, owned by the subscription's callback; dropping it
/// (the subscription ends) tells the receiver.
pub(crate) struct Sender(Arc<Shared>);

impl Sender {
    pub(crate) fn send(&self, m: Msg) {
        let was_empty = {
            let mut q = self.0.queue.lock();
            let was_empty = q.is_empty();
            q.push_back(m);
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
}

pub(crate) fn queue() -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        wake: Arc::new(Notify::new()),
        closed: AtomicBool::new(false),
    });
    (
        Sender(shared.clone()),
        Receiver {
            shared,
            local: VecDeque::new(),
            waiting: None,
        },
    )
}

impl Receiver {
    /// The next message; `None` once the subscription has ended and
    /// everything queued was taken.
    pub async fn recv(&mut self) -> Option<Msg> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Messages taken but not yet handed out, plus those queued.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.queue.lock().len()
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
            std::mem::swap(&mut self.local, &mut self.shared.queue.lock());
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
}
