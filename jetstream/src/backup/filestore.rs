//! The pieces of nats-server's file store that a backup carries, byte
//! for byte: `meta.inf` (the config with its creation time) and
//! `meta.sum` (its HighwayHash-64 keyed by the SHA-256 of the stream's
//! name), message blocks (records with a HighwayHash-64 each, keyed by
//! the stream's name and the block's index), and a consumer's `o.dat`
//! (its delivery state in varints).

use highway::{HighwayHash, HighwayHasher, Key};
use sha2::Digest;

/// A record with headers has this bit in its length.
const HEADER_BIT: u32 = 1 << 31;
/// A sequence skipped or erased (not a message).
pub(crate) const ERASED_BIT: u64 = 1 << 63;
/// A tombstone: the message at this sequence was removed.
pub(crate) const TOMBSTONE_BIT: u64 = 1 << 62;
/// The fixed part of a record: length, sequence, time, subject length,
/// and the hash at the end.
const RECORD_OVERHEAD: usize = 22 + 8;
/// The largest record the reference reads.
const MAX_RECORD: usize = 32 << 20;
const STATE_MAGIC: u8 = 22;
const STATE_VERSION: u8 = 2;

fn key(name: &str) -> Key {
    let sum = sha2::Sha256::digest(name.as_bytes());
    let mut k = [0u64; 4];
    for (i, v) in k.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&sum[i * 8..i * 8 + 8]);
        *v = u64::from_le_bytes(b);
    }
    Key(k)
}

fn hash(key: Key, parts: &[&[u8]]) -> [u8; 8] {
    let mut h = HighwayHasher::new(key);
    for p in parts {
        h.append(p);
    }
    h.finalize64().to_le_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `meta.inf` and `meta.sum` for a stream (`name`) or a consumer
/// (`stream/consumer`): `{"Created":...,` then `head` fields, then the
/// config's own JSON object's fields.
pub(crate) fn meta(
    key_name: &str,
    created: &str,
    head: &str,
    config_json: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut inf = format!("{{\"Created\":{}", serde_json::Value::from(created)).into_bytes();
    inf.extend_from_slice(head.as_bytes());
    match config_json.strip_prefix(b"{") {
        Some(rest) if rest != b"}" => {
            inf.push(b',');
            inf.extend_from_slice(rest);
        }
        _ => inf.push(b'}'),
    }
    let sum = hex(&hash(key(key_name), &[&inf])).into_bytes();
    (inf, sum)
}

/// One record of a message block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The sequence with its `ERASED_BIT`/`TOMBSTONE_BIT`.
    pub seq: u64,
    pub time_ns: i64,
    pub subject: String,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Writes a block's records, hashed with the block's key.
pub(crate) struct BlockWriter {
    key: Key,
    pub(crate) out: Vec<u8>,
}

impl BlockWriter {
    pub(crate) fn new(stream: &str, index: u64) -> BlockWriter {
        BlockWriter {
            key: key(&format!("{stream}-{index}")),
            out: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        seq: u64,
        time_ns: i64,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
    ) {
        let hlen = if headers.is_empty() {
            0
        } else {
            4 + headers.len()
        };
        let rl = (RECORD_OVERHEAD + subject.len() + hlen + payload.len()) as u32;
        let start = self.out.len();
        let flag = if headers.is_empty() { 0 } else { HEADER_BIT };
        self.out.extend_from_slice(&(rl | flag).to_le_bytes());
        self.out.extend_from_slice(&seq.to_le_bytes());
        self.out.extend_from_slice(&time_ns.to_le_bytes());
        self.out
            .extend_from_slice(&(subject.len() as u16).to_le_bytes());
        self.out.extend_from_slice(subject.as_bytes());
        if !headers.is_empty() {
            self.out
                .extend_from_slice(&(headers.len() as u32).to_le_bytes());
            self.out.extend_from_slice(headers);
        }
        self.out.extend_from_slice(payload);
        let h = hash(
            self.key,
            &[
                &self.out[start + 4..start + 20],
                subject.as_bytes(),
                headers,
                payload,
            ],
        );
        self.out.extend_from_slice(&h);
    }
}

/// A block's records, up to the first that is damaged (as the
/// reference truncates a block there).
pub(crate) fn read_block(stream: &str, index: u64, mut b: &[u8]) -> Vec<Record> {
    let key = key(&format!("{stream}-{index}"));
    let mut out = Vec::new();
    while b.len() >= RECORD_OVERHEAD {
        let raw = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let rl = (raw & !HEADER_BIT) as usize;
        if !(RECORD_OVERHEAD..=MAX_RECORD).contains(&rl) || rl > b.len() {
            break;
        }
        let rec = &b[..rl];
        let seq = u64::from_le_bytes(rec[4..12].try_into().unwrap_or_default());
        let time_ns = i64::from_le_bytes(rec[12..20].try_into().unwrap_or_default());
        let slen = usize::from(u16::from_le_bytes([rec[20], rec[21]]));
        let body = &rec[22..rl - 8];
        let Some(subject) = body.get(..slen) else {
            break;
        };
        let mut rest = &body[slen..];
        let mut headers: &[u8] = &[];
        if raw & HEADER_BIT != 0 {
            let Some(hl) = rest.get(..4) else {
                break;
            };
            let hlen = u32::from_le_bytes([hl[0], hl[1], hl[2], hl[3]]) as usize;
            let Some(h) = rest.get(4..4 + hlen) else {
                break;
            };
            headers = h;
            rest = &rest[4 + hlen..];
        }
        let want = &rec[rl - 8..];
        // A secure erase hashes only the record head and its noise.
        let ok = hash(key, &[&rec[4..20], subject, headers, rest]) == want
            || (seq & ERASED_BIT != 0 && hash(key, &[&rec[4..20], body]) == want);
        if !ok {
            break;
        }
        out.push(Record {
            seq,
            time_ns,
            subject: String::from_utf8_lossy(subject).into_owned(),
            headers: headers.to_vec(),
            payload: rest.to_vec(),
        });
        b = &b[rl..];
    }
    out
}

/// A consumer's delivery state as `o.dat` holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConsumerState {
    /// (consumer seq, stream seq) of the ack floor and of the last
    /// delivery.
    pub ack_floor: (u64, u64),
    pub delivered: (u64, u64),
    /// Unacked: (stream seq, consumer seq, delivered at in ns).
    pub pending: Vec<(u64, u64, i64)>,
    /// Redelivered: (stream seq, redeliveries so far).
    pub redelivered: Vec<(u64, u64)>,
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let ux = if v < 0 {
        !((v as u64) << 1)
    } else {
        (v as u64) << 1
    };
    put_uvarint(out, ux);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.0 = &self.0[i + 1..];
                return Some(v);
            }
        }
        None
    }

    fn varint(&mut self) -> Option<i64> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Some(if ux & 1 != 0 { !x } else { x })
    }
}

impl ConsumerState {
    /// The `o.dat` bytes; `now_secs` anchors the pending times.
    pub(crate) fn encode(&self, now_secs: i64) -> Vec<u8> {
        let mut out = vec![STATE_MAGIC, STATE_VERSION];
        for v in [
            self.ack_floor.0,
            self.ack_floor.1,
            self.delivered.0,
            self.delivered.1,
        ] {
            put_uvarint(&mut out, v);
        }
        put_uvarint(&mut out, self.pending.len() as u64);
        if !self.pending.is_empty() {
            put_varint(&mut out, now_secs);
            for &(sseq, cseq, ts) in &self.pending {
                put_uvarint(&mut out, sseq.saturating_sub(self.ack_floor.1));
                put_uvarint(&mut out, cseq.saturating_sub(self.ack_floor.0));
                put_varint(&mut out, now_secs - ts.div_euclid(1_000_000_000));
            }
        }
        put_uvarint(&mut out, self.redelivered.len() as u64);
        for &(sseq, count) in &self.redelivered {
            put_uvarint(&mut out, sseq.saturating_sub(self.ack_floor.1));
            put_uvarint(&mut out, count);
        }
        out
    }

    /// Reads `o.dat` (versions 1 and 2).
    pub(crate) fn decode(b: &[u8]) -> Option<ConsumerState> {
        let (&magic, rest) = b.split_first()?;
        let (&version, rest) = rest.split_first()?;
        if magic != STATE_MAGIC || !(1..=2).contains(&version) {
            return None;
        }
        let mut r = Reader(rest);
        let mut s = ConsumerState {
            ack_floor: (r.uvarint()?, r.uvarint()?),
            delivered: (r.uvarint()?, r.uvarint()?),
            ..ConsumerState::default()
        };
        let pending = r.uvarint()?;
        if pending > 0 {
            let mints = r.varint()?;
            for _ in 0..pending {
                let sseq = r.uvarint()? + s.ack_floor.1;
                let cseq = r.uvarint()? + s.ack_floor.0;
                let ts = r.varint()?;
                let ts = if version == 1 { ts } else { mints - ts };
                s.pending
                    .push((sseq, cseq, ts.saturating_mul(1_000_000_000)));
            }
        }
        let redelivered = r.uvarint()?;
        for _ in 0..redelivered {
            let sseq = r.uvarint()? + s.ack_floor.1;
            s.redelivered.push((sseq, r.uvarint()?));
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highway_hash_matches_the_reference_vector() {
        let mut k = [0u64; 4];
        for (i, v) in k.iter_mut().enumerate() {
            let bytes: Vec<u8> = (i as u8 * 8..i as u8 * 8 + 8).collect();
            *v = u64::from_le_bytes(bytes.try_into().expect("8"));
        }
        assert_eq!(hex(&hash(Key(k), &[])), "536ec222de567a90");
    }

    #[test]
    fn records_round_trip_and_a_damaged_one_ends_the_block() {
        let mut w = BlockWriter::new("S", 1);
        w.push(1, 10, "a", b"", b"one");
        w.push(2, 20, "b.c", b"NATS/1.0\r\nK: v\r\n\r\n", b"two");
        w.push(4 | ERASED_BIT, 30, "", b"", b"");
        let recs = read_block("S", 1, &w.out);
        assert_eq!(recs.len(), 3);
        assert_eq!((recs[1].seq, recs[1].subject.as_str()), (2, "b.c"));
        assert_eq!(recs[1].headers, b"NATS/1.0\r\nK: v\r\n\r\n");
        assert_eq!(recs[2].seq, 4 | ERASED_BIT);
        // The wrong block index is the wrong key.
        assert!(read_block("S", 2, &w.out).is_empty());
        let mut bad = w.out.clone();
        bad[40] ^= 1;
        assert_eq!(read_block("S", 1, &bad).len(), 1);
    }

    #[test]
    fn consumer_state_round_trips() {
        let s = ConsumerState {
            ack_floor: (3, 10),
            delivered: (6, 14),
            pending: vec![(12, 4, 1_000_000_000_000), (14, 6, 1_001_000_000_000)],
            redelivered: vec![(12, 2)],
        };
        let b = s.encode(1_002);
        assert_eq!(&b[..2], &[22, 2]);
        assert_eq!(ConsumerState::decode(&b), Some(s));
        assert_eq!(ConsumerState::decode(b"\x16\x09"), None);
    }

    #[test]
    fn meta_puts_created_first() {
        let (inf, sum) = meta("S", "2026-01-01T00:00:00Z", "", br#"{"name":"S"}"#);
        assert_eq!(inf, br#"{"Created":"2026-01-01T00:00:00Z","name":"S"}"#);
        assert_eq!(sum.len(), 16);
        let (inf, _) = meta(
            "S/c",
            "2026-01-01T00:00:00Z",
            r#","Name":"c""#,
            br#"{"ack_policy":"none"}"#,
        );
        assert_eq!(
            inf,
            br#"{"Created":"2026-01-01T00:00:00Z","Name":"c","ack_policy":"none"}"#
        );
    }
}
