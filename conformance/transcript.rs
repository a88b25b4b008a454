//! What a client observed, normalized so that two servers can be compared.
//!
//! A transcript is a list of text lines: what each connection sent, each
//! frame it received (server lines split at CRLF, MSG/HMSG with their
//! payload), and "[closed]" when the server closed the socket. Bytes are
//! escaped (`\r`, `\n`, `\xNN`) and long runs of one byte are abbreviated.
//! INFO frames are parsed: keys are sorted, values that differ per run or per
//! implementation are masked, and keys one side may lack are dropped (see
//! `INFO_MASKED` and `INFO_ONE_SIDED`). Timing is never recorded.
//!
//! Alongside the lines, a transcript holds the violations of the scenario's
//! own expectations (exact bytes, closes or not), so that a target can be
//! checked even when there is nothing to compare it with.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// INFO keys whose values differ between runs or implementations. Their
/// values are replaced by a placeholder naming the JSON type, so the type is
/// still compared.
const INFO_MASKED: &[&str] = &[
    "server_id",
    "server_name",
    "port",
    "client_id",
    "client_ip",
    // Random per connection; NKey users sign it.
    "nonce",
    "xkey",
    "git_commit",
    "go",
    "tern_version",
];

/// INFO keys allowed to be present on one side only; dropped before comparing.
const INFO_ONE_SIDED: &[&str] = &[
    // tern's own version; the reference has no such key.
    "tern_version",
    // The reference's x25519 key for auth callout, which tern does not implement.
    "xkey",
    // omitempty in the reference; tern is not built from a git checkout of it.
    "git_commit",
];

#[derive(Debug, Default)]
pub struct Transcript {
    pub lines: Vec<String>,
    pub violations: Vec<String>,
}

impl Transcript {
    pub fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    pub fn violation(&mut self, text: String) {
        self.violations.push(text);
    }
}

/// Splits what a server sent into frames: control lines up to and including
/// their line end, MSG/HMSG together with their payload. An incomplete tail
/// is its own frame.
pub fn split_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let line_len = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => rest.len(),
        };
        let len = match payload_len(&rest[..line_len]) {
            Some(n) => (line_len + n + 2).min(rest.len()),
            None => line_len,
        };
        frames.push(&rest[..len]);
        rest = &rest[len..];
    }
    frames
}

/// How many complete MSG/HMSG frames (control line, payload and its CRLF)
/// `bytes` holds.
pub fn complete_msgs(bytes: &[u8]) -> usize {
    split_frames(bytes)
        .into_iter()
        .filter(|frame| {
            let line_len = frame
                .iter()
                .position(|&b| b == b'\n')
                .map_or(frame.len(), |i| i + 1);
            payload_len(&frame[..line_len]).is_some_and(|n| frame.len() == line_len + n + 2)
        })
        .count()
}

/// For a complete MSG or HMSG control line, the payload size it announces.
fn payload_len(line: &[u8]) -> Option<usize> {
    if !(line.starts_with(b"MSG ") || line.starts_with(b"HMSG ")) || !line.ends_with(b"\n") {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    text.split_ascii_whitespace().last()?.parse().ok()
}

/// Renders one received frame for the transcript, normalizing INFO.
pub fn render_frame(frame: &[u8]) -> String {
    match parse_info(frame) {
        Some((json, tail)) => format!("INFO {}{}", canonical_info(&json), escape(tail)),
        None => escape(frame),
    }
}

/// Splits an `INFO {json}...` frame into its JSON object and what follows
/// the JSON (for the reference: a space and CRLF).
pub fn parse_info(frame: &[u8]) -> Option<(BTreeMap<String, Value>, &[u8])> {
    let body = frame.strip_prefix(b"INFO ")?;
    let end = body.iter().rposition(|&b| b == b'}')? + 1;
    let json: BTreeMap<String, Value> = serde_json::from_slice(&body[..end]).ok()?;
    Some((json, &body[end..]))
}

fn canonical_info(json: &BTreeMap<String, Value>) -> String {
    let mut out = String::from("{");
    let mut first = true;
    for (key, value) in json {
        if INFO_ONE_SIDED.contains(&key.as_str()) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let shown = if INFO_MASKED.contains(&key.as_str()) {
            format!("<{}>", json_type(value))
        } else {
            value.to_string()
        };
        let _ = write!(out, "{key:?}:{shown}");
    }
    out.push('}');
    out
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Escapes bytes for display: CR, LF and TAB as `\r \n \t`, other
/// non-printable bytes as `\xNN`, and a run of 16 or more equal bytes as
/// `<N x 'c'>`.
pub fn escape(bytes: &[u8]) -> String {
    const RUN_MIN: usize = 16;
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|&&c| c == b).count();
        if run >= RUN_MIN {
            let _ = write!(out, "<{run} x '{}'>", escape_byte(b));
            i += run;
            continue;
        }
        out.push_str(&escape_byte(b));
        i += 1;
    }
    out
}

fn escape_byte(b: u8) -> String {
    match b {
        b'\r' => "\\r".into(),
        b'\n' => "\\n".into(),
        b'\t' => "\\t".into(),
        b'\\' => "\\\\".into(),
        0x20..=0x7e => char::from(b).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

/// A line diff of two transcripts (longest common subsequence), `-` for
/// lines only in `left`, `+` for lines only in `right`.
pub fn diff(left: &[String], right: &[String]) -> String {
    let (n, m) = (left.len(), right.len());
    // lcs[i][j] = length of the LCS of left[i..] and right[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if left[i] == right[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && left[i] == right[j] {
            let _ = writeln!(out, "    {}", left[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "  + {}", right[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "  - {}", left[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_msg_payloads_whole() {
        let got = split_frames(b"+OK\r\nMSG a 1 5\r\nx\r\nyz\r\nPONG\r\nHMSG b 1 2 4\r\nhi");
        let want: Vec<&[u8]> = vec![
            b"+OK\r\n",
            b"MSG a 1 5\r\nx\r\nyz\r\n",
            b"PONG\r\n",
            b"HMSG b 1 2 4\r\nhi",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn info_is_masked_and_sorted() {
        let frame = br#"INFO {"server_id":"NABC","port":1,"xkey":"X","proto":1} "#;
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(b"\r\n");
        assert_eq!(
            render_frame(&bytes),
            r#"INFO {"port":<number>,"proto":1,"server_id":<string>} \r\n"#
        );
    }

    #[test]
    fn escape_abbreviates_runs() {
        let mut bytes = b"PUB ".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 20));
        bytes.extend_from_slice(b"\r\n");
        assert_eq!(escape(&bytes), "PUB <20 x 'a'>\\r\\n");
    }
}
