//! NATS JWTs (what `nsc` issues): `header.claims.signature`, base64url,
//! signed with ed25519 by the issuer's NKey. Operators vouch for
//! accounts, accounts (or their signing keys) for users. Decoding checks
//! the shape and the signature; whether the issuer is trusted, expiry and
//! revocation are the caller's to check (see `operator`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::nkey::{KeyKind, PublicKey};

/// What a JWT is about (`nats.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimKind {
    /// An operator: issues account JWTs; trusted through the config.
    Operator,
    /// An account: issues user JWTs; its subject is its own subject space.
    Account,
    /// A user: signs in to the account that issued it.
    User,
}

impl ClaimKind {
    fn name(self) -> &'static str {
        match self {
            ClaimKind::Operator => "operator",
            ClaimKind::Account => "account",
            ClaimKind::User => "user",
        }
    }

    fn subject_kind(self) -> KeyKind {
        match self {
            ClaimKind::Operator => KeyKind::Operator,
            ClaimKind::Account => KeyKind::Account,
            ClaimKind::User => KeyKind::User,
        }
    }
}

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    Malformed(&'static str),
    /// The header names another algorithm or type.
    Header,
    /// `iss` is not a public key that can sign this kind of claim.
    Issuer,
    /// `sub` is not a public key of the claim's kind.
    Subject,
    /// The signature does not verify with the issuer's key.
    Signature,
    /// `nats.type` is not the kind asked for.
    WrongKind,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed(what) => write!(f, "invalid JWT: {what}"),
            JwtError::Header => f.write_str("invalid JWT header"),
            JwtError::Issuer => f.write_str("invalid issuer"),
            JwtError::Subject => f.write_str("invalid subject"),
            JwtError::Signature => f.write_str("claim failed V1 signature verification"),
            JwtError::WrongKind => f.write_str("not the expected claim type"),
        }
    }
}

impl std::error::Error for JwtError {}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// The registered claims, and the NATS-specific ones as JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The JWT's id (`jti`): a hash of its claims.
    #[serde(default)]
    pub jti: String,
    /// Issued at, Unix seconds.
    #[serde(default)]
    pub iat: i64,
    /// The issuer's public key (`iss`), which signed it.
    #[serde(default)]
    pub iss: String,
    /// A name for people, not used to match anything.
    #[serde(default)]
    pub name: String,
    /// The public key the JWT is about (`sub`): the operator, account or user.
    #[serde(default)]
    pub sub: String,
    /// Expiry, Unix seconds; 0: none.
    #[serde(default)]
    pub exp: i64,
    /// Not before, Unix seconds; 0: none.
    #[serde(default)]
    pub nbf: i64,
    /// The NATS claims (`nats`): type, limits, permissions, signing keys, as
    /// issued.
    #[serde(default)]
    pub nats: Value,
}

impl Claims {
    /// Whether the claims are outside their validity window at `now`.
    pub fn expired(&self, now: i64) -> bool {
        (self.exp > 0 && now >= self.exp) || (self.nbf > 0 && now < self.nbf)
    }

    /// A string field of `nats`.
    pub fn nats_str(&self, key: &str) -> Option<&str> {
        self.nats
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// Decodes a JWT of `kind` and checks its signature by its issuer.
pub fn decode(token: &str, kind: ClaimKind) -> Result<Claims, JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected 3 chunks"));
    };
    let header: Header = part_json(h).ok_or(JwtError::Malformed("header"))?;
    let alg_ok = header.alg.eq_ignore_ascii_case("ed25519-nkey")
        || header.alg.eq_ignore_ascii_case("ed25519");
    if !header.typ.eq_ignore_ascii_case("JWT") || !alg_ok {
        return Err(JwtError::Header);
    }
    let claims: Claims = part_json(c).ok_or(JwtError::Malformed("claims"))?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Malformed("signature"))?;
    let issuer = issuer_key(&claims.iss, kind).ok_or(JwtError::Issuer)?;
    let signed = &token[..h.len() + 1 + c.len()];
    if !issuer.verify(signed.as_bytes(), &sig) {
        return Err(JwtError::Signature);
    }
    if claims.nats.get("type").and_then(Value::as_str) != Some(kind.name()) {
        return Err(JwtError::WrongKind);
    }
    PublicKey::decode(&claims.sub, kind.subject_kind()).map_err(|_| JwtError::Subject)?;
    Ok(claims)
}

/// Who may issue each kind: operators themselves (self-signed) and their
/// accounts; accounts their users.
fn issuer_key(iss: &str, kind: ClaimKind) -> Option<PublicKey> {
    let issuer_kind = match kind {
        ClaimKind::Operator | ClaimKind::Account => KeyKind::Operator,
        ClaimKind::User => KeyKind::Account,
    };
    PublicKey::decode(iss, issuer_kind).ok()
}

fn part_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The JWT in a decorated file (`-----BEGIN ... JWT-----` blocks, as nsc
/// writes operator JWTs and creds files), or the text itself if it has no
/// decoration.
pub fn undecorate(text: &str) -> &str {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.starts_with("-----BEGIN") && line.contains("JWT") {
            if let Some(jwt) = lines.find(|l| !l.is_empty()) {
                return jwt;
            }
        }
    }
    text.trim()
}

/// A `.creds` file: the user JWT and the seed that signs for it.
pub fn read_creds(text: &str) -> Result<(String, crate::nkey::Seed), crate::nkey::KeyError> {
    let jwt = undecorate(text).to_string();
    let seed = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU"))
        .ok_or(crate::nkey::KeyError::Encoding)?;
    Ok((jwt, crate::nkey::Seed::decode(seed)?))
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Builds and signs a JWT: for tests and tools (the server only reads
/// them). `sign` signs the bytes with the issuer's seed.
pub fn encode(claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(sign(signed.as_bytes()));
    format!("{signed}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nkey::encode_public;
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn key(seed: u8, kind: KeyKind) -> (Ed25519KeyPair, String) {
        let kp = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        let raw: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        (kp, encode_public(kind, &raw))
    }

    #[test]
    fn decodes_and_verifies() {
        let (op, op_pub) = key(1, KeyKind::Operator);
        let (_, acc_pub) = key(2, KeyKind::Account);
        let claims = json!({"iss": op_pub, "sub": acc_pub, "iat": 1, "nats": {"type": "account", "version": 2}});
        let token = encode(&claims, |b| op.sign(b).as_ref().to_vec());
        let c = decode(&token, ClaimKind::Account).unwrap();
        assert_eq!(c.sub, acc_pub);
        assert_eq!(
            decode(&token, ClaimKind::User).unwrap_err(),
            JwtError::Issuer
        );
        assert_eq!(
            decode(&token, ClaimKind::Operator).unwrap_err(),
            JwtError::WrongKind
        );
        // Signed by another key.
        let (other, _) = key(3, KeyKind::Operator);
        let forged = encode(&claims, |b| other.sign(b).as_ref().to_vec());
        assert_eq!(
            decode(&forged, ClaimKind::Account).unwrap_err(),
            JwtError::Signature
        );
        // Tampered claims.
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(
            json!({"iss": op_pub, "sub": acc_pub, "iat": 1, "exp": 5, "nats": {"type": "account"}})
                .to_string(),
        );
        parts[1] = &evil;
        assert_eq!(
            decode(&parts.join("."), ClaimKind::Account).unwrap_err(),
            JwtError::Signature
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert!(
                matches!(
                    decode(junk, ClaimKind::Account),
                    Err(JwtError::Malformed(_))
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn expiry_window() {
        let c = Claims {
            jti: String::new(),
            iat: 0,
            iss: String::new(),
            name: String::new(),
            sub: String::new(),
            exp: 100,
            nbf: 10,
            nats: Value::Null,
        };
        assert!(c.expired(5) && !c.expired(50) && c.expired(100));
    }

    #[test]
    fn decorated_files() {
        let creds = "-----BEGIN NATS USER JWT-----\neyJ0.x.y\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUA\n------END USER NKEY SEED------\n";
        assert_eq!(undecorate(creds), "eyJ0.x.y");
        assert_eq!(undecorate("  eyJ0.a.b \n"), "eyJ0.a.b");
    }
}
