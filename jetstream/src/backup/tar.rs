//! The tar layer of a backup: regular files only, as nats-server writes
//! and accepts them (mode 0600, owner `nats`); a path too long for the
//! ustar fields goes in a PAX header. Reading skips PAX and directory
//! entries.

const BLOCK: usize = 512;

/// Writes tar entries into a buffer.
pub(crate) struct TarWriter {
    out: Vec<u8>,
    mtime: u64,
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = &text.as_bytes()[text.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(text);
    field[digits] = 0;
}

impl TarWriter {
    pub(crate) fn new(mtime_secs: u64) -> TarWriter {
        TarWriter {
            out: Vec::new(),
            mtime: mtime_secs,
        }
    }

    fn header(&mut self, name: &str, size: u64, kind: u8) {
        let mut h = [0u8; BLOCK];
        let (prefix, short) = split_path(name);
        h[..short.len()].copy_from_slice(short.as_bytes());
        octal(&mut h[100..108], 0o600);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], self.mtime);
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[265..269].copy_from_slice(b"nats");
        h[297..301].copy_from_slice(b"nats");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        self.out.extend_from_slice(&h);
    }

    fn data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.out.extend(std::iter::repeat_n(0, pad));
    }

    /// Adds a regular file.
    pub(crate) fn file(&mut self, name: &str, data: &[u8]) {
        if !fits_ustar(name) {
            // The path as a PAX record: "<len> path=<name>\n".
            let body = format!(" path={name}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            let record = format!("{len}{body}");
            self.header("PaxHeader", record.len() as u64, b'x');
            self.data(record.as_bytes());
        }
        self.header(name, data.len() as u64, b'0');
        self.data(data);
    }

    /// The archive, with its end-of-archive blocks.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.extend(std::iter::repeat_n(0, BLOCK * 2));
        self.out
    }
}

/// Whether the ustar prefix and name fields can hold `name`.
fn fits_ustar(name: &str) -> bool {
    name.len() <= 100
        || name
            .char_indices()
            .any(|(i, c)| c == '/' && i <= 155 && name.len() - i - 1 <= 100)
}

/// A path split into the ustar prefix and name fields where it fits
/// (prefix up to 155 bytes, name up to 100), else the name truncated (a
/// PAX record carries the whole).
fn split_path(name: &str) -> (&str, &str) {
    if name.len() <= 100 {
        return ("", name);
    }
    let cut = name
        .char_indices()
        .filter(|&(i, c)| c == '/' && i <= 155 && name.len() - i - 1 <= 100)
        .map(|(i, _)| i)
        .next();
    match cut {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => {
            let mut end = 100;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            ("", &name[..end])
        }
    }
}

/// Why an archive's tar layer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadTar(pub(crate) String);

fn parse_octal(field: &[u8]) -> Result<u64, BadTar> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256, big-endian.
        let mut v = 0u64;
        for (i, &b) in field.iter().enumerate() {
            v = (v << 8) | u64::from(if i == 0 { b & 0x7f } else { b });
        }
        return Ok(v);
    }
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| BadTar(format!("bad number {text:?}")))
}

fn text_field(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The regular files of an archive, in order: (path, contents).
pub(crate) fn read(mut src: &[u8]) -> Result<Vec<(String, Vec<u8>)>, BadTar> {
    let mut files = Vec::new();
    let mut pax_path: Option<String> = None;
    while src.len() >= BLOCK {
        let h = &src[..BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = usize::try_from(parse_octal(&h[124..136])?)
            .map_err(|_| BadTar("entry too large".into()))?;
        let kind = h[156];
        let padded = size.div_ceil(BLOCK) * BLOCK;
        let data = src
            .get(BLOCK..BLOCK + size)
            .ok_or_else(|| BadTar("archive cut short".into()))?;
        let name = {
            let short = text_field(&h[..100]);
            let prefix = if &h[257..262] == b"ustar" {
                text_field(&h[345..500])
            } else {
                String::new()
            };
            if prefix.is_empty() {
                short
            } else {
                format!("{prefix}/{short}")
            }
        };
        match kind {
            b'x' => {
                let records = String::from_utf8_lossy(data);
                for line in records.lines() {
                    if let Some((_, kv)) = line.split_once(' ') {
                        if let Some(path) = kv.strip_prefix("path=") {
                            pax_path = Some(path.to_string());
                        }
                    }
                }
            }
            b'0' | 0 => {
                let path = pax_path.take().unwrap_or(name);
                files.push((path, data.to_vec()));
            }
            // Global PAX headers, directories and the rest: nothing to
            // restore.
            _ => {
                pax_path = None;
            }
        }
        src = src
            .get(BLOCK + padded..)
            .ok_or_else(|| BadTar("archive cut short".into()))?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_with_long_paths() {
        let long = format!("obs/{}/meta.inf", "c".repeat(200));
        let mut w = TarWriter::new(1_700_000_000);
        w.file("meta.inf", b"{}");
        w.file("msgs/1.blk", &[7u8; 1000]);
        w.file(&long, b"x");
        let tar = w.finish();
        assert_eq!(tar.len() % BLOCK, 0);
        let files = read(&tar).expect("read");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["meta.inf", "msgs/1.blk", long.as_str()]);
        assert_eq!(files[1].1, vec![7u8; 1000]);
        assert!(read(&tar[..700]).is_err());
    }
}
