//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`): the
//! body forms the reference accepts, and the status replies it sends.

use serde::Deserialize;

use crate::headers::HeaderBlock;

pub(crate) const NEXT_PREFIX: &str = "$JS.API.CONSUMER.MSG.NEXT.";

/// A decoded pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequest {
    /// Messages wanted (at least 1).
    pub batch: i64,
    /// Nanoseconds; 0 = waits until served.
    pub expires: i64,
    /// Answer at once (404/408) instead of waiting for messages.
    pub no_wait: bool,
    /// 0 = no byte budget.
    pub max_bytes: i64,
    /// Nanoseconds between heartbeats while the request waits; 0 = none.
    pub idle_heartbeat: i64,
    /// ADR-42 priority group fields; present for every JSON body (as the
    /// reference's request always carries them), absent for a bare batch.
    pub group: Option<PriorityGroup>,
}

/// A pull request's priority group fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PriorityGroup {
    /// The group it pulls for.
    pub group: String,
    /// Overflow: served only while the consumer has at least this many
    /// messages pending...
    pub min_pending: i64,
    /// ...or at least this many waiting for acks.
    pub min_ack_pending: i64,
    /// Pinned client: the pin id it was given.
    pub id: String,
    /// Prioritized: lower is served first (0-9).
    pub priority: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Body {
    batch: i64,
    expires: i64,
    no_wait: bool,
    max_bytes: i64,
    idle_heartbeat: i64,
    #[serde(flatten)]
    group: PriorityGroup,
}

/// Why a JSON pull body was refused. `Display` is the text the reference
/// puts after `400 Bad Request - `.
#[derive(Debug)]
#[non_exhaustive]
pub enum PullError {
    /// The body starts like a JSON object but does not parse.
    Json(serde_json::Error),
    /// A field holds a type Go would refuse to decode into it.
    FieldType {
        /// The field's JSON name.
        field: String,
        /// What it holds, in Go's words ("string", "number 1.5", ...).
        found: String,
        /// The Go type the reference decodes it into.
        go_type: &'static str,
    },
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullError::Json(e) => write!(f, "{e}"),
            PullError::FieldType {
                field,
                found,
                go_type,
            } => write!(
                f,
                "json: cannot unmarshal {found} into Go struct field JSApiConsumerGetNextRequest.{field} of type {go_type}"
            ),
        }
    }
}

impl std::error::Error for PullError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PullError::Json(e) => Some(e),
            PullError::FieldType { .. } => None,
        }
    }
}

/// Decodes a pull body: empty or anything that is not JSON is a batch of
/// one (a bare number is the batch); JSON with a wrongly typed field is the
/// reference's `400 Bad Request - <json error>`.
pub fn parse_pull(body: &[u8]) -> Result<PullRequest, PullError> {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    if t.starts_with('{') {
        let mut value: serde_json::Value = serde_json::from_str(t).map_err(PullError::Json)?;
        if let serde_json::Value::Object(fields) = &mut value {
            // Go leaves a field alone for a JSON null.
            fields.retain(|_, v| !v.is_null());
        }
        let b: Body =
            serde_json::from_value(value.clone()).map_err(|e| go_type_error(&value, e))?;
        return Ok(PullRequest {
            batch: b.batch.max(1),
            expires: b.expires,
            no_wait: b.no_wait,
            max_bytes: b.max_bytes.max(0),
            idle_heartbeat: b.idle_heartbeat.max(0),
            group: Some(b.group),
        });
    }
    let batch = t.parse::<i64>().ok().filter(|n| *n > 0).unwrap_or(1);
    Ok(PullRequest {
        batch,
        ..PullRequest::default()
    })
}

/// Go's `json: cannot unmarshal <kind> into Go struct field ...` for the
/// first field of the request with a type Go would refuse; serde's own
/// message names no field, so the fields are checked one by one.
fn go_type_error(body: &serde_json::Value, e: serde_json::Error) -> PullError {
    let serde_json::Value::Object(fields) = body else {
        return PullError::Json(e);
    };
    for (name, value) in fields {
        let go = match name.as_str() {
            "batch" | "max_bytes" | "priority" => "int",
            "min_pending" | "min_ack_pending" => "int64",
            "expires" | "idle_heartbeat" => "time.Duration",
            "no_wait" => "bool",
            _ => continue,
        };
        let found = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(_) if go == "bool" => continue,
            serde_json::Value::Bool(_) => "bool".to_string(),
            serde_json::Value::Number(_) if go == "bool" => "number".to_string(),
            serde_json::Value::Number(n) if n.is_i64() => continue,
            serde_json::Value::Number(n) => format!("number {n}"),
            serde_json::Value::String(_) => "string".to_string(),
            serde_json::Value::Array(_) => "array".to_string(),
            serde_json::Value::Object(_) => "object".to_string(),
        };
        return PullError::FieldType {
            field: name.clone(),
            found,
            go_type: go,
        };
    }
    PullError::Json(e)
}

/// A status reply with no body, as the reference sends to pull requests.
pub fn status(code: u16, text: &str) -> Vec<u8> {
    HeaderBlock::status(code, text).finish()
}

/// A status with the request's remaining budget.
pub fn status_pending(code: u16, text: &str, msgs: i64, bytes: i64) -> Vec<u8> {
    let mut h = HeaderBlock::status(code, text);
    h.add("Nats-Pending-Messages", msgs);
    h.add("Nats-Pending-Bytes", bytes);
    h.finish()
}

/// The idle heartbeat: the consumer's last delivered sequences.
pub fn heartbeat(last_consumer: u64, last_stream: u64, stalled: Option<&str>) -> Vec<u8> {
    let mut h = HeaderBlock::status(100, "Idle Heartbeat");
    h.add("Nats-Last-Consumer", last_consumer);
    h.add("Nats-Last-Stream", last_stream);
    if let Some(fc) = stalled {
        h.add("Nats-Consumer-Stalled", fc);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_forms() {
        let parse_pull = |body: &[u8]| parse_pull(body).map_err(|e| e.to_string());
        assert_eq!(parse_pull(b"").map(|r| r.batch), Ok(1));
        assert_eq!(parse_pull(b"5").map(|r| r.batch), Ok(5));
        assert_eq!(parse_pull(b"-3").map(|r| r.batch), Ok(1));
        assert_eq!(parse_pull(b"abc").map(|r| r.batch), Ok(1));
        let r =
            parse_pull(br#"{"batch":3,"expires":1000,"no_wait":true,"bogus":1}"#).expect("json");
        assert_eq!((r.batch, r.expires, r.no_wait), (3, 1000, true));
        assert_eq!(
            parse_pull(br#"{"batch":"x"}"#),
            Err("json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.batch of type int".into())
        );
        assert_eq!(
            parse_pull(br#"{"batch":1,"no_wait":1}"#),
            Err("json: cannot unmarshal number into Go struct field JSApiConsumerGetNextRequest.no_wait of type bool".into())
        );
        assert_eq!(
            parse_pull(br#"{"expires":[1]}"#),
            Err("json: cannot unmarshal array into Go struct field JSApiConsumerGetNextRequest.expires of type time.Duration".into())
        );
        assert_eq!(parse_pull(br#"{"batch":null}"#).map(|r| r.batch), Ok(1));
    }

    #[test]
    fn statuses_are_byte_exact() {
        assert_eq!(
            status(404, "No Messages"),
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
        assert_eq!(
            status_pending(408, "Request Timeout", 5, 0),
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 0\r\n\r\n"
        );
        assert_eq!(
            heartbeat(0, 3, None),
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 3\r\n\r\n"
        );
    }
}
