//! NATS header blocks: `NATS/1.0[ status[ description]]\r\n`, then
//! `Key: Value\r\n` lines, then `\r\n`. Lookups are case-sensitive, as the
//! reference's are; values are trimmed of surrounding blanks.

use std::fmt::Write as _;

const VERSION_LINE: &str = "NATS/1.0";

/// The value of the first `key` line in a header block.
pub fn get<'a>(block: &'a [u8], key: &str) -> Option<&'a str> {
    lines(block).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Every `(key, value)` line after the version line.
pub fn lines(block: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let text = std::str::from_utf8(block).unwrap_or("");
    text.split("\r\n").skip(1).filter_map(|line| {
        let (k, v) = line.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}

/// Builds a header block.
pub struct HeaderBlock {
    text: String,
}

impl HeaderBlock {
    /// A block with a plain version line.
    pub fn new() -> Self {
        HeaderBlock {
            text: format!("{VERSION_LINE}\r\n"),
        }
    }

    /// A block with a status line such as `404 Message Not Found`.
    pub fn status(code: u16, description: &str) -> Self {
        let mut text = format!("{VERSION_LINE} {code}");
        if !description.is_empty() {
            text.push(' ');
            text.push_str(description);
        }
        text.push_str("\r\n");
        HeaderBlock { text }
    }

    /// Continues an existing block byte for byte (stored headers come
    /// back exactly as they were published, with ours after them).
    pub fn from_existing(block: Option<&[u8]>) -> Self {
        match block.and_then(|b| std::str::from_utf8(b).ok()) {
            Some(text) if text.starts_with(VERSION_LINE) && text.ends_with("\r\n\r\n") => {
                HeaderBlock {
                    text: text[..text.len() - 2].to_string(),
                }
            }
            _ => HeaderBlock::new(),
        }
    }

    /// Continues an existing block without its `key` lines.
    pub fn without(block: Option<&[u8]>, key: &str) -> Self {
        let full = HeaderBlock::from_existing(block);
        let mut lines = full.text.split_terminator("\r\n");
        let mut out = HeaderBlock {
            text: format!("{}\r\n", lines.next().unwrap_or(VERSION_LINE)),
        };
        for line in lines {
            if line.split_once(':').is_some_and(|(k, _)| k.trim() == key) {
                continue;
            }
            out.text.push_str(line);
            out.text.push_str("\r\n");
        }
        out
    }

    /// Appends a `key: value` line (an existing key is not replaced).
    pub fn add(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.text, "{key}: {value}\r\n");
        self
    }

    /// The finished block, with its closing blank line.
    pub fn finish(mut self) -> Vec<u8> {
        self.text.push_str("\r\n");
        self.text.into_bytes()
    }
}

/// The reference's no-responders status for a request to `subject` that
/// nothing subscribes to.
pub fn no_responders(subject: &str) -> Vec<u8> {
    let mut h = HeaderBlock::status(503, "");
    h.add("Nats-Subject", subject);
    h.finish()
}

impl Default for HeaderBlock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_sensitive_and_trimmed() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: abc \r\nnats-msg-id: low\r\nX: 1:2\r\n\r\n";
        assert_eq!(get(block, "Nats-Msg-Id"), Some("abc"));
        assert_eq!(get(block, "nats-msg-id"), Some("low"));
        assert_eq!(get(block, "X"), Some("1:2"));
        assert_eq!(get(block, "Missing"), None);
    }

    #[test]
    fn blocks_build() {
        let mut b = HeaderBlock::status(404, "Message Not Found");
        b.add("Nats-Stream", "S");
        assert_eq!(
            b.finish(),
            b"NATS/1.0 404 Message Not Found\r\nNats-Stream: S\r\n\r\n"
        );
        let mut b = HeaderBlock::from_existing(Some(b"NATS/1.0\r\nA: b\r\n\r\n"));
        b.add("Nats-Sequence", 5);
        assert_eq!(b.finish(), b"NATS/1.0\r\nA: b\r\nNats-Sequence: 5\r\n\r\n");
        assert_eq!(
            HeaderBlock::status(204, "EOB").finish(),
            b"NATS/1.0 204 EOB\r\n\r\n"
        );
    }
}
