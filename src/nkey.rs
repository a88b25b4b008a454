//! NKeys: ed25519 public keys written as base32 with a type prefix and a
//! CRC-16 (what `nk` and `nsc` print), the nonce a client signs to prove
//! it holds the seed, and checking that signature.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{UnparsedPublicKey, ED25519};

/// The first byte of an encoded key says what it is a key of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// An operator's key (encoded with a leading `O`).
    Operator,
    /// An account's key (leading `A`).
    Account,
    /// A user's key (leading `U`).
    User,
    /// A server's key (leading `N`).
    Server,
}

impl KeyKind {
    fn prefix(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
        }
    }
}

/// Why an encoded key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base32, or not prefix + 32 bytes + CRC in length.
    Encoding,
    /// The CRC-16 at the end does not match the key.
    Checksum,
    /// A valid key of another kind (an account key where a user's was due).
    WrongKind,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyError::Encoding => "invalid encoding",
            KeyError::Checksum => "invalid checksum",
            KeyError::WrongKind => "invalid public key type",
        })
    }
}

/// A public key of a known kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Decodes `text` as a public key of `kind`.
    pub fn decode(text: &str, kind: KeyKind) -> Result<PublicKey, KeyError> {
        let raw = base32_decode(text.as_bytes()).ok_or(KeyError::Encoding)?;
        if raw.len() != 35 {
            return Err(KeyError::Encoding);
        }
        let (body, crc) = raw.split_at(33);
        if crc16(body).to_le_bytes() != crc {
            return Err(KeyError::Checksum);
        }
        if body[0] != kind.prefix() {
            return Err(KeyError::WrongKind);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&body[1..]);
        Ok(PublicKey(key))
    }

    /// Whether `sig` is this key's ed25519 signature of `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .is_ok()
    }
}

/// A user's seed (`SU...`, as a `.creds` file holds it), to sign a
/// server's nonce with: a leaf node connecting with credentials.
pub struct Seed(ring::signature::Ed25519KeyPair);

impl Seed {
    /// Decodes a seed: the seed prefix and the key kind packed into two
    /// bytes, 32 bytes of seed, the CRC-16.
    pub fn decode(text: &str) -> Result<Seed, KeyError> {
        let raw = base32_decode(text.trim().as_bytes()).ok_or(KeyError::Encoding)?;
        if raw.len() != 36 {
            return Err(KeyError::Encoding);
        }
        let (body, crc) = raw.split_at(34);
        if crc16(body).to_le_bytes() != crc {
            return Err(KeyError::Checksum);
        }
        // 18 << 3 is the seed prefix; the kind follows in the next 5 bits.
        if body[0] & 0xf8 != 18 << 3 {
            return Err(KeyError::WrongKind);
        }
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&body[2..34])
            .map(Seed)
            .map_err(|_| KeyError::Encoding)
    }

    /// The ed25519 signature of `msg`, base64url without padding, as a
    /// CONNECT's `sig` carries it.
    pub fn sign(&self, msg: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.0.sign(msg).as_ref())
    }
}

/// A signature as clients send it: base64url without padding, or (as the
/// reference also takes) standard base64.
pub fn decode_signature(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| STANDARD.decode(text))
        .ok()
}

/// The nonce a connection's INFO carries: 11 random bytes, base64url
/// without padding (15 characters), as the reference makes it.
pub fn new_nonce() -> String {
    let mut raw = [0u8; 11];
    if SystemRandom::new().fill(&mut raw).is_err() {
        // The kernel's generator failed; /dev/urandom is the same source,
        // and a time mix keeps nonces unique if that fails too.
        raw = crate::ids::random_bytes::<11>();
    }
    URL_SAFE_NO_PAD.encode(raw)
}

/// Encodes a key of `kind` (for server ids and tests).
pub fn encode_public(kind: KeyKind, key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(35);
    raw.push(kind.prefix());
    raw.extend_from_slice(key);
    let crc = crc16(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    base32_encode(&raw)
}

/// CRC-16/XMODEM, the checksum NKeys carry.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub(crate) fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The inverse of `base32_encode`; `None` on a character outside the
/// alphabet.
fn base32_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod seed_tests {
    #[test]
    fn a_seed_signs_what_its_public_key_verifies() {
        // A user made by the nkeys crate (as nsc makes them).
        let user = nkeys::KeyPair::new_user();
        let seed = super::Seed::decode(&user.seed().expect("seed")).expect("decodes");
        let sig = super::decode_signature(&seed.sign(b"nonce")).expect("sig");
        assert!(user.verify(b"nonce", &sig).is_ok());
        assert!(super::Seed::decode("SUBAD").is_err());
        // A public key is not a seed.
        assert!(super::Seed::decode(&user.public_key()).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn pair() -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap()
    }

    #[test]
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn public_keys_round_trip_and_are_checked() {
        let kp = pair();
        let key: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        let text = encode_public(KeyKind::User, &key);
        assert_eq!(text.len(), 56);
        assert!(text.starts_with('U'));
        assert_eq!(PublicKey::decode(&text, KeyKind::User), Ok(PublicKey(key)));
        assert_eq!(
            PublicKey::decode(&text, KeyKind::Account),
            Err(KeyError::WrongKind)
        );
        let mut bad = text.clone().into_bytes();
        bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            PublicKey::decode(std::str::from_utf8(&bad).unwrap(), KeyKind::User),
            Err(KeyError::Checksum)
        );
        assert_eq!(
            PublicKey::decode("U1!", KeyKind::User),
            Err(KeyError::Encoding)
        );
        assert_eq!(
            PublicKey::decode("", KeyKind::User),
            Err(KeyError::Encoding)
        );
    }

    #[test]
    fn signatures_of_the_nonce() {
        let kp = pair();
        let key: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        let public = PublicKey::decode(&encode_public(KeyKind::User, &key), KeyKind::User).unwrap();
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        assert_ne!(nonce, new_nonce());
        let sig = kp.sign(nonce.as_bytes());
        let url = URL_SAFE_NO_PAD.encode(sig.as_ref());
        let std = STANDARD.encode(sig.as_ref());
        for text in [url, std] {
            let sig = decode_signature(&text).unwrap();
            assert!(public.verify(nonce.as_bytes(), &sig));
            assert!(!public.verify(b"another nonce", &sig));
        }
        assert!(decode_signature("not base64 !").is_none());
    }
}
