//! The INFO and CONNECT of leaf node connections.

use serde::{Deserialize, Serialize};

/// A leaf node INFO, as the reference writes and reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafInfo {
    pub server_id: String,
    pub server_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    pub max_payload: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// Non-zero on a leaf port (the reference's wrong-port check).
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Present (maybe empty) on a leaf port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leafnode_urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub info_on_connect: bool,
}

/// A leaf node CONNECT (the reference's `leafConnectInfo`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeafConnect {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    /// The user JWT of a `.creds` file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    /// The nonce signed with the user's seed (base64url).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sig: String,
    pub server_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The connecting server's name.
    pub name: String,
    pub hub: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// Subjects the leaf takes nothing on (its `deny_imports`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_pub: Vec<String>,
    /// The leaf's local account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    pub protocol: i32,
    /// A client library sent this: it dialled the leaf port by mistake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}
