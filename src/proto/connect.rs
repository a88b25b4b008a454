//! The CONNECT options a client sends, with the reference's defaults for
//! absent fields (verbose, pedantic and echo default to true).

use serde::Deserialize;

/// What a client's CONNECT says about itself and how it signs in; a field
/// the client leaves out takes the reference's default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    /// Acknowledge each op with `+OK`.
    pub verbose: bool,
    /// Check published subjects: a PUB to one that is not a valid literal
    /// subject gets an error (and is still routed, as the reference does).
    pub pedantic: bool,
    /// The client requires TLS.
    pub tls_required: bool,
    /// Deliver the client's own messages to its own subscriptions; false
    /// skips them.
    pub echo: bool,
    /// The client takes headers: it may send HPUB and is sent HMSG.
    pub headers: bool,
    /// A request nobody subscribes to gets a 503 status message back rather
    /// than silence; needs `headers`.
    pub no_responders: bool,
    /// 0 for the original protocol; 1 also takes INFO updates at any time.
    pub protocol: i64,
    /// The client's name, shown by monitoring.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The client library's language.
    #[serde(deserialize_with = "null_as_default")]
    pub lang: String,
    /// The client library's version.
    #[serde(deserialize_with = "null_as_default")]
    pub version: String,
    /// User name, for user/password sign-in.
    #[serde(deserialize_with = "null_as_default")]
    pub user: String,
    /// Password, checked against the configured one or its bcrypt hash.
    #[serde(deserialize_with = "null_as_default")]
    pub pass: String,
    /// Token, for token sign-in.
    #[serde(deserialize_with = "null_as_default")]
    pub auth_token: String,
    /// User JWT, for sign-in under an operator.
    #[serde(deserialize_with = "null_as_default")]
    pub jwt: String,
    /// The user's public NKey.
    #[serde(deserialize_with = "null_as_default")]
    pub nkey: String,
    /// The server's nonce signed with the NKey's seed, base64url encoded.
    #[serde(deserialize_with = "null_as_default")]
    pub sig: String,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            user: String::new(),
            pass: String::new(),
            auth_token: String::new(),
            jwt: String::new(),
            nkey: String::new(),
            sig: String::new(),
        }
    }
}

/// Go's decoder leaves a field unchanged on `null`; clients such as
/// async-nats send `null` for unset strings.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Why a CONNECT is refused, with the reference's client-visible outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// Unparseable JSON or wrong types: closed without an error.
    BadJson,
    /// `-ERR 'invalid client protocol'`, then close.
    InvalidProtocol,
    /// `-ERR 'no responders requires headers support'`, then close.
    NoRespondersWithoutHeaders,
}

impl ConnectOptions {
    /// Parses CONNECT's JSON and checks it as the reference does; the error
    /// says how the client is to be told.
    pub fn parse(json: &[u8]) -> Result<Self, ConnectError> {
        // serde would also build the struct from an array; Go only from an
        // object.
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ConnectError::BadJson);
        }
        let opts: ConnectOptions =
            serde_json::from_slice(json).map_err(|_| ConnectError::BadJson)?;
        if !(0..=1).contains(&opts.protocol) {
            return Err(ConnectError::InvalidProtocol);
        }
        if opts.no_responders && !opts.headers {
            return Err(ConnectError::NoRespondersWithoutHeaders);
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_absent() {
        let o = ConnectOptions::parse(b"{}").unwrap();
        assert!(o.verbose && o.pedantic && o.echo && !o.headers);
    }

    #[test]
    fn async_nats_style_nulls() {
        let o = ConnectOptions::parse(
            br#"{"verbose":false,"pedantic":false,"jwt":null,"nkey":null,"sig":null,"name":null,"echo":true,"lang":"rust","version":"0.51.0","protocol":1,"tls_required":false,"user":null,"pass":null,"auth_token":null,"headers":true,"no_responders":true}"#,
        )
        .unwrap();
        assert!(!o.verbose && o.headers && o.no_responders && o.protocol == 1);
        assert_eq!(o.lang, "rust");
    }

    #[test]
    fn refusals() {
        let cases: &[(&[u8], ConnectError)] = &[
            (b"{", ConnectError::BadJson),
            (b"[]", ConnectError::BadJson),
            (b"", ConnectError::BadJson),
            (br#"{"verbose":false} trailing"#, ConnectError::BadJson),
            (br#"{"verbose":"yes"}"#, ConnectError::BadJson),
            (br#"{"protocol":2}"#, ConnectError::InvalidProtocol),
            (
                br#"{"no_responders":true}"#,
                ConnectError::NoRespondersWithoutHeaders,
            ),
        ];
        for (json, want) in cases {
            assert_eq!(ConnectOptions::parse(json).unwrap_err(), *want);
        }
    }
}
