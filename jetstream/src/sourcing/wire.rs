//! What mirrors and sources read and write on the wire, as the reference
//! spells it: the origin consumer's ack subjects (both of its layouts),
//! the `Nats-Stream-Source` header, the hashes in names and index names,
//! and the header lines a copy leaves behind.

use crate::api::stream::StreamSource;

/// Where a delivery stands, from its ack subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery<'a> {
    pub consumer: &'a str,
    pub deliveries: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub time_ns: i64,
    pub pending: u64,
}

/// Reads `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`
/// or the newer layout with a domain and an account hash after `ACK`
/// (12 tokens or more, as a nats-server origin in a domain sends).
pub(crate) fn delivery(reply: &str) -> Option<Delivery<'_>> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 2 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = match tokens.len() {
        9 => 2,
        n if n >= 12 => 4,
        _ => return None,
    };
    let num = |i: usize| tokens[at + i].parse::<u64>().ok();
    Some(Delivery {
        consumer: tokens[at + 1],
        deliveries: num(2)?,
        stream_seq: num(3)?,
        consumer_seq: num(4)?,
        time_ns: tokens[at + 5].parse().ok()?,
        pending: num(6)?,
    })
}

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The reference's short hash of a name: the first eight bytes of its
/// SHA-256, each as one of 62 letters and digits.
pub(crate) fn hash(name: &str) -> String {
    use sha2::Digest;
    let sum = sha2::Sha256::digest(name.as_bytes());
    sum.iter()
        .take(8)
        .map(|b| DIGITS[usize::from(b % 62)] as char)
        .collect()
}

/// Eight random letters and digits (deliver subjects, reply subjects and
/// consumer name suffixes).
pub(crate) fn random_token() -> String {
    (0..8)
        .map(|_| DIGITS[crate::transform::random_below(62) as usize] as char)
        .collect()
}

/// A source's index name: `<stream>[:<api hash>][:C=<consumer hash>]`,
/// then its filters and their destinations (`>` for none), joined by
/// form feeds when it has several transforms. It tells the copies of one
/// source apart from another's in the stored headers.
pub(crate) fn index_name(src: &StreamSource) -> String {
    let mut name = src.name.clone();
    if let Some(ext) = &src.external {
        name.push(':');
        name.push_str(&hash(&ext.api));
    }
    if let Some(c) = &src.consumer {
        name.push_str(":C=");
        name.push_str(&hash(&c.name));
    }
    let or_all = |s: &str| {
        if s.is_empty() {
            ">".to_string()
        } else {
            s.to_string()
        }
    };
    let (filters, dests) = if src.subject_transforms.is_empty() {
        (or_all(&src.filter_subject), ">".to_string())
    } else {
        let f: Vec<String> = src
            .subject_transforms
            .iter()
            .map(|t| or_all(&t.src))
            .collect();
        let d: Vec<String> = src
            .subject_transforms
            .iter()
            .map(|t| or_all(&t.dest))
            .collect();
        (f.join("\u{c}"), d.join("\u{c}"))
    };
    format!("{name} {filters} {dests}")
}

/// The `Nats-Stream-Source` value of a sourced copy:
/// `<index stream part> <origin seq> <filters> <dests> <origin subject>`.
pub(crate) fn source_header(iname: &str, seq: u64, subject: &str) -> String {
    let mut parts = iname.splitn(3, ' ');
    let (name, filters, dests) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or(">"),
        parts.next().unwrap_or(">"),
    );
    format!("{name} {seq} {filters} {dests} {subject}")
}

/// From a stored `Nats-Stream-Source` value: the origin's stream part,
/// the source's index name (empty for the pre-2.10 form) and the origin
/// sequence the copy was of.
pub(crate) fn parse_source_header(value: &str) -> Option<(String, String, u64)> {
    if let Some(rest) = value.strip_prefix("$JS.ACK.") {
        // The oldest form kept the ack subject itself.
        let d = delivery(value)?;
        let stream = rest.split('.').next()?.to_string();
        return Some((stream, String::new(), d.stream_seq));
    }
    let fields: Vec<&str> = value.split(' ').collect();
    match fields.len() {
        2 | 3 => Some((fields[0].into(), String::new(), fields[1].parse().ok()?)),
        n if n >= 4 => Some((
            fields[0].into(),
            format!("{} {} {}", fields[0], fields[2], fields[3]),
            fields[1].parse().ok()?,
        )),
        _ => None,
    }
}

/// A header block without the lines whose key starts with `prefix`
/// (exactly, at a line start); `None` once nothing but the version line
/// is left, as the reference leaves it.
pub(crate) fn without_prefix(block: Option<&[u8]>, prefix: &str) -> Option<Vec<u8>> {
    let block = block?;
    let text = std::str::from_utf8(block).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive("\r\n");
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for line in lines {
        if !line.starts_with(prefix) {
            out.push_str(line);
        }
    }
    if out.len() <= "NATS/1.0\r\n\r\n".len() {
        return None;
    }
    Some(out.into_bytes())
}

/// Whether a message is an idle heartbeat or flow-control request (a
/// `100` status), not a copy.
pub(crate) fn is_control(headers: Option<&[u8]>, payload: &[u8]) -> bool {
    payload.is_empty() && headers.is_some_and(|h| h.starts_with(b"NATS/1.0 100"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stream::{ExternalStream, SubjectTransform};

    #[test]
    fn ack_subjects_of_both_layouts() {
        let d = delivery("$JS.ACK.O.JS_MIRROR_x.1.10.4.1700.3").expect("v1");
        assert_eq!(
            (
                d.consumer,
                d.deliveries,
                d.stream_seq,
                d.consumer_seq,
                d.time_ns,
                d.pending
            ),
            ("JS_MIRROR_x", 1, 10, 4, 1700, 3)
        );
        let d = delivery("$JS.ACK.hub.ACCHASH.O.C.2.11.5.1800.0.rand").expect("v2");
        assert_eq!((d.consumer, d.deliveries, d.stream_seq), ("C", 2, 11));
        assert!(delivery("$JS.ACK.O.C.1.2.3").is_none());
        assert!(delivery("$JS.FC.O.x.y").is_none());
        assert!(delivery("$JS.ACK.O.C.x.10.4.1700.3").is_none());
    }

    #[test]
    fn hashes_are_the_references() {
        // getHash("") in the reference (sha256 of nothing, 62 digits).
        assert_eq!(hash("").len(), 8);
        assert!(hash("ORDERS").chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(hash("a"), hash("b"));
    }

    #[test]
    fn index_names_and_headers_round_trip() {
        let plain = StreamSource {
            name: "O".into(),
            ..StreamSource::default()
        };
        assert_eq!(index_name(&plain), "O > >");
        let filtered = StreamSource {
            name: "O".into(),
            filter_subject: "a.*".into(),
            external: Some(ExternalStream {
                api: "$JS.hub.API".into(),
                deliver: String::new(),
            }),
            ..StreamSource::default()
        };
        let iname = index_name(&filtered);
        assert!(iname.starts_with("O:") && iname.ends_with(" a.* >"));
        let transformed = StreamSource {
            name: "O".into(),
            subject_transforms: vec![
                SubjectTransform {
                    src: "a.>".into(),
                    dest: "b.>".into(),
                },
                SubjectTransform {
                    src: "c".into(),
                    dest: String::new(),
                },
            ],
            ..StreamSource::default()
        };
        assert_eq!(index_name(&transformed), "O a.>\u{c}c b.>\u{c}>");
        let h = source_header("O > >", 42, "a.1");
        assert_eq!(h, "O 42 > > a.1");
        assert_eq!(
            parse_source_header(&h),
            Some(("O".into(), "O > >".into(), 42))
        );
        assert_eq!(
            parse_source_header("O 7"),
            Some(("O".into(), String::new(), 7))
        );
        assert_eq!(
            parse_source_header("$JS.ACK.O.C.1.9.3.17.0"),
            Some(("O".into(), String::new(), 9))
        );
        assert_eq!(parse_source_header("garbage"), None);
    }

    #[test]
    fn header_lines_go_by_prefix() {
        let h = b"NATS/1.0\r\nNats-Expected-Stream: x\r\nA: 1\r\nNats-Expected-Last-Sequence: 3\r\n\r\n";
        assert_eq!(
            without_prefix(Some(h), "Nats-Expected-").as_deref(),
            Some(&b"NATS/1.0\r\nA: 1\r\n\r\n"[..])
        );
        assert_eq!(
            without_prefix(Some(b"NATS/1.0\r\nNats-Batch-Id: b\r\n\r\n"), "Nats-Batch-"),
            None
        );
        assert!(is_control(
            Some(b"NATS/1.0 100 Idle Heartbeat\r\n\r\n"),
            b""
        ));
        assert!(!is_control(Some(b"NATS/1.0\r\n\r\n"), b""));
    }
}
