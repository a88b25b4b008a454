//! JWTs and `.creds` files as nsc makes them, for operator-mode tests.

use serde_json::{json, Value};

/// A JWT of `kind` for `sub`, signed by `issuer`.
pub fn issue(
    issuer: &nkeys::KeyPair,
    sub: &str,
    kind: &str,
    nats: Value,
    exp: Option<i64>,
) -> String {
    let mut nats = nats;
    nats["type"] = json!(kind);
    nats["version"] = json!(2);
    let mut claims = json!({
        "jti": format!("{kind}-{sub}"),
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "name": kind,
        "sub": sub,
        "nats": nats,
    });
    if let Some(exp) = exp {
        claims["exp"] = json!(exp);
    }
    tern::jwt::encode(&claims, |b| issuer.sign(b).unwrap())
}

/// A `.creds` file's text.
pub fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}
