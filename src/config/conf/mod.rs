//! The NATS configuration format (what `nats-server -c FILE` reads), parsed
//! into a tree of values that remember the file, line and column they came
//! from, so option validation can point at the offending text.
//!
//! Flow: [`parse_file`] / [`parse_str`] hand the text to a `Parser`, which
//! walks it once with a character cursor and builds a [`Map`]. Maps under
//! construction sit on a scope stack; `$name` references are resolved against
//! that stack (innermost map first), then against the process environment,
//! whose value is itself parsed as a conf value. `include path` parses the
//! named file with a fresh parser and merges its top-level keys into the map
//! being built, at that point, later keys winning.
//!
//! The grammar follows nats-server 2.14's `conf` lexer, including its odd
//! corners (a bare `2s` or `12:30` is a string, `1m30s` bare is an error, a
//! key directly followed by `{` is part of the key, `include` paths are joined
//! to the including file's directory even when absolute). Deliberate
//! differences, all where nats-server misbehaves:
//! - a number directly followed by `]` (`[1]`) is a number; nats 2.14 mis-lexes
//!   it and rejects the file;
//! - an unknown size suffix (`1kbb`) and a suffix product beyond i64 are errors;
//!   nats drops the key or wraps around;
//! - a Zulu datetime (`2024-01-01T00:00:00Z`) is kept as [`Value::Str`]; no
//!   server option takes one;
//! - maps/arrays nest at most 128 deep, includes 32 deep, and an include must
//!   be a regular file; nats overflows its stack or blocks instead;
//! - `\u` escapes are rejected exactly as nats does (only `\xXX \t \n \r \" \\`).
//!
//! Map keys are kept as [`Key`]s (name, position, and whether the key was
//! referenced as a `$variable`, which nats-server uses to exempt it from the
//! unknown-field check). A repeated key replaces the earlier entry and moves to
//! the end, so `entries` lists the surviving definitions in file order.

mod parser;
mod scalar;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parser::Parser;
pub use scalar::parse_duration;

/// A 1-based line and column (in characters) inside `file`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file's name as given to the parser, an include's path, or
    /// `$NAME` for a value read from the environment.
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A parsed value. Durations stay strings (`"2s"`, bare `2s`); see
/// [`parse_duration`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `true`/`false`, and the words `yes`/`no`, `on`/`off`.
    Bool(bool),
    /// An integer, size suffixes (`1KB`, `10M`) already applied.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A quoted or bare string; durations and datetimes stay strings.
    Str(String),
    /// `[ ... ]`, each element with its own position.
    Array(Vec<Spanned>),
    /// `{ ... }`, a block of keys.
    Map(Map),
}

impl Value {
    /// A short type name for error messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// The string, if the value is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if the value is one (a float is not).
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if the value is one.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The map, if the value is one.
    #[must_use]
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    #[must_use]
    pub fn as_array(&self) -> Option<&[Spanned]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A value and where it starts. A `$variable` takes the position of the
/// reference, not of the definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub pos: Pos,
}

/// A map key as written (case preserved) and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key starts.
    pub pos: Pos,
    /// Set when a `$name` reference resolved to this entry.
    pub used_as_variable: bool,
}

/// Keys in file order of their last definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    /// Each surviving key with its value, a repeated key at its last place.
    pub entries: Vec<(Key, Spanned)>,
}

impl Map {
    /// Case-insensitive, like nats-server's option lookup. Keys differing
    /// only in case are distinct entries; the later one is returned.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        self.get_entry(key).map(|(_, value)| value)
    }

    /// Like [`Map::get`], also returning the key (for its position).
    #[must_use]
    pub fn get_entry(&self, key: &str) -> Option<(&Key, &Spanned)> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(key))
            .map(|(k, v)| (k, v))
    }

    /// Every entry in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Spanned)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Variables and duplicates match names exactly, as nats-server's Go
    /// map does; only option lookup ignores case.
    fn insert(&mut self, key: Key, value: Spanned) {
        self.entries.retain(|(k, _)| k.name != key.name);
        self.entries.push((key, value));
    }

    fn find_exact_mut(&mut self, name: &str) -> Option<&mut (Key, Spanned)> {
        self.entries.iter_mut().find(|(k, _)| k.name == name)
    }

    fn take(&mut self, name: &str) -> Option<Spanned> {
        let index = self.entries.iter().position(|(k, _)| k.name == name)?;
        Some(self.entries.remove(index).1)
    }
}

/// A parse failure. `pos` is `None` only when the top-level file could not
/// be read.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfError {
    /// Where the problem is.
    pub pos: Option<Pos>,
    /// What is wrong, in nats-server's words where it has them.
    pub msg: String,
}

impl ConfError {
    fn at(pos: &Pos, msg: impl Into<String>) -> Self {
        ConfError {
            pos: Some(pos.clone()),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for ConfError {}

/// Parses conf text; `file_name` only labels positions. Includes resolve
/// against the current directory, as nats-server's `conf.Parse` does.
///
/// # Errors
/// The first syntax error, undefined variable or unreadable include, with
/// its position.
pub fn parse_str(text: &str, file_name: &str) -> Result<Map, ConfError> {
    Parser::root(text, Arc::from(file_name), PathBuf::from("."), &process_env).run()
}

/// Reads and parses a conf file; includes resolve against its directory.
///
/// # Errors
/// As [`parse_str`], plus a position-less error when `path` cannot be read.
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    let text = read_text(path).map_err(|e| ConfError {
        pos: None,
        msg: format!("error opening config file '{}': {e}", path.display()),
    })?;
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let file = Arc::from(path.display().to_string());
    Parser::root(&text, file, dir, &process_env).run()
}

fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Go reads config files as bytes; invalid UTF-8 becomes U+FFFD rather
/// than failing the whole file.
fn read_text(path: &Path) -> io::Result<String> {
    Ok(String::from_utf8_lossy(&std::fs::read(path)?).into_owned())
}

/// A FIFO or device would block or never end; nats-server would hang there.
fn read_include(path: &Path) -> io::Result<String> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    read_text(path)
}

/// nats-server uses Go's `filepath.Join`, which appends even an absolute
/// path to the directory; mirrored so the same files are found.
fn join_include(dir: &Path, rel: &str) -> PathBuf {
    dir.join(rel.trim_start_matches('/')).components().collect()
}
