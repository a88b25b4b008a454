//! Operator mode (decentralised auth, what `nsc` sets up): the server
//! trusts operator JWTs; accounts are account JWTs the operator (or one of
//! its signing keys) issued, found through the resolver (preloaded in
//! memory, or `<pubkey>.jwt` files in a directory); users bring a user JWT
//! their account (or its signing keys) issued, and sign the nonce with
//! their NKey unless the JWT is a bearer token. Each account is its own
//! subject space, named by its public key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::{AuthError, User};
use crate::account::AccountJetStream;
use crate::jwt::{self, ClaimKind, Claims};
use crate::nkey::{decode_signature, KeyKind, PublicKey};
use crate::permissions::{Entry, Permissions, ResponseRule, Rules};
use crate::proto::connect::ConnectOptions;

/// Where account JWTs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolver {
    /// `resolver: MEMORY`: only `resolver_preload`.
    Memory,
    /// `resolver { type: full|cache, dir }`: `<dir>/<account>.jwt`, then
    /// the preloads.
    Dir(PathBuf),
}

/// The trusted operators and how accounts are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// Keys whose account JWTs are trusted: each operator and its signing
    /// keys.
    pub keys: Vec<String>,
    /// The operator's system account, when it names one.
    pub system_account: Option<String>,
    /// Where account JWTs are looked up.
    pub resolver: Resolver,
    /// `resolver_preload`: account public key to JWT.
    pub preload: HashMap<String, String>,
}

/// Why an operator JWT or the trust setup is refused (config errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustError(pub String);

impl Trust {
    /// Reads an operator JWT from a file or inline text.
    pub fn operator(source: &str) -> Result<(Vec<String>, Option<String>), TrustError> {
        let text = match std::fs::read_to_string(source) {
            Ok(t) => t,
            Err(e) if !source.trim_start().starts_with("eyJ") => {
                return Err(TrustError(format!(
                    "error parsing operator JWT: open {source}: {}",
                    if e.kind() == std::io::ErrorKind::NotFound {
                        "no such file or directory".to_string()
                    } else {
                        e.to_string()
                    }
                )))
            }
            Err(_) => source.to_string(),
        };
        let claims = jwt::decode(jwt::undecorate(&text), ClaimKind::Operator)
            .map_err(|e| TrustError(format!("error parsing operator JWT: {e}")))?;
        let mut keys = vec![claims.sub.clone()];
        keys.extend(signing_keys(&claims.nats));
        let system = claims.nats_str("system_account").map(str::to_string);
        Ok((keys, system))
    }

    /// The account's claims, if its JWT is found, issued by a trusted key
    /// and current.
    pub fn account(&self, public: &str) -> Result<Claims, AuthError> {
        let token = match &self.resolver {
            Resolver::Dir(dir) => std::fs::read_to_string(dir.join(format!("{public}.jwt")))
                .ok()
                .or_else(|| self.preload.get(public).cloned()),
            Resolver::Memory => self.preload.get(public).cloned(),
        }
        .ok_or(AuthError::UnknownAccount)?;
        let claims = jwt::decode(jwt::undecorate(&token), ClaimKind::Account)
            .map_err(|_| AuthError::BadJwt)?;
        if claims.sub != public || !self.keys.contains(&claims.iss) {
            return Err(AuthError::UntrustedAccount);
        }
        if claims.expired(jwt::now()) {
            return Err(AuthError::Expired);
        }
        Ok(claims)
    }

    /// Checks a CONNECT carrying a user JWT against the connection's
    /// nonce: the user it signs in as, in its account.
    pub fn check(&self, opts: &ConnectOptions, nonce: &str) -> Result<User, AuthError> {
        if opts.jwt.is_empty() {
            return Err(AuthError::UnknownUser);
        }
        let user = jwt::decode(&opts.jwt, ClaimKind::User).map_err(|_| AuthError::BadJwt)?;
        let now = jwt::now();
        if user.expired(now) {
            return Err(AuthError::Expired);
        }
        // Issued by the account itself, or by one of its signing keys
        // (then `issuer_account` names the account).
        let account_key = user
            .nats_str("issuer_account")
            .unwrap_or(&user.iss)
            .to_string();
        let account = self.account(&account_key)?;
        if user.iss != account.sub && !signing_keys(&account.nats).any(|k| k == user.iss) {
            return Err(AuthError::UntrustedAccount);
        }
        if revoked(&account.nats, &user) {
            return Err(AuthError::Revoked);
        }
        let bearer = user.nats.get("bearer_token").and_then(Value::as_bool) == Some(true);
        if !bearer {
            let key = PublicKey::decode(&user.sub, KeyKind::User).map_err(|_| AuthError::BadJwt)?;
            let sig = decode_signature(&opts.sig).ok_or(AuthError::MissingSignature)?;
            if !key.verify(nonce.as_bytes(), &sig) {
                return Err(AuthError::BadSignature);
            }
        }
        let mut signed_in = User::new(user.sub.clone(), "");
        signed_in.from_jwt = true;
        signed_in.account = Some(account.sub.clone());
        signed_in.permissions = permissions(&user.nats)
            .or_else(|| {
                account
                    .nats
                    .get("default_permissions")
                    .and_then(permissions_of)
            })
            .map(Arc::new);
        // Limits as the reference reads them: negative is unlimited, and
        // a limit the JWT leaves out is zero (nsc always writes -1).
        let account_limits = account.nats.get("limits");
        signed_in.max_subscriptions = min_limit(
            limit_or_zero(Some(&user.nats), "subs"),
            limit_or_zero(account_limits, "subs"),
        );
        signed_in.max_payload = min_limit(
            limit_or_zero(Some(&user.nats), "payload"),
            limit_or_zero(account_limits, "payload"),
        );
        signed_in.max_connections = limit_or_zero(account_limits, "conn");
        signed_in.account_jetstream = account_jetstream(&account.nats);
        Ok(signed_in)
    }
}

/// The account JWT's JetStream limits: enabled when it grants memory or
/// disk storage (`limits`, or the R1 tier of `tiered_limits`), as the
/// reference reads them. Negative values are unlimited.
fn account_jetstream(nats: &Value) -> Option<AccountJetStream> {
    let tiers = [
        nats.get("limits"),
        nats.get("tiered_limits").and_then(|t| t.get("R1")),
    ];
    tiers.into_iter().flatten().find_map(|l| {
        let n = |k: &str| l.get(k).and_then(Value::as_i64);
        let (mem, disk) = (
            n("mem_storage").unwrap_or(0),
            n("disk_storage").unwrap_or(0),
        );
        (mem != 0 || disk != 0).then(|| AccountJetStream {
            max_memory: Some(mem),
            max_storage: Some(disk),
            max_streams: n("streams"),
            max_consumers: n("consumer"),
            max_bytes_required: l
                .get("max_bytes_required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            memory_max_stream_bytes: n("mem_max_stream_bytes"),
            storage_max_stream_bytes: n("disk_max_stream_bytes"),
            max_ack_pending: n("max_ack_pending"),
        })
    })
}

/// Signing keys: plain keys, or scoped ones (`{"key": ...}`).
fn signing_keys(nats: &Value) -> impl Iterator<Item = String> + '_ {
    nats.get("signing_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| {
            k.as_str()
                .or_else(|| k.get("key").and_then(Value::as_str))
                .map(str::to_string)
        })
}

/// The account revoked the user (or everyone, `*`) at or after the time
/// the user's JWT was issued.
fn revoked(nats: &Value, user: &Claims) -> bool {
    let Some(revocations) = nats.get("revocations").and_then(Value::as_object) else {
        return false;
    };
    [user.sub.as_str(), "*"].iter().any(|k| {
        revocations
            .get(*k)
            .and_then(Value::as_i64)
            .is_some_and(|at| user.iat <= at)
    })
}

/// A JWT limit: `None` when unlimited (negative), zero when left out.
fn limit_or_zero(v: Option<&Value>, key: &str) -> Option<usize> {
    match v.and_then(|v| v.get(key)).and_then(Value::as_i64) {
        None => Some(0),
        Some(n) => usize::try_from(n).ok(),
    }
}

/// The lower of two limits (`None`: unlimited).
fn min_limit(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A user JWT's `pub`/`sub`/`resp`, if any is set.
fn permissions(nats: &Value) -> Option<Permissions> {
    let p = permissions_of(nats)?;
    let empty = p.publish.allow.is_none()
        && p.publish.deny.is_empty()
        && p.subscribe.allow.is_none()
        && p.subscribe.deny.is_empty()
        && p.responses.is_none();
    (!empty).then_some(p)
}

fn permissions_of(v: &Value) -> Option<Permissions> {
    let rules = |key: &str| {
        let r = v.get(key);
        let list = |k: &str| -> Vec<Entry> {
            r.and_then(|r| r.get(k))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(Entry::parse)
                .collect()
        };
        let allow = list("allow");
        Rules {
            allow: (!allow.is_empty()).then_some(allow),
            deny: list("deny"),
        }
    };
    let responses = v.get("resp").map(|r| ResponseRule {
        max: r.get("max").and_then(Value::as_u64).map_or(1, |m| m as u32),
        expires: std::time::Duration::from_nanos(r.get("ttl").and_then(Value::as_u64).unwrap_or(0)),
    });
    Some(Permissions {
        publish: rules("pub"),
        subscribe: rules("sub"),
        responses,
    })
}
