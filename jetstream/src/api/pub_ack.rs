//! The reply to a publish stored by a stream (no `type` field).
//!
//! The reference builds the success form from a per-stream template rather
//! than marshalling it, which is why a duplicate reads `"duplicate": true`
//! with a space; clients parse either, conformance tests compare bytes, so
//! both forms are written by hand here.

use serde::Deserialize;

use crate::api::json::to_json;
use crate::error::ApiError;

/// The `error` of a publish's reply, read before the ack: the error form
/// carries `stream` and `seq` too, so it would also read as an ack.
#[derive(Deserialize)]
struct Refusal {
    error: Option<ApiError>,
}

/// A publish's reply as a client reads it: the ack, or the error the
/// stream refused the message with.
pub fn read_reply(payload: &[u8]) -> Result<Result<PubAck, ApiError>, serde_json::Error> {
    match serde_json::from_slice::<Refusal>(payload)?.error {
        Some(error) => Ok(Err(error)),
        None => serde_json::from_slice(payload).map(Ok),
    }
}

/// A successful publish. Read back (by the embedded KV and object store)
/// with serde; [`PubAck::to_json`] writes what it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// The message's stream sequence.
    pub seq: u64,
    /// The server's JetStream domain, when it has one.
    pub domain: Option<String>,
    /// The `Nats-Msg-Id` was seen within the duplicate window; `seq` is the
    /// original's.
    #[serde(default)]
    pub duplicate: bool,
    /// A counter stream's new total (`Nats-Incr`), as a decimal string.
    pub val: Option<String>,
    /// An atomic batch's commit: its id and how many messages it stored.
    #[serde(skip)]
    pub batch: Option<(String, u64)>,
}

impl PubAck {
    /// The bytes of a plain ack (no domain, no counter).
    pub fn ok(stream: &str, seq: u64, duplicate: bool) -> Vec<u8> {
        PubAck {
            stream: stream.to_string(),
            seq,
            duplicate,
            ..PubAck::default()
        }
        .to_json()
    }

    /// A refused publish: `{"error":{...},"stream":"S","seq":0}` (never a
    /// domain).
    pub fn error(stream: &str, err: &ApiError) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + err.description.len());
        out.extend_from_slice(b"{\"error\":");
        out.extend_from_slice(&to_json(err));
        out.extend_from_slice(b",\"stream\":");
        out.extend_from_slice(&to_json(stream));
        out.extend_from_slice(b",\"seq\":0}");
        out
    }

    /// `{"stream":"S"[,"domain":"D"],"seq":N}`, then `,"duplicate": true`
    /// for a duplicate, else `,"val":"V"` for a counter.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.stream.len());
        out.extend_from_slice(b"{\"stream\":");
        out.extend_from_slice(&to_json(&self.stream));
        if let Some(domain) = &self.domain {
            out.extend_from_slice(b",\"domain\":");
            out.extend_from_slice(&to_json(domain));
        }
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        if self.duplicate {
            out.extend_from_slice(b",\"duplicate\": true");
        } else if let Some(val) = &self.val {
            out.extend_from_slice(b",\"val\":");
            out.extend_from_slice(&to_json(val));
        }
        if let Some((id, count)) = &self.batch {
            out.extend_from_slice(b",\"batch\":");
            out.extend_from_slice(&to_json(id));
            out.extend_from_slice(b",\"count\":");
            out.extend_from_slice(count.to_string().as_bytes());
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_reads_as_its_sequence_or_its_error() {
        let seq = |payload: &[u8]| read_reply(payload).map(|r| r.map(|a| a.seq));
        assert_eq!(seq(&PubAck::ok("KV_b", 3, false)).unwrap(), Ok(3));
        assert_eq!(seq(&PubAck::ok("KV_b", 4, true)).unwrap(), Ok(4));
        let refused = ApiError::wrong_last_sequence(2);
        assert_eq!(seq(&PubAck::error("KV_b", &refused)).unwrap(), Err(refused));
        // A malformed error is not taken for an ack at sequence 0.
        assert!(read_reply(br#"{"error":{"code":400},"stream":"KV_b","seq":0}"#).is_err());
        assert!(read_reply(br#"{"stream":"KV_b"}"#).is_err());
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    // Bytes captured from nats-server 2.14.0.
    #[test]
    fn exact_bytes() {
        let mut ack = PubAck {
            stream: "S".into(),
            seq: 1,
            ..PubAck::default()
        };
        assert_eq!(text(ack.to_json()), r#"{"stream":"S","seq":1}"#);
        assert_eq!(text(PubAck::ok("S", 1, false)), r#"{"stream":"S","seq":1}"#);
        assert_eq!(
            text(PubAck::ok("S", 2, true)),
            r#"{"stream":"S","seq":2,"duplicate": true}"#
        );
        ack.seq = 2;
        ack.duplicate = true;
        assert_eq!(
            text(ack.to_json()),
            r#"{"stream":"S","seq":2,"duplicate": true}"#
        );
        ack.domain = Some("hub".into());
        assert_eq!(
            text(ack.to_json()),
            r#"{"stream":"S","domain":"hub","seq":2,"duplicate": true}"#
        );
        let counter = PubAck {
            stream: "C".into(),
            seq: 1,
            val: Some("5".into()),
            ..PubAck::default()
        };
        assert_eq!(
            text(counter.to_json()),
            r#"{"stream":"C","seq":1,"val":"5"}"#
        );
    }

    #[test]
    fn reads_back_what_it_writes() {
        let acks = [
            PubAck {
                stream: "S".into(),
                seq: 1,
                ..PubAck::default()
            },
            PubAck {
                stream: "S".into(),
                seq: 2,
                duplicate: true,
                domain: Some("hub".into()),
                ..PubAck::default()
            },
            PubAck {
                stream: "C".into(),
                seq: 3,
                val: Some("5".into()),
                ..PubAck::default()
            },
        ];
        for ack in acks {
            let read: PubAck = serde_json::from_slice(&ack.to_json()).unwrap();
            assert_eq!(read, ack);
        }
        // The error form keeps `stream` and `seq`, so it reads as an ack
        // too: a reader looks at `error` first.
        let refused: PubAck =
            serde_json::from_slice(&PubAck::error("R", &ApiError::bad_request())).unwrap();
        assert_eq!((refused.stream.as_str(), refused.seq), ("R", 0));
    }

    #[test]
    fn error_form() {
        assert_eq!(
            text(PubAck::error("ORDERS", &ApiError::wrong_last_sequence(2))),
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"ORDERS","seq":0}"#
        );
        assert_eq!(
            text(PubAck::error("R", &ApiError::rollup_invalid("bad"))),
            r#"{"error":{"code":500,"err_code":10111,"description":"rollup value invalid: \"bad\""},"stream":"R","seq":0}"#
        );
    }
}
