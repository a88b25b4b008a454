//! Protocol parser fuzz target: any bytes, fed whole and cut in two, must
//! parse to the same ops (or the same error) and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::proto::parse::{Limits, Parser};

const LIMITS: Limits = Limits {
    max_control_line: 4096,
    max_payload: 1 << 20,
};

fn ops(chunks: &[&[u8]]) -> Vec<String> {
    let mut parser = Parser::new(LIMITS);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            match parser.next(&buf[pos..]) {
                Ok(Some((op, used))) => {
                    out.push(format!("{op:?}"));
                    pos += used;
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("{e:?}"));
                    return out;
                }
            }
        }
        buf.drain(..pos);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = ops(&[data]);
    let cut = data.first().map_or(0, |b| usize::from(*b) % (data.len() + 1));
    assert_eq!(ops(&[&data[..cut], &data[cut..]]), whole);
});
