//! Client authentication as configured (`authorization { }`, `--user`,
//! `--pass`, `--auth`): a token, or users with passwords, each plain or a
//! bcrypt hash, and `no_auth_user` for clients that bring no credentials.

use std::sync::Arc;

use crate::client::connect::ConnectOptions;
use crate::permissions::Permissions;

/// A configured secret: compared in constant time when plain, verified
/// against the hash when it is a bcrypt one (`$2a$...`, as the reference
/// tells them apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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

/// A user who signs in with a name and a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: Secret,
    /// Its own permissions; none: the block's `default_permissions`.
    pub permissions: Option<Arc<Permissions>>,
}

impl User {
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> User {
        User {
            name: name.into(),
            password: Secret::new(password.into()),
            permissions: None,
        }
    }
}

/// How clients prove who they are. Empty: anyone may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    pub token: Option<Secret>,
    pub users: Vec<User>,
    /// The user a client without credentials is taken to be.
    pub no_auth_user: Option<String>,
    /// Permissions of users that have none of their own.
    pub default_permissions: Option<Arc<Permissions>>,
}

/// Why a client was refused (all answered `Authorization Violation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    BadToken,
    UnknownUser,
    BadPassword,
}

impl Auth {
    /// Whether clients must authenticate.
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty()
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

    /// Checks a CONNECT's credentials; the user it signs in as, if any.
    pub fn check(&self, opts: &ConnectOptions) -> Result<Option<&User>, AuthError> {
        if let Some(token) = &self.token {
            return if token.matches(&opts.auth_token) {
                Ok(None)
            } else {
                Err(AuthError::BadToken)
            };
        }
        if self.users.is_empty() {
            return Ok(None);
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
        let user = self
            .users
            .iter()
            .find(|u| u.name == opts.user)
            .ok_or(AuthError::UnknownUser)?;
        if user.password.matches(&opts.pass) {
            Ok(Some(user))
        } else {
            Err(AuthError::BadPassword)
        }
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
            assert!(auth.check(&connect(r#"{"auth_token":"s3cr3t"}"#)).is_ok());
            assert_eq!(
                auth.check(&connect(r#"{"auth_token":"nope"}"#)),
                Err(AuthError::BadToken)
            );
            assert_eq!(auth.check(&connect("{}")), Err(AuthError::BadToken));
        }
    }

    #[test]
    fn users_plain_and_bcrypt() {
        let auth = users();
        let alice = auth.check(&connect(r#"{"user":"alice","pass":"pw"}"#));
        assert_eq!(alice.unwrap().unwrap().name, "alice");
        let bob = auth.check(&connect(r#"{"user":"bob","pass":"secret"}"#));
        assert_eq!(bob.unwrap().unwrap().name, "bob");
        assert_eq!(
            auth.check(&connect(r#"{"user":"bob","pass":"pw"}"#)),
            Err(AuthError::BadPassword)
        );
        assert_eq!(
            auth.check(&connect(r#"{"user":"carol","pass":"pw"}"#)),
            Err(AuthError::UnknownUser)
        );
        assert_eq!(auth.check(&connect("{}")), Err(AuthError::UnknownUser));
    }

    #[test]
    fn no_auth_user_only_without_credentials() {
        let mut auth = users();
        auth.no_auth_user = Some("alice".into());
        assert_eq!(auth.check(&connect("{}")).unwrap().unwrap().name, "alice");
        assert_eq!(
            auth.check(&connect(r#"{"user":"bob","pass":"x"}"#)),
            Err(AuthError::BadPassword)
        );
    }

    #[test]
    fn open_when_nothing_is_configured() {
        let auth = Auth::default();
        assert!(!auth.required());
        assert!(auth.check(&connect(r#"{"user":"x"}"#)).is_ok());
    }
}
