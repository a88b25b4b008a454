//! A port without a server, for tests of what stands on the port: an
//! in-memory subject space with wildcard matching (no queue groups'
//! balancing: every member receives), and a hook to answer requests the
//! way a test needs (a scripted JetStream API reply, say).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::{Deliver, MsgRef, Port, PortError, SubId};

/// A test's responder: given a request (subject, payload), the reply
/// payload to send, or `None` to stay silent.
pub type Responder = Box<dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// An in-memory port.
#[derive(Default)]
pub struct FakePort {
    subs: RwLock<HashMap<u64, (String, Arc<Deliver>)>>,
    next: AtomicU64,
    responder: RwLock<Option<Responder>>,
    stopped: AtomicBool,
}

impl FakePort {
    /// An empty subject space.
    pub fn new() -> Arc<FakePort> {
        Arc::default()
    }

    /// Answers requests (publishes with a reply subject) with `responder`.
    pub fn respond_with(&self, responder: Responder) {
        *self.responder.write() = Some(responder);
    }

    /// From now on, as a stopped server: every call fails.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    fn deliver(&self, subject: &str, reply: Option<&str>, headers: Option<&[u8]>, payload: &[u8]) {
        let targets: Vec<Arc<Deliver>> = self
            .subs
            .read()
            .values()
            .filter(|(filter, _)| {
                tern_jetstream::subject::matches(filter.as_bytes(), subject.as_bytes())
            })
            .map(|(_, d)| d.clone())
            .collect();
        let m = MsgRef {
            subject: subject.as_bytes(),
            reply: reply.map(str::as_bytes),
            headers,
            payload,
        };
        for d in targets {
            d(&m);
        }
    }
}

impl Port for FakePort {
    fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), PortError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(PortError::Closed);
        }
        PortError::check_subject(subject)?;
        self.deliver(subject, reply, headers, payload);
        if let Some(reply) = reply {
            let answer = self
                .responder
                .read()
                .as_ref()
                .and_then(|r| r(subject, payload));
            if let Some(answer) = answer {
                self.deliver(reply, None, None, &answer);
            }
        }
        Ok(())
    }

    fn subscribe(
        &self,
        subject: &str,
        _queue: Option<&str>,
        deliver: Deliver,
    ) -> Result<SubId, PortError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(PortError::Closed);
        }
        PortError::check_subject(subject)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.subs
            .write()
            .insert(id, (subject.to_string(), Arc::new(deliver)));
        Ok(SubId(id))
    }

    fn unsubscribe(&self, id: SubId) {
        self.subs.write().remove(&id.0);
    }

    fn is_open(&self) -> bool {
        !self.stopped.load(Ordering::Acquire)
    }

    fn unique_token(&self) -> String {
        format!("fake{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn committed(&self, _stream: &str) -> Option<tern_jetstream::store::StoreReader> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Link;

    #[tokio::test]
    async fn requests_and_subscriptions_over_a_fake() {
        let port = FakePort::new();
        port.respond_with(Box::new(|subject, payload| {
            (subject == "echo").then(|| payload.to_vec())
        }));
        let link = Link::new(port.clone()).unwrap();
        let reply = link
            .request("echo", None, b"hi", std::time::Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(&reply.payload[..], b"hi");
        let (id, mut rx) = link.subscribe("a.*").unwrap();
        link.publish("a.b", None, None, b"x").unwrap();
        assert_eq!(rx.recv().await.unwrap().subject, "a.b");
        link.unsubscribe(id);
        let silent = link
            .request("nobody", None, b"", std::time::Duration::from_millis(20))
            .await;
        assert_eq!(silent, Err(crate::ApiCallError::Timeout));
        port.stop();
        assert_eq!(
            link.publish("a.b", None, None, b"x"),
            Err(PortError::Closed)
        );
        assert_eq!(
            link.request("echo", None, b"", std::time::Duration::from_secs(1))
                .await,
            Err(crate::ApiCallError::Closed)
        );
    }

    #[tokio::test]
    async fn a_dropped_receiver_ends_its_subscription() {
        let port = FakePort::new();
        let link = Link::new(port.clone()).unwrap();
        let before = port.subs.read().len();
        let (_, rx) = link.subscribe("d.>").unwrap();
        assert_eq!(port.subs.read().len(), before + 1);
        drop(rx);
        assert_eq!(port.subs.read().len(), before);
        // Unsubscribing by id as well is harmless.
        let (id, rx) = link.subscribe("d.>").unwrap();
        link.unsubscribe(id);
        drop(rx);
        assert_eq!(port.subs.read().len(), before);
    }

    #[tokio::test]
    async fn api_errors_come_back_typed() {
        let port = FakePort::new();
        port.respond_with(Box::new(|_, _| {
            Some(
                br#"{"error":{"code":404,"err_code":10059,"description":"stream not found"}}"#
                    .to_vec(),
            )
        }));
        let link = Link::new(port).unwrap();
        let err = link
            .api("$JS.API.STREAM.INFO.X", &serde_json::Value::Null)
            .await
            .unwrap_err();
        assert_eq!(err.err_code(), Some(10059));
    }
}
