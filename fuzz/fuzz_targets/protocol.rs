//! The client protocol parser, fed the input whole and cut into pieces at
//! points the input chooses: both must parse the same ops and stop at the
//! same error, and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::proto::parse::{Limits, Parser};

/// Every op (or the error that ended parsing), as text, from `chunks`
/// arriving one after another.
fn parse<'a>(chunks: impl Iterator<Item = &'a [u8]>, headers: bool) -> Vec<String> {
    let mut parser = Parser::new(Limits {
        max_control_line: 256,
        max_payload: 1024,
    });
    parser.set_headers(headers);
    let mut buf = Vec::new();
    let mut pos = 0;
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.next(&buf[pos..]) {
                Ok(Some((op, used))) => {
                    assert!(used > 0 && pos + used <= buf.len());
                    out.push(format!("{op:?}"));
                    pos += used;
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error {e:?}"));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let headers = control & 1 == 1;
    let whole = parse(std::iter::once(rest), headers);
    // Cut points: every `step` bytes, the step taken from the control byte.
    let step = usize::from(control >> 1).max(1);
    let pieces = parse(rest.chunks(step), headers);
    assert_eq!(whole, pieces, "step {step}");
});
