//! The INFO a client receives, and the server's identity.

use serde::Serialize;

use crate::config::options::{API_LEVEL, NATS_VERSION, TERN_VERSION};

/// INFO fields in the reference's order; `None` fields are left out as the
/// reference's `omitempty` does.
#[derive(Serialize)]
pub struct Info<'a> {
    pub server_id: &'a str,
    pub server_name: &'a str,
    pub version: &'static str,
    pub proto: u8,
    pub go: &'static str,
    pub host: &'a str,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_available: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<bool>,
    pub client_id: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub client_ip: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    /// The cluster's name, when the server has routes configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Client URLs of this server and the others of its cluster, so
    /// clients learn where else to go.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_info: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acc_is_sys: Option<bool>,
    pub api_lvl: u32,
    /// tern's own version; clients ignore fields they do not know.
    pub tern_version: &'static str,
}

impl<'a> Info<'a> {
    pub fn new(server_id: &'a str, server_name: &'a str, host: &'a str, port: u16) -> Self {
        Info {
            server_id,
            server_name,
            version: NATS_VERSION,
            proto: 1,
            go: "tern",
            host,
            port,
            headers: true,
            auth_required: false,
            tls_required: false,
            tls_verify: false,
            tls_available: false,
            max_payload: 0,
            jetstream: None,
            client_id: 0,
            client_ip: "",
            nonce: None,
            cluster: None,
            connect_urls: Vec::new(),
            ldm: None,
            connect_info: None,
            remote_account: None,
            acc_is_sys: None,
            api_lvl: API_LEVEL,
            tern_version: TERN_VERSION,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A server id in the form of an NKey server public key (`N` + 55 base32
/// characters), as clients and tools expect: prefix byte, 32 random bytes,
/// CRC-16 of those, base32 without padding.
pub fn new_server_id() -> String {
    crate::nkey::encode_public(
        crate::nkey::KeyKind::Server,
        &crate::ids::random_bytes::<32>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_shape() {
        let id = new_server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert_ne!(id, new_server_id());
    }
}
