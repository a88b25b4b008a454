//! JWTs and creds files: decoding, undecorating, and the NKey and
//! signature decoding behind them, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::jwt::{decode, undecorate, ClaimKind};
use tern::nkey::{decode_signature, KeyKind, PublicKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let token = undecorate(text);
    for kind in [ClaimKind::Operator, ClaimKind::Account, ClaimKind::User] {
        if let Ok(claims) = decode(token, kind) {
            let _ = claims.expired(0);
        }
    }
    for kind in [KeyKind::Operator, KeyKind::Account, KeyKind::User] {
        let _ = PublicKey::decode(text, kind);
    }
    let _ = decode_signature(text);
});
