//! Ack subjects and ack bodies, as the reference lays them out:
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>`.

use crate::duration::parse_go_duration;

pub(crate) const ACK_PREFIX: &str = "$JS.ACK.";

/// The reply subject a delivery carries.
pub fn ack_subject(
    stream: &str,
    consumer: &str,
    deliveries: u64,
    stream_seq: u64,
    consumer_seq: u64,
    time_ns: i64,
    pending: u64,
) -> String {
    format!("{ACK_PREFIX}{stream}.{consumer}.{deliveries}.{stream_seq}.{consumer_seq}.{time_ns}.{pending}")
}

/// The parts of an ack subject that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckTarget<'a> {
    /// The stream the message is in.
    pub stream: &'a str,
    /// The consumer that delivered it.
    pub consumer: &'a str,
    /// How many times it has been delivered, this delivery included.
    pub deliveries: u64,
    /// The message's sequence in the stream.
    pub stream_seq: u64,
    /// The delivery's sequence in the consumer.
    pub consumer_seq: u64,
    /// When the message was stored (Unix nanoseconds).
    pub time_ns: i64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
}

/// Splits an ack subject; `None` when it has not the nine tokens (the
/// reference's per-consumer subscription would not match it).
pub fn parse_ack_subject(subject: &str) -> Option<AckTarget<'_>> {
    let rest = subject.strip_prefix(ACK_PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    if tokens.len() != 7 {
        return None;
    }
    Some(AckTarget {
        stream: tokens[0],
        consumer: tokens[1],
        deliveries: tokens[2].parse().ok()?,
        stream_seq: tokens[3].parse().ok()?,
        consumer_seq: tokens[4].parse().ok()?,
        time_ns: tokens[5].parse().ok()?,
        pending: tokens[6].parse().ok()?,
    })
}

/// What an ack body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckKind {
    /// `+ACK` (or `+OK`, or an empty body): done with the message.
    Ack,
    /// Redeliver, after the delay (ns) when one was given.
    Nak(Option<i64>),
    /// `+WPI`: still working on it; restarts the ack wait.
    InProgress,
    /// Ack, then treat the body after `+NXT` as a pull request.
    Next(Vec<u8>),
    /// `+TERM`: never redeliver; the reason given after it, if any.
    Term(Option<String>),
    /// Anything else: does nothing (the reference still answers it).
    Unknown,
}

/// Reads an ack body as the reference does; a body it does not know is
/// [`AckKind::Unknown`], never an error.
pub fn parse_ack_body(body: &[u8]) -> AckKind {
    let text = String::from_utf8_lossy(body);
    let t = text.as_ref();
    if t.is_empty() || t == "+ACK" || t == "+OK" {
        return AckKind::Ack;
    }
    if let Some(rest) = t.strip_prefix("-NAK") {
        return AckKind::Nak(nak_delay(rest.trim()));
    }
    if t.starts_with("+WPI") {
        return AckKind::InProgress;
    }
    if let Some(rest) = t.strip_prefix("+NXT") {
        return AckKind::Next(rest.trim().as_bytes().to_vec());
    }
    if let Some(rest) = t.strip_prefix("+TERM") {
        let reason = rest.trim();
        return AckKind::Term((!reason.is_empty()).then(|| reason.to_string()));
    }
    if t.starts_with("+ACK") {
        return AckKind::Ack;
    }
    AckKind::Unknown
}

/// `-NAK {"delay": ns}` or `-NAK <go duration>`; anything else is a plain NAK.
fn nak_delay(rest: &str) -> Option<i64> {
    if rest.is_empty() {
        return None;
    }
    if rest.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Delay {
            delay: i64,
        }
        return serde_json::from_str::<Delay>(rest)
            .ok()
            .map(|d| d.delay)
            .filter(|d| *d > 0);
    }
    parse_go_duration(rest).filter(|d| *d > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_round_trip() {
        let s = ack_subject("S", "C", 2, 10, 11, 1234, 5);
        assert_eq!(s, "$JS.ACK.S.C.2.10.11.1234.5");
        let t = parse_ack_subject(&s).expect("parses");
        assert_eq!(
            (
                t.stream,
                t.consumer,
                t.deliveries,
                t.stream_seq,
                t.consumer_seq
            ),
            ("S", "C", 2, 10, 11)
        );
        assert!(parse_ack_subject("$JS.ACK.S.C.1.2.3.4").is_none());
        assert!(parse_ack_subject("$JS.ACK.S.C.x.2.3.4.5").is_none());
    }

    #[test]
    fn ack_bodies() {
        assert_eq!(parse_ack_body(b""), AckKind::Ack);
        assert_eq!(parse_ack_body(b"+ACK"), AckKind::Ack);
        assert_eq!(parse_ack_body(b"-NAK"), AckKind::Nak(None));
        assert_eq!(
            parse_ack_body(br#"-NAK {"delay":1500000000}"#),
            AckKind::Nak(Some(1_500_000_000))
        );
        assert_eq!(
            parse_ack_body(b"-NAK 1s"),
            AckKind::Nak(Some(1_000_000_000))
        );
        assert_eq!(parse_ack_body(br#"-NAK {"delay":"x"}"#), AckKind::Nak(None));
        assert_eq!(parse_ack_body(b"+WPI"), AckKind::InProgress);
        assert_eq!(parse_ack_body(b"+NXT 2"), AckKind::Next(b"2".to_vec()));
        assert_eq!(parse_ack_body(b"+TERM"), AckKind::Term(None));
        assert_eq!(
            parse_ack_body(b"+TERM bad payload"),
            AckKind::Term(Some("bad payload".into()))
        );
        assert_eq!(parse_ack_body(b"junk"), AckKind::Unknown);
    }
}
