#![no_main]
//! Feeds arbitrary bytes to the conf parser: any input must come back as a
//! value tree or an error carrying a position, never as a panic.

use libfuzzer_sys::fuzz_target;
use tern::config::conf::{parse_duration, parse_str, Map, Spanned, Value};

fn check_value(value: &Spanned) {
    assert!(value.pos.line >= 1 && value.pos.col >= 1);
    match &value.value {
        Value::Map(map) => check_map(map),
        Value::Array(items) => items.iter().for_each(check_value),
        _ => {}
    }
}

fn check_map(map: &Map) {
    for (key, value) in map.iter() {
        assert!(key.pos.line >= 1 && key.pos.col >= 1);
        check_value(value);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_str(&text, "fuzz.conf") {
        Ok(map) => check_map(&map),
        Err(err) => assert!(err.pos.is_some(), "error without a position: {err}"),
    }
    let _ = parse_duration(&text);
});
