//! The meta record of an object, as the clients write and read it (the
//! payload of `$O.<bucket>.M.<encoded name>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A link to another object (`name` set) or to a whole bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLink {
    pub bucket: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectOptions {
    #[serde(default)]
    pub link: Option<ObjectLink>,
    #[serde(default)]
    pub max_chunk_size: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Header name -> values, as the clients keep them.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub options: Option<ObjectOptions>,
    pub bucket: String,
    #[serde(default)]
    pub nuid: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub chunks: u64,
    /// RFC 3339; read back as the meta record's stored time.
    #[serde(default)]
    pub mtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// What a put or a meta update sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub name: String,
    pub description: Option<String>,
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    pub metadata: BTreeMap<String, String>,
    /// The chunk size (`max_chunk_size`) for a put.
    pub options: Option<ObjectOptions>,
}

impl ObjectMeta {
    pub fn named(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.to_string(),
            ..ObjectMeta::default()
        }
    }
}
