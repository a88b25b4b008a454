//! A whole backup archive: written from a stream's messages and
//! consumers, read back into what a restore needs. The layout is
//! nats-server's (see `filestore`); index files are left out, as the
//! reference rebuilds them from the blocks.

use super::filestore::{self, BlockWriter, ConsumerState, Record, ERASED_BIT, TOMBSTONE_BIT};
use super::{s2, tar};

/// A new block past this many bytes, as the reference's block size.
const BLOCK_BYTES: usize = 8 << 20;

/// One consumer in an archive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArchivedConsumer {
    pub name: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Its config as JSON (the reference's field names).
    pub config: serde_json::Value,
    pub state: Option<ConsumerState>,
}

/// Writes an archive: messages first (ascending), then `finish`.
pub(crate) struct ArchiveWriter {
    stream: String,
    tar: tar::TarWriter,
    block: BlockWriter,
    index: u64,
    last_written: u64,
}

impl ArchiveWriter {
    /// Starts with the stream's `meta.inf` (`config_json`: the config as
    /// the reference writes it) and `meta.sum`.
    pub(crate) fn new(
        stream: &str,
        created: &str,
        config_json: &[u8],
        now_secs: u64,
    ) -> ArchiveWriter {
        let mut tar = tar::TarWriter::new(now_secs);
        let (inf, sum) = filestore::meta(stream, created, "", config_json);
        tar.file("meta.inf", &inf);
        tar.file("meta.sum", &sum);
        ArchiveWriter {
            stream: stream.to_string(),
            tar,
            block: BlockWriter::new(stream, 1),
            index: 1,
            last_written: 0,
        }
    }

    fn seal_block(&mut self) {
        let name = format!("msgs/{}.blk", self.index);
        self.tar.file(&name, &self.block.out);
        self.index += 1;
        self.block = BlockWriter::new(&self.stream, self.index);
    }

    /// Adds a stored message.
    pub(crate) fn message(
        &mut self,
        seq: u64,
        time_ns: i64,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
    ) {
        if self.block.out.len() >= BLOCK_BYTES {
            self.seal_block();
        }
        self.block.push(seq, time_ns, subject, headers, payload);
        self.last_written = seq;
    }

    /// Ends the messages at the stream's `last_seq`: a sequence past the
    /// last stored message is kept by an erased record, as the
    /// reference's store keeps it.
    pub(crate) fn end_messages(&mut self, last_seq: u64, last_ts: i64) {
        if last_seq > self.last_written {
            self.block
                .push(last_seq | ERASED_BIT, last_ts, "", b"", b"");
        }
        if !self.block.out.is_empty() {
            self.seal_block();
        }
    }

    /// Adds a consumer's files.
    pub(crate) fn consumer(
        &mut self,
        name: &str,
        created: &str,
        config_json: &[u8],
        state: &ConsumerState,
        now_secs: i64,
    ) {
        let head = format!(",\"Name\":{}", serde_json::Value::from(name));
        let key = format!("{}/{name}", self.stream);
        let (inf, sum) = filestore::meta(&key, created, &head, config_json);
        self.tar.file(&format!("obs/{name}/meta.inf"), &inf);
        self.tar.file(&format!("obs/{name}/meta.sum"), &sum);
        self.tar
            .file(&format!("obs/{name}/o.dat"), &state.encode(now_secs));
    }

    /// The compressed archive.
    pub(crate) fn finish(self) -> Vec<u8> {
        s2::encode(&self.tar.finish())
    }
}

/// What an archive holds, for a restore.
#[derive(Debug, Default)]
pub(crate) struct Archive {
    /// `meta.inf` without `Created`: the stream's config.
    pub config: serde_json::Value,
    pub created: Option<String>,
    /// The stored messages, ascending (sequence flags cleared).
    pub msgs: Vec<Record>,
    /// The last sequence the stream had assigned.
    pub last_seq: u64,
    /// The time of the last sequence, when the archive says.
    pub last_ts: i64,
    pub consumers: Vec<ArchivedConsumer>,
}

/// Why an archive cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadArchive(pub(crate) String);

impl std::fmt::Display for BadArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn json_without(
    bytes: &[u8],
    drop: &[&str],
) -> Result<(serde_json::Value, Option<String>), BadArchive> {
    let mut v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BadArchive(format!("bad meta.inf: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| BadArchive("bad meta.inf: not an object".into()))?;
    let created = obj
        .remove("Created")
        .and_then(|c| c.as_str().map(str::to_string));
    for k in drop {
        obj.remove(*k);
    }
    Ok((v, created))
}

/// Reads an archive: its config, the messages its blocks hold (records
/// past a damaged one in a block are lost, as the reference loses them),
/// and its consumers.
pub(crate) fn read(bytes: &[u8]) -> Result<Archive, BadArchive> {
    let data = s2::decode(bytes).map_err(|e| BadArchive(e.to_string()))?;
    let files = tar::read(&data).map_err(|e| BadArchive(format!("bad archive: {}", e.0)))?;
    let meta = files
        .iter()
        .find(|(n, _)| n == "meta.inf")
        .ok_or_else(|| BadArchive("archive has no meta.inf".into()))?;
    let (config, created) = json_without(&meta.1, &[])?;
    let stream = config
        .get("name")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| BadArchive("meta.inf names no stream".into()))?
        .to_string();
    let mut blocks: Vec<(u64, &Vec<u8>)> = files
        .iter()
        .filter_map(|(n, d)| {
            let idx = n
                .strip_prefix("msgs/")?
                .strip_suffix(".blk")?
                .parse()
                .ok()?;
            Some((idx, d))
        })
        .collect();
    blocks.sort_by_key(|(i, _)| *i);
    let mut live = std::collections::BTreeMap::new();
    let mut tombstones = Vec::new();
    let mut archive = Archive::default();
    for (index, data) in blocks {
        for rec in filestore::read_block(&stream, index, data) {
            let seq = rec.seq & !(ERASED_BIT | TOMBSTONE_BIT);
            if rec.seq & TOMBSTONE_BIT != 0 {
                tombstones.push(seq);
                continue;
            }
            if seq >= archive.last_seq {
                archive.last_seq = seq;
                archive.last_ts = rec.time_ns;
            }
            if rec.seq & ERASED_BIT == 0 {
                live.insert(seq, Record { seq, ..rec });
            }
        }
    }
    for seq in tombstones {
        live.remove(&seq);
    }
    archive.msgs = live.into_values().collect();
    archive.config = config;
    archive.created = created;
    // Consumers: their directories, each with meta.inf (and o.dat).
    let mut names: Vec<&str> = files
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("obs/")?.strip_suffix("/meta.inf"))
        .collect();
    names.sort_unstable();
    for name in names {
        let file = |f: &str| {
            files
                .iter()
                .find(|(n, _)| *n == format!("obs/{name}/{f}"))
                .map(|(_, d)| d)
        };
        let Some(inf) = file("meta.inf") else {
            continue;
        };
        let (config, created) = json_without(inf, &["Name"])?;
        archive.consumers.push(ArchivedConsumer {
            name: name.to_string(),
            created: created.unwrap_or_default(),
            config,
            state: file("o.dat").and_then(|d| ConsumerState::decode(d)),
        });
    }
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_round_trips_with_gaps_and_consumers() {
        let mut w = ArchiveWriter::new(
            "S",
            "2026-01-01T00:00:00Z",
            br#"{"name":"S","subjects":["s.>"]}"#,
            0,
        );
        w.message(2, 20, "s.a", b"", b"two");
        w.message(5, 50, "s.b", b"NATS/1.0\r\nK: v\r\n\r\n", b"five");
        w.end_messages(7, 70);
        let c = ArchivedConsumer {
            name: "C".into(),
            created: "2026-01-01T00:00:00Z".into(),
            config: serde_json::json!({"durable_name": "C"}),
            state: Some(ConsumerState {
                ack_floor: (1, 2),
                delivered: (1, 2),
                ..ConsumerState::default()
            }),
        };
        let state = c.state.clone().expect("state");
        w.consumer(&c.name, &c.created, br#"{"durable_name":"C"}"#, &state, 0);
        let a = read(&w.finish()).expect("read");
        assert_eq!(a.config["subjects"][0], "s.>");
        assert_eq!(a.created.as_deref(), Some("2026-01-01T00:00:00Z"));
        let seqs: Vec<u64> = a.msgs.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [2, 5]);
        assert_eq!(a.msgs[1].headers, b"NATS/1.0\r\nK: v\r\n\r\n");
        assert_eq!((a.last_seq, a.last_ts), (7, 70));
        assert_eq!(a.consumers, vec![c]);
        assert!(read(b"nonsense").is_err());
    }
}
