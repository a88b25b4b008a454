//! Client authentication as configured (`authorization { }`, `--user`,
//! `--pass`, `--auth`): a token, or users with passwords (plain or a
//! bcrypt hash) or NKeys (signing the connection's nonce), and
//! `no_auth_user` for clients that bring no credentials.

pub mod operator;

use std::borrow::Cow;
use std::sync::Arc;

use crate::nkey::{decode_signature, PublicKey};
use crate::permissions::Permissions;
use crate::proto::connect::ConnectOptions;

/// A configured secret: compared in constant time when plain, verified
/// against the hash when it is a bcrypt one (`$2a$...`, as the reference
/// tells them apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret as configured: plain text, or a bcrypt hash.
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    /// `$2a$`, `$2b$`, `$2x$` or `$2y$`, two digits of cost, `$`: what
    /// the reference takes for a bcrypt hash.
    fn is_bcrypt(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() > 7
            && b.starts_with(b"$2")
            && matches!(b[2], b'a' | b'b' | b'x' | b'y')
            && b[3] == b'$'
            && b[4].is_ascii_digit()
            && b[5].is_ascii_digit()
            && b[6] == b'$'
    }

    /// Whether `given` (what a client sent) is this secret.
    pub fn matches(&self, given: &str) -> bool {
        if self.is_bcrypt() {
            return bcrypt::verify(given, &self.0).unwrap_or(false);
        }
        constant_time_eq(self.0.as_bytes(), given.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A user who signs in with a name and a password, or with an NKey (then
/// `name` is the public key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name; for an NKey user, its public key.
    pub name: String,
    /// The password; empty for NKey and JWT users.
    pub password: Secret,
    /// Set for an NKey user: the key that must sign the nonce.
    pub nkey: Option<PublicKey>,
    /// Its own permissions; none: the block's `default_permissions`.
    pub permissions: Option<Arc<Permissions>>,
    /// The account it signs in to; none: the default `$G`.
    pub account: Option<String>,
    /// Signed in with a user JWT (operator mode).
    pub from_jwt: bool,
    /// At most this many subscriptions per connection (JWT `subs`).
    pub max_subscriptions: Option<usize>,
    /// At most this many connections in its account (JWT `conn`).
    pub max_connections: Option<usize>,
    /// Payloads at most this big (JWT `payload`, the user's or its
    /// account's, whichever is lower).
    pub max_payload: Option<usize>,
    /// Its account's JetStream, as the account JWT enables it (operator
    /// mode; configured accounts carry theirs in the config).
    pub account_jetstream: Option<crate::account::AccountJetStream>,
}

impl User {
    /// A user signing in with `name` and `password`, in `$G`, with the
    /// default permissions and no limits of its own.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> User {
        User {
            name: name.into(),
            password: Secret::new(password.into()),
            nkey: None,
            permissions: None,
            account: None,
            from_jwt: false,
            max_subscriptions: None,
            max_connections: None,
            max_payload: None,
            account_jetstream: None,
        }
    }

    /// An NKey user: `public` is its encoded key, `key` that key decoded.
    pub fn with_nkey(public: impl Into<String>, key: PublicKey) -> User {
        User {
            nkey: Some(key),
            ..User::new(public, "")
        }
    }

    /// How the reference names the user in log lines.
    pub fn label(&self) -> String {
        if self.from_jwt {
            format!("JWT User {:?}", self.name)
        } else if self.nkey.is_some() {
            format!("Nkey {:?}", self.name)
        } else {
            format!("User {:?}", self.name)
        }
    }
}

/// How clients prove who they are. Empty: anyone may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// `authorization { token }`, `--auth`: the token every client must
    /// send; when set, users are not consulted.
    pub token: Option<Secret>,
    /// The configured users, from `authorization { users }`, the accounts'
    /// `users` and `--user/--pass`.
    pub users: Vec<User>,
    /// The user a client without credentials is taken to be.
    pub no_auth_user: Option<String>,
    /// Permissions of users that have none of their own.
    pub default_permissions: Option<Arc<Permissions>>,
    /// Operator mode: users bring JWTs of accounts these operators trust.
    pub trust: Option<crate::auth::operator::Trust>,
}

/// Why a client was refused (all answered `Authorization Violation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The CONNECT's `auth_token` is not the configured token.
    BadToken,
    /// No user by the CONNECT's name (or certificate), or no credentials
    /// where some are needed.
    UnknownUser,
    /// The user exists; the password does not match.
    BadPassword,
    /// No user has the CONNECT's NKey.
    UnknownNkey,
    /// An NKey user without a signature, or one that is not base64.
    MissingSignature,
    /// The NKey signature of the nonce does not verify.
    BadSignature,
    /// A user JWT that does not decode or verify.
    BadJwt,
    /// The JWT's account is not found by the resolver.
    UnknownAccount,
    /// The account (or user) JWT's issuer is not trusted.
    UntrustedAccount,
    /// The user or account JWT has expired.
    Expired,
    /// The account JWT revokes the user's key.
    Revoked,
}

/// How the reference names, in its log line, whoever a refused CONNECT
/// claimed to be (`None`: it claimed nothing).
pub fn claimed_identity(opts: &ConnectOptions) -> Option<String> {
    if !opts.jwt.is_empty() {
        let subject = crate::jwt::decode(&opts.jwt, crate::jwt::ClaimKind::User)
            .map(|c| c.sub)
            .unwrap_or_default();
        Some(format!("JWT User {subject:?}"))
    } else if !opts.nkey.is_empty() {
        Some(format!("Nkey {:?}", opts.nkey))
    } else if !opts.user.is_empty() {
        Some(format!("User {:?}", opts.user))
    } else if !opts.auth_token.is_empty() {
        Some("Token \"[REDACTED]\"".to_string())
    } else {
        None
    }
}

impl Auth {
    /// Whether clients must authenticate.
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || self.trust.is_some()
    }

    /// Whether INFO carries a nonce for NKey users to sign.
    pub fn nonce_required(&self) -> bool {
        self.trust.is_some() || self.users.iter().any(|u| u.nkey.is_some())
    }

    /// INFO's `auth_required`: not when a no-auth user lets clients in
    /// without credentials (the reference clears it then, though the auth
    /// timeout still runs).
    pub fn advertised(&self) -> bool {
        self.required() && self.no_auth_user.is_none()
    }

    /// The no-auth user, when it names a configured user.
    pub fn no_auth_user(&self) -> Option<&User> {
        let name = self.no_auth_user.as_deref()?;
        self.users.iter().find(|u| u.name == name)
    }

    /// What a signed-in user may do (`None`: anything).
    pub fn permissions_of(&self, user: Option<&User>) -> Option<Arc<Permissions>> {
        user.and_then(|u| u.permissions.clone())
            .or_else(|| self.default_permissions.clone())
    }

    /// Checks a CONNECT's credentials against the connection's `nonce`;
    /// the user it signs in as, if any. NKeys are tried first, then user
    /// names, as the reference does.
    pub fn check(
        &self,
        opts: &ConnectOptions,
        nonce: &str,
    ) -> Result<Option<Cow<'_, User>>, AuthError> {
        if let Some(trust) = &self.trust {
            if !opts.jwt.is_empty() {
                return trust.check(opts, nonce).map(|u| Some(Cow::Owned(u)));
            }
        }
        self.check_configured(opts, nonce)
            .map(|u| u.map(Cow::Borrowed))
    }

    /// Checks against the configured token, users and NKeys.
    fn check_configured(
        &self,
        opts: &ConnectOptions,
        nonce: &str,
    ) -> Result<Option<&User>, AuthError> {
        if let Some(token) = &self.token {
            return if token.matches(&opts.auth_token) {
                Ok(None)
            } else {
                Err(AuthError::BadToken)
            };
        }
        if self.users.is_empty() {
            return if self.trust.is_some() {
                Err(AuthError::UnknownUser)
            } else {
                Ok(None)
            };
        }
        let brings_nothing = opts.user.is_empty()
            && opts.pass.is_empty()
            && opts.auth_token.is_empty()
            && opts.nkey.is_empty()
            && opts.jwt.is_empty();
        if brings_nothing {
            if let Some(user) = self.no_auth_user() {
                return Ok(Some(user));
            }
        }
        if !opts.nkey.is_empty() && self.nonce_required() {
            let user = self
                .users
                .iter()
                .find(|u| u.nkey.is_some() && u.name == opts.nkey)
                .ok_or(AuthError::UnknownNkey)?;
            return verify_nonce(user, opts, nonce).map(|()| Some(user));
        }
        let user = self
            .users
            .iter()
            .find(|u| u.nkey.is_none() && u.name == opts.user)
            .ok_or(AuthError::UnknownUser)?;
        if user.password.matches(&opts.pass) {
            Ok(Some(user))
        } else {
            Err(AuthError::BadPassword)
        }
    }
}

impl Auth {
    /// `verify_and_map`: the user a client certificate names, tried as the
    /// reference tries them: e-mail SANs, then DNS SANs, then URI SANs as
    /// user names, then the subject as a DN matching a user name that is
    /// one, then the subject's RFC 2253 string. The user's password, if it
    /// has one, must still match the CONNECT's.
    pub(crate) fn check_cert(
        &self,
        names: &crate::cert::CertNames,
        opts: &ConnectOptions,
    ) -> Result<&User, AuthError> {
        let by_name = |n: &str| self.users.iter().find(|u| u.nkey.is_none() && u.name == n);
        let sans = [&names.emails, &names.dns, &names.uris];
        let found = sans
            .iter()
            .find(|list| !list.is_empty())
            .and_then(|list| list.iter().find_map(|n| by_name(n)))
            .or_else(|| {
                self.users
                    .iter()
                    .filter(|u| u.nkey.is_none())
                    .find(|u| names.subject_matches(&u.name))
            })
            .or_else(|| by_name(&names.subject_rfc2253()))
            .ok_or(AuthError::UnknownUser)?;
        if found.password.matches(&opts.pass) || found.password.0.is_empty() {
            Ok(found)
        } else {
            Err(AuthError::BadPassword)
        }
    }
}

/// The NKey user's signature of the nonce, checked.
fn verify_nonce(user: &User, opts: &ConnectOptions, nonce: &str) -> Result<(), AuthError> {
    let Some(key) = &user.nkey else {
        return Err(AuthError::UnknownNkey);
    };
    if opts.sig.is_empty() {
        return Err(AuthError::MissingSignature);
    }
    let sig = decode_signature(&opts.sig).ok_or(AuthError::MissingSignature)?;
    if key.verify(nonce.as_bytes(), &sig) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(json: &str) -> ConnectOptions {
        ConnectOptions::parse(json.as_bytes()).unwrap()
    }

    fn users() -> Auth {
        Auth {
            token: None,
            users: vec![
                User::new("alice", "pw"),
                // bcrypt of "secret", cost 4.
                User::new("bob", bcrypt::hash("secret", 4).unwrap()),
            ],
            ..Auth::default()
        }
    }

    #[test]
    fn token_plain_and_bcrypt() {
        for secret in ["s3cr3t".to_string(), bcrypt::hash("s3cr3t", 4).unwrap()] {
            let auth = Auth {
                token: Some(Secret::new(secret)),
                ..Auth::default()
            };
            assert!(auth.required());
            assert!(auth
                .check(&connect(r#"{"auth_token":"s3cr3t"}"#), "")
                .is_ok());
            assert_eq!(
                auth.check(&connect(r#"{"auth_token":"nope"}"#), ""),
                Err(AuthError::BadToken)
            );
            assert_eq!(auth.check(&connect("{}"), ""), Err(AuthError::BadToken));
        }
    }

    #[test]
    fn users_plain_and_bcrypt() {
        let auth = users();
        let alice = auth.check(&connect(r#"{"user":"alice","pass":"pw"}"#), "");
        assert_eq!(alice.unwrap().unwrap().name, "alice");
        let bob = auth.check(&connect(r#"{"user":"bob","pass":"secret"}"#), "");
        assert_eq!(bob.unwrap().unwrap().name, "bob");
        assert_eq!(
            auth.check(&connect(r#"{"user":"bob","pass":"pw"}"#), ""),
            Err(AuthError::BadPassword)
        );
        assert_eq!(
            auth.check(&connect(r#"{"user":"carol","pass":"pw"}"#), ""),
            Err(AuthError::UnknownUser)
        );
        assert_eq!(auth.check(&connect("{}"), ""), Err(AuthError::UnknownUser));
    }

    #[test]
    fn no_auth_user_only_without_credentials() {
        let mut auth = users();
        auth.no_auth_user = Some("alice".into());
        assert_eq!(
            auth.check(&connect("{}"), "").unwrap().unwrap().name,
            "alice"
        );
        assert_eq!(
            auth.check(&connect(r#"{"user":"bob","pass":"x"}"#), ""),
            Err(AuthError::BadPassword)
        );
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        use base64::Engine;
        use ring::signature::{Ed25519KeyPair, KeyPair};
        let kp = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
        let raw: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        let public = crate::nkey::encode_public(crate::nkey::KeyKind::User, &raw);
        let key = PublicKey::decode(&public, crate::nkey::KeyKind::User).unwrap();
        let mut auth = users();
        auth.users.push(User::with_nkey(public.clone(), key));
        assert!(auth.nonce_required());
        let nonce = crate::nkey::new_nonce();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(kp.sign(nonce.as_bytes()).as_ref());
        let good = format!(r#"{{"nkey":"{public}","sig":"{sig}"}}"#);
        let user = auth.check(&connect(&good), &nonce).unwrap().unwrap();
        assert_eq!(user.label(), format!("Nkey {public:?}"));
        assert_eq!(
            auth.check(&connect(&good), "another nonce"),
            Err(AuthError::BadSignature)
        );
        let unsigned = format!(r#"{{"nkey":"{public}"}}"#);
        assert_eq!(
            auth.check(&connect(&unsigned), &nonce),
            Err(AuthError::MissingSignature)
        );
        let stranger = r#"{"nkey":"UAAAA","sig":"AAAA"}"#;
        assert_eq!(
            auth.check(&connect(stranger), &nonce),
            Err(AuthError::UnknownNkey)
        );
        // Password users still sign in beside NKey users.
        assert!(auth
            .check(&connect(r#"{"user":"alice","pass":"pw"}"#), &nonce)
            .is_ok());
        // A no-auth NKey user needs no signature.
        auth.no_auth_user = Some(public.clone());
        assert_eq!(
            auth.check(&connect("{}"), &nonce).unwrap().unwrap().name,
            public
        );
    }

    #[test]
    fn open_when_nothing_is_configured() {
        let auth = Auth::default();
        assert!(!auth.required());
        assert!(auth.check(&connect(r#"{"user":"x"}"#), "").is_ok());
    }
}
