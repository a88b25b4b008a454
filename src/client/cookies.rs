//! Credentials a WebSocket client's upgrade request carried in cookies.

use crate::proto::connect::ConnectOptions;

/// Credentials a WebSocket upgrade carried in the cookies the
/// `websocket` block names: each stands in for the CONNECT field it
/// leaves empty, as in the reference.
#[derive(Debug, Clone, Default)]
pub struct CookieCredentials {
    pub jwt: String,
    pub user: String,
    pub pass: String,
    pub token: String,
}

impl CookieCredentials {
    pub(crate) fn fill(&self, opts: &mut ConnectOptions) {
        for (field, cookie) in [
            (&mut opts.jwt, &self.jwt),
            (&mut opts.user, &self.user),
            (&mut opts.pass, &self.pass),
            (&mut opts.auth_token, &self.token),
        ] {
            if field.is_empty() {
                field.clone_from(cookie);
            }
        }
    }
}
