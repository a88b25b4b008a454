//! The INFO and CONNECT one server sends another over a route.

use serde::{Deserialize, Serialize};

/// A route INFO, as the reference writes and reads it (unknown fields are
/// ignored, missing ones default).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
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
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_payload: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// Where the sender takes routes (`nats-route://host:port/`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_dynamic: bool,
    /// The sender's own client URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    /// The reference's pooling: we never send it, so the reference keeps
    /// one connection for every account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_pool_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_pool_idx: Option<i64>,
    /// A connection dedicated to one account (pinned): not taken.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gossip_mode: Option<u8>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
}

/// A route CONNECT.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    pub tls_required: bool,
    pub headers: bool,
    /// The sender's server id.
    pub name: String,
    pub cluster: String,
    pub cluster_dynamic: bool,
    /// A client library sent this: it dialled the route port by mistake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}
