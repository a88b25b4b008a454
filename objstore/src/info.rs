//! The meta record of an object, as the clients write and read it (the
//! payload of `$O.<bucket>.M.<encoded name>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A link to another object (`name` set) or to a whole bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLink {
    /// The bucket linked to.
    pub bucket: String,
    /// The object linked to; `None` links the whole bucket.
    #[serde(default)]
    pub name: Option<String>,
}

/// What an object is besides its data: a link, or the chunk size it was
/// stored in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectOptions {
    /// Set when the object is a link, not data.
    #[serde(default)]
    pub link: Option<ObjectLink>,
    /// The largest chunk, in bytes.
    #[serde(default)]
    pub max_chunk_size: Option<i64>,
}

/// An object's meta record: its name, description, size, digest and
/// where its chunks are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The object's name.
    pub name: String,
    /// Free text about the object.
    #[serde(default)]
    pub description: Option<String>,
    /// The user's key/value pairs.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Header name -> values, as the clients keep them.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// The link or chunk size, if any.
    #[serde(default)]
    pub options: Option<ObjectOptions>,
    /// The bucket the object is in.
    pub bucket: String,
    /// The id its chunks are stored under, `$O.<bucket>.C.<nuid>`.
    #[serde(default)]
    pub nuid: String,
    /// The data's length in bytes.
    #[serde(default)]
    pub size: u64,
    /// How many chunks hold the data.
    #[serde(default)]
    pub chunks: u64,
    /// RFC 3339; read back as the meta record's stored time.
    #[serde(default)]
    pub mtime: String,
    /// `SHA-256=` and the data's hash in URL-safe base64; `None` for a
    /// link or a deleted object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Set on the record a delete leaves behind.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// What a put or a meta update sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's name (for a meta update, its new name).
    pub name: String,
    /// Free text about the object.
    pub description: Option<String>,
    /// Header name -> values, as the clients keep them.
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// The user's key/value pairs.
    pub metadata: BTreeMap<String, String>,
    /// The chunk size (`max_chunk_size`) for a put.
    pub options: Option<ObjectOptions>,
}

impl ObjectMeta {
    /// Meta with only the name set.
    pub fn named(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.to_string(),
            ..ObjectMeta::default()
        }
    }
}
