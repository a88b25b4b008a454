//! The config file parser and the options built from it: any text gets
//! options or an error naming the problem, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Includes and file references resolve under an empty directory.
    let mut opts = tern::Options::default();
    let _ = tern::config::apply_str(&mut opts, text, "/nonexistent/fuzz.conf");
});
