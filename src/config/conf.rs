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

use std::fmt;
use std::io;
use std::num::IntErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The parser recurses once per level; real configs stay under ten.
const MAX_NESTING: usize = 128;
/// An include cycle would otherwise recurse until the stack runs out.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Environment values are parsed and may reference further variables.
const MAX_ENV_DEPTH: usize = 32;

/// A 1-based line and column (in characters) inside `file`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u32,
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
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Spanned>),
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

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

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
    pub value: Value,
    pub pos: Pos,
}

/// A map key as written (case preserved) and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
    /// Set when a `$name` reference resolved to this entry.
    pub used_as_variable: bool,
}

/// Keys in file order of their last definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
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

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Spanned)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

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
    pub pos: Option<Pos>,
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

struct Cursor<'a> {
    src: &'a str,
    off: usize,
    line: u32,
    col: u32,
    file: Arc<str>,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str, file: Arc<str>) -> Self {
        Cursor {
            src,
            off: 0,
            line: 1,
            col: 1,
            file,
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.off..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.off += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.bump();
        }
        hit
    }

    fn since(&self, start: usize) -> &'a str {
        self.src.get(start..self.off).unwrap_or("")
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }
}

type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

struct Parser<'a, 'e> {
    cur: Cursor<'a>,
    base_dir: PathBuf,
    /// Maps under construction, outermost first: the variable scopes.
    scopes: Vec<Map>,
    /// Shared with child parsers so includes cannot multiply the depth.
    nesting: usize,
    includes: usize,
    /// Environment variables being expanded, to report cycles.
    env_chain: Vec<String>,
    env: EnvLookup<'e>,
}

impl<'a, 'e> Parser<'a, 'e> {
    fn root(text: &'a str, file: Arc<str>, base_dir: PathBuf, env: EnvLookup<'e>) -> Self {
        Parser {
            cur: Cursor::new(text, file),
            base_dir,
            scopes: Vec::new(),
            nesting: 0,
            includes: 0,
            env_chain: Vec::new(),
            env,
        }
    }

    fn child<'b>(&self, text: &'b str, file: Arc<str>, base_dir: PathBuf) -> Parser<'b, 'e> {
        Parser {
            cur: Cursor::new(text, file),
            base_dir,
            scopes: Vec::new(),
            nesting: self.nesting,
            includes: self.includes,
            env_chain: self.env_chain.clone(),
            env: self.env,
        }
    }

    fn run(mut self) -> Result<Map, ConfError> {
        self.scopes.push(Map::default());
        self.document()?;
        Ok(self.scopes.pop().unwrap_or_default())
    }

    fn here(&self) -> Pos {
        self.cur.pos()
    }

    fn fail(&self, msg: impl Into<String>) -> ConfError {
        ConfError::at(&self.here(), msg)
    }

    fn skip_blank(&mut self) {
        while matches!(self.cur.peek(), Some(' ' | '\t')) {
            self.cur.bump();
        }
    }

    fn skip_space(&mut self) {
        while self.cur.peek().is_some_and(char::is_whitespace) {
            self.cur.bump();
        }
    }

    fn at_comment(&self) -> bool {
        match self.cur.peek() {
            Some('#') => true,
            Some('/') => self.cur.peek2() == Some('/'),
            _ => false,
        }
    }

    fn skip_comment(&mut self) {
        while !matches!(self.cur.peek(), None | Some('\n' | '\r')) {
            self.cur.bump();
        }
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            if self.cur.peek().is_some_and(char::is_whitespace) {
                self.cur.bump();
            } else if self.at_comment() {
                self.skip_comment();
            } else {
                return;
            }
        }
    }

    /// The top level may be wrapped in braces (JSON style), even several
    /// pairs, and nats-server tolerates a missing closing one.
    fn document(&mut self) -> Result<(), ConfError> {
        let mut braces = 0usize;
        loop {
            self.skip_space_and_comments();
            match self.cur.peek() {
                None => return Ok(()),
                Some('{') => braces = braces.saturating_add(1),
                Some('}') if braces > 0 => braces -= 1,
                Some(',' | ';') if braces > 0 => {}
                Some('}') => return self.trailing_brace(),
                // nats-server ends quietly on a key quote at the very end.
                Some('"' | '\'') if self.cur.peek2().is_none() => {}
                _ => {
                    self.entry(false)?;
                    self.top_value_end(&mut braces)?;
                    continue;
                }
            }
            self.cur.bump();
        }
    }

    /// nats-server accepts a lone `}` as the last thing in the file.
    fn trailing_brace(&mut self) -> Result<(), ConfError> {
        let err = self.fail("unexpected '}' without a matching '{'");
        self.cur.bump();
        self.skip_space_and_comments();
        match self.cur.peek() {
            None => Ok(()),
            Some(_) => Err(err),
        }
    }

    fn top_value_end(&mut self, braces: &mut usize) -> Result<(), ConfError> {
        loop {
            self.skip_blank();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            match self.cur.peek() {
                // nats-server tolerates an unclosed top-level '{' only when
                // the last value is followed by a line break or terminator.
                None if *braces > 0 => return Err(self.fail("'{' is not closed")),
                None => return Ok(()),
                // A lone '/' is skipped by nats-server's lexer here.
                Some('/') => {}
                Some('\n' | '\r' | ';' | ',') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some('}') => {
                    *braces = braces.saturating_sub(1);
                    self.cur.bump();
                    return Ok(());
                }
                other => {
                    return Err(self.fail(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                        shown(other)
                    )))
                }
            }
            self.cur.bump();
        }
    }

    fn check_key_start(&self) -> Result<(), ConfError> {
        match self.cur.peek() {
            Some(c @ (':' | '=')) => Err(self.fail(format!("Unexpected key separator '{c}'."))),
            Some(c @ (']' | ',' | ';' | '/')) => {
                Err(self.fail(format!("Expected a key but found '{c}'.")))
            }
            _ => Ok(()),
        }
    }

    /// One `key [:=] value` pair, or an include, added to the innermost map.
    fn entry(&mut self, in_map: bool) -> Result<(), ConfError> {
        self.check_key_start()?;
        let key_pos = self.here();
        let (name, quoted) = self.key(in_map)?;
        let spaced = self.cur.peek().is_some_and(char::is_whitespace);
        if !quoted && spaced && name.eq_ignore_ascii_case("include") {
            return self.include(&key_pos);
        }
        self.skip_space();
        let has_sep = self.cur.eat(':') || self.cur.eat('=');
        let value = if in_map {
            self.map_value_start(&name, &key_pos)?
        } else {
            self.top_value_start(has_sep, &name, &key_pos)?
        };
        let key = Key {
            name,
            pos: key_pos,
            used_as_variable: false,
        };
        self.define(key, value);
        Ok(())
    }

    fn define(&mut self, key: Key, value: Spanned) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(key, value);
        }
    }

    /// Keys end at whitespace or a separator; quoted keys take no escapes.
    fn key(&mut self, in_map: bool) -> Result<(String, bool), ConfError> {
        let start_pos = self.here();
        if let Some(q @ ('"' | '\'')) = self.cur.peek() {
            self.cur.bump();
            let start = self.cur.off;
            while self.cur.peek().is_some_and(|c| c != q) {
                self.cur.bump();
            }
            let name = self.cur.since(start).to_string();
            if !self.cur.eat(q) {
                return Err(ConfError::at(&start_pos, "Unexpected EOF in quoted key."));
            }
            return Ok((name, true));
        }
        let start = self.cur.off;
        while self
            .cur
            .peek()
            .is_some_and(|c| !c.is_whitespace() && c != ':' && c != '=')
        {
            self.cur.bump();
        }
        if in_map && self.cur.peek().is_none() {
            return Err(self.fail("Unexpected EOF processing map key."));
        }
        Ok((self.cur.since(start).to_string(), false))
    }

    /// After a separator only blanks may precede the value; without one,
    /// nats-server lets the value start on a later line.
    fn top_value_start(
        &mut self,
        has_sep: bool,
        name: &str,
        key_pos: &Pos,
    ) -> Result<Spanned, ConfError> {
        if has_sep {
            self.skip_blank();
        } else if self.cur.peek().is_none() {
            return Err(ConfError::at(
                key_pos,
                format!("config is invalid: key '{name}' has no value"),
            ));
        }
        self.value()
    }

    fn map_value_start(&mut self, name: &str, key_pos: &Pos) -> Result<Spanned, ConfError> {
        self.skip_space();
        match self.cur.peek() {
            Some(',') => Err(self.fail("Unexpected map value terminator ','.")),
            None | Some('}') => Err(ConfError::at(key_pos, format!("key '{name}' has no value"))),
            _ => self.value(),
        }
    }

    /// Any value, starting at the current (non-blank) character.
    fn value(&mut self) -> Result<Spanned, ConfError> {
        let pos = self.here();
        let value = match self.cur.peek() {
            Some('[') => return self.array(),
            Some('{') => return self.map(),
            Some('\'') => Value::Str(self.single_quoted()?),
            Some('"') => Value::Str(self.double_quoted()?),
            Some('(') => Value::Str(self.block()?),
            Some('-') => self.negative()?,
            Some(c) if c.is_ascii_digit() => self.number()?,
            Some('.') => return Err(self.fail("Floats must start with a digit")),
            Some('\n' | '\r') => return Err(self.fail("Expected value but found new line")),
            _ => return self.bare(pos),
        };
        Ok(Spanned { value, pos })
    }

    fn enter(&mut self, open: &Pos) -> Result<(), ConfError> {
        if self.nesting >= MAX_NESTING {
            return Err(ConfError::at(open, "maps and arrays are nested too deeply"));
        }
        self.nesting += 1;
        Ok(())
    }

    fn unclosed(open: &Pos, c: char) -> ConfError {
        ConfError::at(
            open,
            format!("'{c}' is not closed before the end of the file"),
        )
    }

    fn array(&mut self) -> Result<Spanned, ConfError> {
        let pos = self.here();
        self.cur.bump();
        self.enter(&pos)?;
        let items = self.array_items(&pos);
        self.nesting = self.nesting.saturating_sub(1);
        Ok(Spanned {
            value: Value::Array(items?),
            pos,
        })
    }

    fn array_items(&mut self, open: &Pos) -> Result<Vec<Spanned>, ConfError> {
        let mut items = Vec::new();
        loop {
            self.skip_space_and_comments();
            match self.cur.peek() {
                Some(']') => {
                    self.cur.bump();
                    return Ok(items);
                }
                Some(',' | '/') => return Err(self.fail("Unexpected array value terminator ','.")),
                None => return Err(Self::unclosed(open, '[')),
                _ => items.push(self.value()?),
            }
            if self.array_value_end(open)? {
                return Ok(items);
            }
        }
    }

    /// Returns true when the array is closed.
    fn array_value_end(&mut self, open: &Pos) -> Result<bool, ConfError> {
        loop {
            self.skip_blank();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            let done = match self.cur.peek() {
                // nats-server's lexer takes a lone '/' for a separator here.
                Some(',' | '\n' | '\r' | '/') => false,
                Some(']') => true,
                None => return Err(Self::unclosed(open, '[')),
                other => {
                    return Err(self.fail(format!(
                        "Expected an array value terminator ',' or an array terminator ']', but got '{}' instead.",
                        shown(other)
                    )))
                }
            };
            self.cur.bump();
            return Ok(done);
        }
    }

    fn map(&mut self) -> Result<Spanned, ConfError> {
        let pos = self.here();
        self.cur.bump();
        self.enter(&pos)?;
        self.scopes.push(Map::default());
        let body = self.map_body(&pos);
        let map = self.scopes.pop().unwrap_or_default();
        self.nesting = self.nesting.saturating_sub(1);
        body?;
        Ok(Spanned {
            value: Value::Map(map),
            pos,
        })
    }

    fn map_body(&mut self, open: &Pos) -> Result<(), ConfError> {
        loop {
            self.skip_space_and_comments();
            match self.cur.peek() {
                None => return Err(Self::unclosed(open, '{')),
                Some('}') => {
                    self.cur.bump();
                    return Ok(());
                }
                // nats-server's lexer drops a lone '/' before a map key.
                Some('/') => {
                    self.cur.bump();
                }
                _ => {
                    self.entry(true)?;
                    if self.map_value_end(open)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Returns true when the map is closed.
    fn map_value_end(&mut self, open: &Pos) -> Result<bool, ConfError> {
        loop {
            self.skip_blank();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            let done = match self.cur.peek() {
                // nats-server's lexer takes a lone '/' for a separator here.
                Some(';' | ',' | '\n' | '\r' | '/') => false,
                Some('}') => true,
                None => return Err(Self::unclosed(open, '{')),
                other => {
                    return Err(self.fail(format!(
                        "Expected a map value terminator ',' or a map terminator '}}', but got '{}' instead.",
                        shown(other)
                    )))
                }
            };
            self.cur.bump();
            return Ok(done);
        }
    }

    fn single_quoted(&mut self) -> Result<String, ConfError> {
        let open = self.here();
        self.cur.bump();
        let start = self.cur.off;
        while self.cur.peek().is_some_and(|c| c != '\'') {
            self.cur.bump();
        }
        let text = self.cur.since(start).to_string();
        if !self.cur.eat('\'') {
            return Err(ConfError::at(
                &open,
                "Unexpected EOF in single-quoted string.",
            ));
        }
        Ok(text)
    }

    fn double_quoted(&mut self) -> Result<String, ConfError> {
        let open = self.here();
        self.cur.bump();
        let mut buf = Vec::new();
        loop {
            match self.cur.bump() {
                None => {
                    return Err(ConfError::at(
                        &open,
                        "Unexpected EOF in double-quoted string.",
                    ))
                }
                Some('"') => return Ok(into_string(buf)),
                Some('\\') => self.escape(&mut buf)?,
                Some(c) => push_char(&mut buf, c),
            }
        }
    }

    /// `\x` may produce any byte, so strings are assembled as bytes and
    /// decoded once at the end.
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfError> {
        let pos = self.here();
        let byte = match self.cur.bump() {
            Some('t') => b'\t',
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('"') => b'"',
            Some('\\') => b'\\',
            Some('x') => self.hex_byte()?,
            other => {
                return Err(ConfError::at(
                    &pos,
                    format!(
                        "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                        shown(other)
                    ),
                ))
            }
        };
        buf.push(byte);
        Ok(())
    }

    fn hex_byte(&mut self) -> Result<u8, ConfError> {
        let pos = self.here();
        let hi = self.cur.bump();
        let lo = self.cur.bump();
        let digit = |c: Option<char>| c.and_then(|c| c.to_digit(16));
        if let (Some(h), Some(l)) = (digit(hi), digit(lo)) {
            if let Ok(byte) = u8::try_from(h * 16 + l) {
                return Ok(byte);
            }
        }
        let msg = if [hi, lo]
            .iter()
            .any(|c| matches!(c, None | Some('\n' | '\r')))
        {
            "Expected two hexadecimal digits after '\\x', but hit end of line".to_string()
        } else {
            format!(
                "Expected two hexadecimal digits after '\\x', but got '{}{}'",
                shown(hi),
                shown(lo)
            )
        };
        Err(ConfError::at(&pos, msg))
    }

    /// `(` raw text `)`: ends at a `)` alone at the start of a line, and
    /// keeps the newlines after `(` and before `)`, as nats-server does.
    fn block(&mut self) -> Result<String, ConfError> {
        let open = self.here();
        self.cur.bump();
        let start = self.cur.off;
        let mut prev = '(';
        loop {
            let end = self.cur.off;
            match self.cur.bump() {
                None => return Err(ConfError::at(&open, "Unexpected EOF processing block.")),
                Some(')') if prev == '\n' && matches!(self.cur.peek(), None | Some('\n')) => {
                    return Ok(self.cur.src.get(start..end).unwrap_or("").to_string());
                }
                Some(c) => prev = c,
            }
        }
    }

    /// An unquoted string, bool or `$variable`.
    fn bare(&mut self, pos: Pos) -> Result<Spanned, ConfError> {
        let mut buf = Vec::new();
        let plain = self.bare_rest(&mut buf)?;
        let text = into_string(buf);
        let value = if !plain {
            Value::Str(text)
        } else if let Some(b) = bool_word(&text) {
            Value::Bool(b)
        } else if let Some(name) = text.strip_prefix('$') {
            return self.variable(name, pos);
        } else {
            Value::Str(text)
        };
        Ok(Spanned { value, pos })
    }

    /// Reads the rest of an unquoted string into `buf`. Returns false when
    /// it held an escape or ended at a `'`: such text is never a bool or a
    /// variable.
    fn bare_rest(&mut self, buf: &mut Vec<u8>) -> Result<bool, ConfError> {
        let mut plain = true;
        loop {
            match self.cur.peek() {
                None | Some('\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t') => return Ok(plain),
                Some('\'') => {
                    self.cur.bump();
                    return Ok(false);
                }
                Some('\\') => {
                    self.cur.bump();
                    self.escape(buf)?;
                    plain = false;
                }
                Some(c) => {
                    self.cur.bump();
                    push_char(buf, c);
                }
            }
        }
    }

    fn digits(&mut self) {
        while self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.cur.bump();
        }
    }

    /// Something starting with a digit: integer (maybe with a size suffix),
    /// float, IP-like string, datetime, or a string such as `2s` or `12:30`.
    fn number(&mut self) -> Result<Value, ConfError> {
        let pos = self.here();
        let start = self.cur.off;
        self.digits();
        match self.cur.peek() {
            Some('-') => self.datetime(start),
            Some('.') => {
                self.cur.bump();
                self.float_or_ip(start, &pos)
            }
            Some(c) if is_size_suffix(c) => {
                self.cur.bump();
                self.sized(start, &pos)
            }
            c if ends_number(c) => int_value(self.cur.since(start), &pos),
            _ => {
                // nats-server takes this character verbatim, even '\\' or '\''.
                self.cur.bump();
                let mut buf = self.cur.since(start).as_bytes().to_vec();
                self.bare_rest(&mut buf)?;
                Ok(Value::Str(into_string(buf)))
            }
        }
    }

    fn negative(&mut self) -> Result<Value, ConfError> {
        let pos = self.here();
        let start = self.cur.off;
        self.cur.bump();
        match self.cur.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.fail("Floats must start with a digit, not '.'.")),
            other => return Err(self.fail(format!("Expected a digit but got '{}'.", shown(other)))),
        }
        self.digits();
        match self.cur.peek() {
            Some('.') => {
                self.cur.bump();
                self.float_or_ip(start, &pos)
            }
            Some(c) if is_size_suffix(c) => {
                self.cur.bump();
                self.sized(start, &pos)
            }
            _ => int_value(self.cur.since(start), &pos),
        }
    }

    /// After a size letter: more `b`/`i` letters make `1MiB`; anything else
    /// turns the token into a string (`1ms`), except a digit, which ends the
    /// number and so makes `1m30s` fail as it does in nats-server.
    fn sized(&mut self, start: usize, pos: &Pos) -> Result<Value, ConfError> {
        while matches!(self.cur.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.cur.bump();
        }
        let next = self.cur.peek();
        if ends_number(next) || next.is_some_and(|c| c.is_ascii_digit()) {
            return int_value(self.cur.since(start), pos);
        }
        let mut buf = self.cur.since(start).as_bytes().to_vec();
        self.bare_rest(&mut buf)?;
        Ok(Value::Str(into_string(buf)))
    }

    /// After `digits.`: a float, or with a second dot an address such as
    /// `127.0.0.1:4222`, kept as a string.
    fn float_or_ip(&mut self, start: usize, pos: &Pos) -> Result<Value, ConfError> {
        match self.cur.peek() {
            Some(c) if c.is_ascii_digit() => {}
            other => {
                return Err(self.fail(format!(
                    "Floats must have a digit after the '.', but got '{}' instead.",
                    shown(other)
                )))
            }
        }
        self.digits();
        if self.cur.eat('.') {
            while matches!(self.cur.peek(), Some('0'..='9' | '.' | ':' | '-')) {
                self.cur.bump();
            }
            return Ok(Value::Str(self.cur.since(start).to_string()));
        }
        let text = self.cur.since(start);
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(ConfError::at(
                pos,
                format!("float '{text}' is out of the range"),
            )),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`; any other digits-then-dash token is an error.
    fn datetime(&mut self, start: usize) -> Result<Value, ConfError> {
        if self.cur.off - start != 4 {
            return Err(self.fail("All ISO8601 dates must be in full Zulu form."));
        }
        self.cur.bump();
        for want in "00-00T00:00:00Z".chars() {
            let pos = self.here();
            let got = self.cur.bump();
            let ok = match want {
                '0' => got.is_some_and(|c| c.is_ascii_digit()),
                _ => got == Some(want),
            };
            if !ok {
                let want = if want == '0' {
                    "digit".to_string()
                } else {
                    format!("'{want}'")
                };
                return Err(ConfError::at(
                    &pos,
                    format!(
                        "Expected {want} in ISO8601 datetime, but found '{}' instead.",
                        shown(got)
                    ),
                ));
            }
        }
        Ok(Value::Str(self.cur.since(start).to_string()))
    }

    /// `include` followed by whitespace: the path is a quoted string or a
    /// bare word; anything looking like another value is refused.
    fn include(&mut self, at: &Pos) -> Result<(), ConfError> {
        self.skip_blank();
        let bad = |this: &Self, what: &str| {
            Err(this.fail(format!("Expected include value but found {what}")))
        };
        let path = match self.cur.peek() {
            Some(q @ ('\'' | '"')) => self.quoted_include(q)?,
            Some('[') => return bad(self, "start of an array"),
            Some('{') => return bad(self, "start of a map"),
            Some('(') => return bad(self, "start of a block"),
            Some('0'..='9' | '-') => return bad(self, "start of a number"),
            Some('\\') => return bad(self, "escape sequence"),
            Some('\n' | '\r') => return bad(self, "new line"),
            _ => self.bare_include(),
        };
        let map = self.parse_include(&path, at)?;
        for (key, value) in map.entries {
            self.define(key, value);
        }
        Ok(())
    }

    fn quoted_include(&mut self, q: char) -> Result<String, ConfError> {
        let open = self.here();
        self.cur.bump();
        let start = self.cur.off;
        while self.cur.peek().is_some_and(|c| c != q) {
            self.cur.bump();
        }
        let path = self.cur.since(start).to_string();
        if !self.cur.eat(q) {
            return Err(ConfError::at(&open, "Unexpected EOF in quoted include"));
        }
        Ok(path)
    }

    fn bare_include(&mut self) -> String {
        let start = self.cur.off;
        while !matches!(
            self.cur.peek(),
            None | Some('\n' | '\r' | ';' | '}' | ' ' | '\t' | '\'')
        ) {
            self.cur.bump();
        }
        let path = self.cur.since(start).to_string();
        self.cur.eat('\'');
        path
    }

    /// The included file gets its own variable scope, as in nats-server.
    fn parse_include(&self, path: &str, at: &Pos) -> Result<Map, ConfError> {
        if self.includes >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::at(
                at,
                format!("includes nested too deeply (include cycle?) at '{path}'"),
            ));
        }
        let full = join_include(&self.base_dir, path);
        let text = read_include(&full).map_err(|e| {
            ConfError::at(
                at,
                format!(
                    "error parsing include file '{path}', open {}: {e}",
                    full.display()
                ),
            )
        })?;
        let dir = full
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut child = self.child(&text, Arc::from(full.display().to_string()), dir);
        child.includes += 1;
        child.run()
    }

    /// Innermost map first, then the environment. `$2a$...` is a bcrypt
    /// hash, which nats-server lets users write unquoted.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Spanned, ConfError> {
        if name.starts_with("2a$") {
            let value = Value::Str(format!("${name}"));
            return Ok(Spanned { value, pos });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some((key, found)) = scope.find_exact_mut(name) {
                key.used_as_variable = true;
                let value = found.value.clone();
                return Ok(Spanned { value, pos });
            }
        }
        match self.env_value(name, &pos)? {
            Some(value) => Ok(Spanned { value, pos }),
            None => Err(ConfError::at(
                &pos,
                format!("variable reference for '{name}' can not be found"),
            )),
        }
    }

    /// An environment value is parsed as `pk=<value>`, so `4222` becomes an
    /// integer and `[a, b]` an array, exactly as nats-server does.
    fn env_value(&self, name: &str, pos: &Pos) -> Result<Option<Value>, ConfError> {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Ok(None);
        }
        let Some(raw) = (self.env)(name) else {
            return Ok(None);
        };
        if self.env_chain.iter().any(|n| n == name) {
            let msg = format!("variable reference cycle for '{name}'");
            return Err(ConfError::at(pos, msg));
        }
        let fail = |msg: &str| {
            let msg = format!("variable reference for '{name}' could not be parsed: {msg}");
            ConfError::at(pos, msg)
        };
        if self.env_chain.len() >= MAX_ENV_DEPTH {
            return Err(fail("variables nested too deeply"));
        }
        let text = format!("pk={raw}");
        let mut child = self.child(&text, Arc::from(format!("${name}")), PathBuf::from("."));
        child.env_chain.push(name.to_string());
        let mut map = child.run().map_err(|e| fail(&e.msg))?;
        Ok(map.take("pk").map(|mut found| {
            restamp(&mut found.value, pos);
            found.value
        }))
    }
}

/// Environment values have no place in any file; point them at the reference.
fn restamp(value: &mut Value, pos: &Pos) {
    match value {
        Value::Array(items) => {
            for item in items {
                item.pos = pos.clone();
                restamp(&mut item.value, pos);
            }
        }
        Value::Map(map) => {
            for (key, item) in &mut map.entries {
                key.pos = pos.clone();
                item.pos = pos.clone();
                restamp(&mut item.value, pos);
            }
        }
        _ => {}
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

fn into_string(buf: Vec<u8>) -> String {
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// How a character appears in an error message.
fn shown(c: Option<char>) -> String {
    match c {
        None => "EOF".to_string(),
        Some('\n') => "\\n".to_string(),
        Some('\r') => "\\r".to_string(),
        Some('\t') => "\\t".to_string(),
        Some(c) => c.to_string(),
    }
}

fn bool_word(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// What may follow an integer. nats-server forgets `]`, which breaks `[1]`.
fn ends_number(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\n' | '\r' | '}' | ']' | ';' | ',' | ' ' | '\t')
    )
}

/// Single letters are powers of 1000; with `b`, `i` or `ib` powers of 1024.
fn size_multiplier(suffix: &str) -> Option<i64> {
    let lower = suffix.to_ascii_lowercase();
    let mut chars = lower.chars();
    let Some(letter) = chars.next() else {
        return Some(1);
    };
    let binary = match chars.as_str() {
        "" => false,
        "b" | "i" | "ib" => true,
        _ => return None,
    };
    let power = 1 + "kmgtpe".find(letter)?;
    let base: i64 = if binary { 1024 } else { 1000 };
    base.checked_pow(u32::try_from(power).ok()?)
}

fn int_value(text: &str, pos: &Pos) -> Result<Value, ConfError> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let out_of_range = || ConfError::at(pos, format!("integer '{text}' is out of the range"));
    let n: i64 = digits
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range(),
            _ => ConfError::at(pos, format!("expected integer, but got '{text}'")),
        })?;
    let mult = size_multiplier(suffix)
        .ok_or_else(|| ConfError::at(pos, format!("invalid size suffix in '{text}'")))?;
    n.checked_mul(mult).map(Value::Int).ok_or_else(out_of_range)
}

/// Go's `time.ParseDuration`: an optional sign, then one or more decimal
/// numbers (fractions allowed) each with a unit of `ns`, `us` (or the micro
/// sign), `ms`, `s`, `m` or `h`, e.g. `1h30m`, `1.5s`, `300ms`; `0` alone
/// needs no unit. Negative durations, which `Duration` cannot hold, give
/// `None` (except zero).
#[must_use]
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = duration_term(rest)?;
        total = total.checked_add(nanos)?;
        rest = tail;
    }
    if total > i64::MAX as u64 {
        return None;
    }
    match (negative, total) {
        (true, 0) => Some(Duration::ZERO),
        (true, _) => None,
        (false, n) => Some(Duration::from_nanos(n)),
    }
}

/// One `<number><unit>` term, in nanoseconds, and what follows it.
fn duration_term(s: &str) -> Option<(u64, &str)> {
    let (whole, rest) = split_digits(s);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => split_digits(after),
        None => ("", rest),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let unit_len = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_len);
    let unit = duration_unit(unit)?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos = whole
        .checked_mul(unit)?
        .checked_add(fraction_nanos(frac, unit))?;
    (nanos <= 1 << 63).then_some((nanos, rest))
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

fn duration_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Digits beyond what fits are ignored, and the scaling is done in f64,
/// both as Go does, so long fractions round the same way.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn fraction_nanos(frac: &str, unit: u64) -> u64 {
    let mut value: u64 = 0;
    let mut scale: f64 = 1.0;
    for d in frac.bytes() {
        let Some(next) = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .filter(|v| *v <= 1 << 63)
        else {
            break;
        };
        value = next;
        scale *= 10.0;
    }
    (value as f64 * (unit as f64 / scale)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn parse(text: &str) -> Map {
        parse_str(text, "test.conf").unwrap_or_else(|e| panic!("{e}\n--- input ---\n{text}"))
    }

    fn value_of(text: &str, key: &str) -> Value {
        match parse(text).get(key) {
            Some(found) => found.value.clone(),
            None => panic!("no key {key:?} in {text:?}"),
        }
    }

    fn error_of(text: &str) -> ConfError {
        match parse_str(text, "test.conf") {
            Ok(map) => panic!("expected an error for {text:?}, got {map:?}"),
            Err(e) => e,
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    fn path<'m>(map: &'m Map, keys: &[&str]) -> &'m Spanned {
        let (first, rest) = keys.split_first().expect("non-empty path");
        let found = map.get(first).unwrap_or_else(|| panic!("missing {first}"));
        if rest.is_empty() {
            return found;
        }
        path(found.value.as_map().expect("a map"), rest)
    }

    fn with_env(text: &str, vars: &[(&str, &str)]) -> Result<Map, ConfError> {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        Parser::root(text, Arc::from("env.conf"), PathBuf::from("."), &env).run()
    }

    /// A scratch directory removed on drop; std only, no tempfile crate.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("confparse-{}-{tag}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let file = self.0.join(name);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(&file, text).expect("write file");
            file
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scalar_values() {
        let cases: &[(&str, Value)] = &[
            ("4222", Value::Int(4222)),
            ("-1", Value::Int(-1)),
            ("0", Value::Int(0)),
            ("1.5", Value::Float(1.5)),
            ("-2.25", Value::Float(-2.25)),
            ("1k", Value::Int(1000)),
            ("1K", Value::Int(1000)),
            ("1kb", Value::Int(1024)),
            ("1ki", Value::Int(1024)),
            ("2KiB", Value::Int(2048)),
            ("1m", Value::Int(1_000_000)),
            ("1MB", Value::Int(1 << 20)),
            ("1MiB", Value::Int(1 << 20)),
            ("1g", Value::Int(1_000_000_000)),
            ("1GB", Value::Int(1 << 30)),
            ("10GiB", Value::Int(10 << 30)),
            ("1t", Value::Int(1_000_000_000_000)),
            ("1TB", Value::Int(1 << 40)),
            ("1tib", Value::Int(1 << 40)),
            ("1p", Value::Int(1_000_000_000_000_000)),
            ("1PB", Value::Int(1 << 50)),
            ("1e", Value::Int(1_000_000_000_000_000_000)),
            ("1EiB", Value::Int(1 << 60)),
            ("-2k", Value::Int(-2000)),
            ("true", Value::Bool(true)),
            ("TRUE", Value::Bool(true)),
            ("yes", Value::Bool(true)),
            ("On", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("No", Value::Bool(false)),
            ("OFF", Value::Bool(false)),
            ("\"true\"", s("true")),
            ("'yes'", s("yes")),
            ("2s", s("2s")),
            ("1ms", s("1ms")),
            ("-1ms", s("-1ms")),
            ("1h30m", s("1h30m")),
            ("\"1m30s\"", s("1m30s")),
            ("3secret", s("3secret")),
            ("12:30", s("12:30")),
            ("4222#x", s("4222#x")),
            ("1kk", s("1kk")),
            ("127.0.0.1:4222", s("127.0.0.1:4222")),
            ("0.0.0.0", s("0.0.0.0")),
            ("-1.2.3", s("-1.2.3")),
            ("localhost", s("localhost")),
            ("localhost:4222", s("localhost:4222")),
            ("nats://user:pw@a:4222", s("nats://user:pw@a:4222")),
            ("a=b:c", s("a=b:c")),
            ("2024-01-02T03:04:05Z", s("2024-01-02T03:04:05Z")),
            ("$2a$11$abcdef", s("$2a$11$abcdef")),
            ("\"$NOT_A_VAR\"", s("$NOT_A_VAR")),
            ("ab'", s("ab")),
            ("true'", s("true")),
            ("", s("")),
        ];
        for (text, want) in cases {
            let input = format!("x: {text}");
            assert_eq!(&value_of(&input, "x"), want, "input {input:?}");
        }
    }

    #[test]
    fn key_value_separators_and_terminators() {
        let cases = [
            "port: 4222",
            "port = 4222",
            "port 4222",
            "port:4222",
            "port=4222;",
            "port: 4222,",
            "port: 4222 ;",
            "port\t4222\n",
            "port\n  4222\n",
            "\"port\": 4222",
            "'port' = 4222",
            "port: 4222 # trailing comment",
            "port: 4222 // trailing comment",
            "port: 4222}",
            "port: 4222\r\n",
            "# leading\n// another\nport: 4222\n# done",
            "port: 1, port: 4222",
            "host: a; port: 4222",
        ];
        for text in cases {
            assert_eq!(value_of(text, "port"), Value::Int(4222), "input {text:?}");
        }
    }

    #[test]
    fn nested_maps_and_arrays() {
        let text = "
            jetstream {
                store_dir: /data/js   # where
                max_file_store: 10GiB
            }
            authorization: {
                users = [
                    {user: a, password: 'p a'}   // first
                    {user: b, password: \"p\\tb\"},
                ]
            }
            routes [ nats://a:6222, nats://b:6222
                     nats://c:6222, ]
            empty_map {}
            empty_list []
            nested: [[1, 2], [], [[x]]]
        ";
        let map = parse(text);
        assert_eq!(path(&map, &["jetstream", "store_dir"]).value, s("/data/js"));
        assert_eq!(
            path(&map, &["jetstream", "max_file_store"]).value,
            Value::Int(10 << 30)
        );
        let users = path(&map, &["authorization", "users"])
            .value
            .as_array()
            .unwrap();
        assert_eq!(users.len(), 2);
        let second = users[1].value.as_map().unwrap();
        assert_eq!(second.get("password").unwrap().value, s("p\tb"));
        assert_eq!(
            users[0]
                .value
                .as_map()
                .unwrap()
                .get("password")
                .unwrap()
                .value,
            s("p a")
        );
        let routes = map.get("routes").unwrap().value.as_array().unwrap();
        let routes: Vec<_> = routes.iter().map(|r| r.value.as_str().unwrap()).collect();
        assert_eq!(routes, ["nats://a:6222", "nats://b:6222", "nats://c:6222"]);
        assert_eq!(
            map.get("empty_map").unwrap().value,
            Value::Map(Map::default())
        );
        assert_eq!(map.get("empty_list").unwrap().value, Value::Array(vec![]));
        let nested = map.get("nested").unwrap().value.as_array().unwrap();
        assert_eq!(nested.len(), 3);
        assert_eq!(nested[0].value.as_array().unwrap()[1].value, Value::Int(2));
    }

    #[test]
    fn arrays() {
        let ints = |v: &Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.value.as_int().unwrap())
                .collect()
        };
        let cases: &[(&str, &[i64])] = &[
            ("[1, 2, 3]", &[1, 2, 3]),
            ("[1,2,3,]", &[1, 2, 3]),
            ("[\n1\n2\n3\n]", &[1, 2, 3]),
            ("[ # c\n 1 // c\n 2 ]", &[1, 2]),
            ("[1]", &[1]),
            ("[1k]", &[1000]),
            ("[]", &[]),
            ("[ 1 / 2 ]", &[1, 2]),
        ];
        for (text, want) in cases {
            let got = value_of(&format!("x: {text}"), "x");
            assert_eq!(ints(&got), *want, "input {text:?}");
        }
        let mixed = value_of("x: [a, \"b\", 'c', true, 1.5, {k: v}]", "x");
        let kinds: Vec<_> = mixed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.value.kind())
            .collect();
        assert_eq!(
            kinds,
            ["string", "string", "string", "bool", "float", "map"]
        );
    }

    #[test]
    fn strings_and_escapes() {
        let cases: &[(&str, &str)] = &[
            (r#""a\tb\nc\rd\"e\\f""#, "a\tb\nc\rd\"e\\f"),
            (r#""\x41\x62""#, "Ab"),
            (r#""\xc3\xa9""#, "\u{e9}"),
            (r#""\xff""#, "\u{fffd}"),
            (r#"'raw \t \x41 "q"'"#, r#"raw \t \x41 "q""#),
            (r"bare\x41\tx", "bareA\tx"),
            ("\"multi\nline\"", "multi\nline"),
            ("'multi\nline'", "multi\nline"),
            ("\"# not a comment\"", "# not a comment"),
            ("\"\"", ""),
            ("caf\u{e9}", "caf\u{e9}"),
            (r"tru\x65", "true"),
        ];
        for (text, want) in cases {
            assert_eq!(
                value_of(&format!("x: {text}"), "x"),
                s(want),
                "input {text:?}"
            );
        }
    }

    #[test]
    fn block_strings() {
        let cases: &[(&str, &str)] = &[
            ("x: (\n  hello\n  world\n)\n", "\n  hello\n  world\n"),
            ("x: (\nno ) here\n)", "\nno ) here\n"),
            ("x (\n)\ny: 1", "\n"),
            ("m { x: (\n{ [ \"\n)\n}", "\n{ [ \"\n"),
        ];
        for (text, want) in cases {
            let map = parse(text);
            let found = map
                .get("x")
                .or_else(|| path(&map, &["m"]).value.as_map()?.get("x"));
            assert_eq!(found.unwrap().value, s(want), "input {text:?}");
        }
    }

    #[test]
    fn top_level_braces() {
        let cases = [
            "{ port: 4222 }",
            "{\n port: 4222\n}\n",
            "{{ port: 4222 }}",
            "{ \"port\": 4222, \"host\": \"h\" }",
            "{\n port: 4222\n",
            "{ port: 4222;",
            "{ port: 4222 }'",
            "port: 4222\n}\n",
            "{ {a: 1}, port: 4222 }",
        ];
        for text in cases {
            assert_eq!(value_of(text, "port"), Value::Int(4222), "input {text:?}");
        }
    }

    #[test]
    fn key_forms() {
        let map = parse("\"my key\": 1\n'other key' 2\njetstream{\n}\ninclude: x\na.b-c_d: 3");
        assert_eq!(map.get("my key").unwrap().value, Value::Int(1));
        assert_eq!(map.get("other key").unwrap().value, Value::Int(2));
        // As in nats-server, the brace is part of the key when unspaced.
        assert_eq!(map.get("jetstream{").unwrap().value, s(""));
        assert_eq!(map.get("include").unwrap().value, s("x"));
        assert_eq!(map.get("a.b-c_d").unwrap().value, Value::Int(3));
        let slashed = parse("m {\n  /k: 1\n}");
        assert_eq!(path(&slashed, &["m", "k"]).value, Value::Int(1));
    }

    #[test]
    fn errors_have_positions() {
        let cases: &[(&str, u32, u32, &str)] = &[
            ("x: \"abc", 1, 4, "Unexpected EOF in double-quoted"),
            ("x: 'abc", 1, 4, "Unexpected EOF in single-quoted"),
            ("a {\n b: 1\n", 1, 3, "'{' is not closed"),
            ("a [1, 2", 1, 3, "'[' is not closed"),
            (
                "a {\n b: [1, {c: 2}\n}",
                3,
                1,
                "Expected an array value terminator",
            ),
            ("x: ]", 1, 4, "Expected a top-level value to end"),
            ("x: 1.x", 1, 6, "Floats must have a digit after the '.'"),
            ("x: 1.", 1, 6, "Floats must have a digit after the '.'"),
            ("x: -x", 1, 5, "Expected a digit but got 'x'"),
            ("x: -.5", 1, 5, "Floats must start with a digit"),
            ("x: .5", 1, 4, "Floats must start with a digit"),
            (
                "x: 10-20",
                1,
                6,
                "All ISO8601 dates must be in full Zulu form",
            ),
            (
                "x: 2024-01-0xT00:00:00Z",
                1,
                13,
                "Expected digit in ISO8601",
            ),
            (
                "x: $nope",
                1,
                4,
                "variable reference for 'nope' can not be found",
            ),
            (
                "a {\n  b {\n    x: $nope\n  }\n}",
                3,
                8,
                "'nope' can not be found",
            ),
            ("x: \"\\u0041\"", 1, 6, "Invalid escape character 'u'"),
            ("x: \"x\\x4\"", 1, 8, "Expected two hexadecimal digits"),
            ("x: a\\qb", 1, 6, "Invalid escape character 'q'"),
            ("x: 1 2", 1, 6, "Expected a top-level value to end"),
            ("x: 1m30s", 1, 6, "Expected a top-level value to end"),
            ("x: 1.5s", 1, 7, "Expected a top-level value to end"),
            ("x: ab'cd", 1, 7, "Expected a top-level value to end"),
            ("port:\n4222", 1, 6, "Expected value but found new line"),
            ("x: 99999999999999999999", 1, 4, "out of the range"),
            ("x: -99999999999999999999", 1, 4, "out of the range"),
            ("x: 10E", 1, 4, "out of the range"),
            ("x: 1kbb", 1, 4, "invalid size suffix"),
            ("\n\nport", 3, 1, "has no value"),
            ("a { b: 1,, c: 2 }", 1, 10, "Expected a key but found ','"),
            ("a { b }", 1, 5, "key 'b' has no value"),
            ("a { b: }", 1, 5, "key 'b' has no value"),
            ("a { b: , }", 1, 8, "Unexpected map value terminator"),
            ("a { : 1 }", 1, 5, "Unexpected key separator"),
            ("a { b: 1 ]", 1, 10, "Expected a map value terminator"),
            ("a { b", 1, 6, "Unexpected EOF processing map key"),
            ("a [ ,1 ]", 1, 5, "Unexpected array value terminator"),
            ("a [1; 2]", 1, 5, "Expected an array value terminator"),
            ("x: (\nabc", 1, 4, "Unexpected EOF processing block"),
            (
                "include\n./x.conf",
                1,
                8,
                "Expected include value but found new line",
            ),
            ("include [a]", 1, 9, "start of an array"),
            ("include 'x", 1, 9, "Unexpected EOF in quoted include"),
            ("\"key: 1", 1, 1, "Unexpected EOF in quoted key"),
            ("} a: 1", 1, 1, "without a matching '{'"),
            ("{ a: 1", 1, 7, "'{' is not closed"),
            ("{ a: 1 # c", 1, 11, "'{' is not closed"),
            ("/a: 1", 1, 1, "Expected a key but found '/'"),
            (": 1", 1, 1, "Unexpected key separator"),
            ("a: 1\n  , b: 2", 2, 3, "Expected a key but found ','"),
        ];
        for (text, line, col, msg) in cases {
            let err = error_of(text);
            let pos = err
                .pos
                .clone()
                .unwrap_or_else(|| panic!("no pos for {text:?}"));
            assert_eq!(
                (&*pos.file, pos.line, pos.col),
                ("test.conf", *line, *col),
                "position for {text:?}: {err}"
            );
            assert!(err.msg.contains(msg), "message for {text:?}: {err}");
        }
    }

    #[test]
    fn error_display_format() {
        let err = error_of("a: 1\nb: $missing");
        assert_eq!(
            err.to_string(),
            "test.conf:2:4: variable reference for 'missing' can not be found"
        );
        let bare = ConfError {
            pos: None,
            msg: "boom".to_string(),
        };
        assert_eq!(bare.to_string(), "boom");
        let boxed: Box<dyn std::error::Error> = Box::new(bare);
        assert_eq!(boxed.to_string(), "boom");
    }

    #[test]
    fn positions_of_keys_and_values() {
        let map = parse("a: 1\nb {\n  c: \"x\"\n  d: [1, {e: true}]\n}\n");
        let at = |p: &Pos| (p.line, p.col);
        let (a_key, a_val) = map.get_entry("a").unwrap();
        assert_eq!((at(&a_key.pos), at(&a_val.pos)), ((1, 1), (1, 4)));
        let (b_key, b_val) = map.get_entry("b").unwrap();
        assert_eq!((at(&b_key.pos), at(&b_val.pos)), ((2, 1), (2, 3)));
        let b = b_val.value.as_map().unwrap();
        let (c_key, c_val) = b.get_entry("c").unwrap();
        assert_eq!((at(&c_key.pos), at(&c_val.pos)), ((3, 3), (3, 6)));
        let d = b.get("d").unwrap();
        assert_eq!(at(&d.pos), (4, 6));
        let items = d.value.as_array().unwrap();
        assert_eq!((at(&items[0].pos), at(&items[1].pos)), ((4, 7), (4, 10)));
        let (e_key, e_val) = items[1].value.as_map().unwrap().get_entry("e").unwrap();
        assert_eq!((at(&e_key.pos), at(&e_val.pos)), ((4, 11), (4, 14)));
        assert_eq!(&*e_val.pos.file, "test.conf");
    }

    #[test]
    fn duplicate_keys_later_wins() {
        let map = parse("port: 1\nhost: h\nport: 2\n");
        let names: Vec<_> = map.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["host", "port"]);
        let (key, value) = map.get_entry("port").unwrap();
        assert_eq!((value.value.clone(), key.pos.line), (Value::Int(2), 3));
        let nested = parse("a { x: 1, x: 2 }\na { y: 3 }");
        assert_eq!(nested.len(), 1);
        let a = nested.get("a").unwrap().value.as_map().unwrap();
        assert!(a.get("x").is_none());
        assert_eq!(a.get("y").unwrap().value, Value::Int(3));
    }

    #[test]
    fn lookup_ignores_case_but_entries_keep_it() {
        let map = parse("Max_Payload: 1MB\nport: 1\nPORT: 2");
        assert_eq!(map.get("max_payload").unwrap().value, Value::Int(1 << 20));
        assert_eq!(map.get("MAX_PAYLOAD").unwrap().value, Value::Int(1 << 20));
        assert_eq!(map.entries[0].0.name, "Max_Payload");
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("Port").unwrap().value, Value::Int(2));
        assert!(!map.is_empty());
        assert!(map.get("nope").is_none());
    }

    #[test]
    fn variables_resolve_through_enclosing_maps() {
        let cases: &[(&str, &[&str], Value)] = &[
            ("a: 1\nb: $a", &["b"], Value::Int(1)),
            ("v: 5\na { port: $v }", &["a", "port"], Value::Int(5)),
            ("v: 1\na { v: 2, w: $v }", &["a", "w"], Value::Int(2)),
            ("v: 1\na { v: 2 }\nb: $v", &["b"], Value::Int(1)),
            ("v: 1\nv: 2\nb: $v", &["b"], Value::Int(2)),
            ("a { b { c { d: $v } } }\nv: 1", &[], Value::Bool(false)),
            ("v: \"2s\"\nx: $v", &["x"], s("2s")),
            ("v: yes\nx: $v", &["x"], Value::Bool(true)),
            (
                "v: 1.5\nx { y { z: $v } }",
                &["x", "y", "z"],
                Value::Float(1.5),
            ),
            ("x: \"$v\"", &["x"], s("$v")),
        ];
        for (text, keys, want) in cases {
            if keys.is_empty() {
                assert!(parse_str(text, "t").is_err(), "{text:?} should fail");
                continue;
            }
            assert_eq!(&path(&parse(text), keys).value, want, "input {text:?}");
        }
    }

    #[test]
    fn variables_of_any_type_and_in_arrays() {
        let map = parse("m { x: 1 }\nl: [a, b]\nn: $m\nk: $l\narr: [$m, 2]\nin: [{p: 9, q: $p}]");
        assert_eq!(map.get("n").unwrap().value, map.get("m").unwrap().value);
        assert_eq!(map.get("k").unwrap().value, map.get("l").unwrap().value);
        let arr = map.get("arr").unwrap().value.as_array().unwrap();
        assert_eq!(arr[0].value, map.get("m").unwrap().value);
        let inner = map.get("in").unwrap().value.as_array().unwrap()[0]
            .value
            .as_map()
            .unwrap();
        assert_eq!(inner.get("q").unwrap().value, Value::Int(9));
        let n = map.get("n").unwrap();
        assert_eq!((n.pos.line, n.pos.col), (3, 4));
    }

    #[test]
    fn variables_are_case_sensitive_and_marked_used() {
        assert!(parse_str("V: 1\nx: $v", "t").is_err());
        let map = parse("v: 1\nw: 2\nx: $v");
        let used: Vec<_> = map
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.used_as_variable))
            .collect();
        assert_eq!(used, [("v", true), ("w", false), ("x", false)]);
        assert!(
            parse_str("b: $v\nv: 1", "t").is_err(),
            "no forward references"
        );
    }

    #[test]
    fn environment_variables() {
        let env = [
            ("PORT", "4222"),
            ("SIZE", "1MB"),
            ("LIST", "[a, b]"),
            ("URL", "nats://h:4222"),
            ("A", "$B"),
            ("B", "hello"),
            ("BAD", "a b"),
            ("CYC", "$CYC"),
            ("V", "from-env"),
        ];
        let map = with_env(
            "port: $PORT\nsize: $SIZE\nlist: $LIST\nurl: $URL\na: $A",
            &env,
        )
        .unwrap();
        assert_eq!(map.get("port").unwrap().value, Value::Int(4222));
        assert_eq!(map.get("size").unwrap().value, Value::Int(1 << 20));
        assert_eq!(map.get("url").unwrap().value, s("nats://h:4222"));
        assert_eq!(map.get("a").unwrap().value, s("hello"));
        let list = map.get("list").unwrap();
        let item = &list.value.as_array().unwrap()[1];
        assert_eq!(
            (item.pos.line, item.pos.col, &*item.pos.file),
            (3, 7, "env.conf")
        );
        let local = with_env("V: 1\nx: $V", &env).unwrap();
        assert_eq!(local.get("x").unwrap().value, Value::Int(1));
        let bad = with_env("x: $BAD", &env).unwrap_err();
        assert!(bad.msg.contains("'BAD' could not be parsed"), "{bad}");
        let cyc = with_env("\nx: $CYC", &env).unwrap_err();
        assert!(
            cyc.msg.contains("variable reference cycle for 'CYC'"),
            "{cyc}"
        );
        assert_eq!(cyc.pos.map(|p| (p.line, p.col)), Some((2, 4)));
        assert!(with_env("x: $", &env).is_err());
        assert!(with_env("x: $NOT_SET_ANYWHERE", &env).is_err());
    }

    #[test]
    fn includes_merge_at_their_position() {
        let dir = TempDir::new("merge");
        dir.write("inc.conf", "port: 2\nhost: h\n");
        dir.write("auth.conf", "user: a\npassword: $P\nP: x\n");
        dir.write("sub/one.conf", "include 'two.conf'\nfrom_one: 1\n");
        dir.write("sub/two.conf", "from_two: 2\n");
        let main = dir.write(
            "main.conf",
            "port: 1\ninclude inc.conf\nmax_payload: 3\nauthorization {\n  include ./auth.conf; x: 1\n}\nINCLUDE \"sub/one.conf\" # c\n",
        );
        assert!(
            parse_file(&main).is_err(),
            "auth.conf uses $P before defining it"
        );
        dir.write("auth.conf", "P: x\nuser: a\npassword: $P\n");
        let map = parse_file(&main).unwrap();
        assert_eq!(map.get("port").unwrap().value, Value::Int(2));
        assert_eq!(map.get("max_payload").unwrap().value, Value::Int(3));
        let (host_key, _) = map.get_entry("host").unwrap();
        assert!(host_key.pos.file.ends_with("inc.conf"), "{}", host_key.pos);
        assert_eq!((host_key.pos.line, host_key.pos.col), (2, 1));
        assert_eq!(path(&map, &["authorization", "password"]).value, s("x"));
        assert_eq!(path(&map, &["authorization", "x"]).value, Value::Int(1));
        let auth = map.get("authorization").unwrap().value.as_map().unwrap();
        assert!(auth.get_entry("P").unwrap().0.used_as_variable);
        assert_eq!(map.get("from_one").unwrap().value, Value::Int(1));
        assert_eq!(map.get("from_two").unwrap().value, Value::Int(2));
    }

    #[test]
    fn include_scoping_and_errors() {
        let dir = TempDir::new("scope");
        dir.write("uses.conf", "x: $V\n");
        dir.write("defines.conf", "V: 7\n");
        dir.write("self.conf", "include self.conf\n");
        dir.write("bad.conf", "a: 1\nb: [\n");
        let outer_var = dir.write("a.conf", "V: 1\ninclude uses.conf\n");
        let err = parse_file(&outer_var).unwrap_err();
        assert!(err.msg.contains("'V' can not be found"), "{err}");
        assert!(err.pos.unwrap().file.ends_with("uses.conf"));
        let inner_var = dir.write("b.conf", "include defines.conf\nx: $V\n");
        let map = parse_file(&inner_var).unwrap();
        assert_eq!(map.get("x").unwrap().value, Value::Int(7));
        assert!(map.get_entry("V").unwrap().0.used_as_variable);
        let missing = dir.write("c.conf", "port: 1\n  include nope.conf\n");
        let err = parse_file(&missing).unwrap_err();
        assert!(
            err.msg.contains("error parsing include file 'nope.conf'"),
            "{err}"
        );
        assert_eq!(err.pos.map(|p| (p.line, p.col)), Some((2, 3)));
        let cycle = parse_file(&dir.0.join("self.conf")).unwrap_err();
        assert!(cycle.msg.contains("nested too deeply"), "{cycle}");
        let inner = parse_file(&dir.write("d.conf", "include bad.conf\n")).unwrap_err();
        let pos = inner.pos.unwrap();
        assert!(pos.file.ends_with("bad.conf") && pos.line == 2, "{pos}");
        let directory = parse_file(&dir.write("e.conf", "include sub\n"));
        std::fs::create_dir_all(dir.0.join("sub")).unwrap();
        assert!(directory.is_err());
        let no_file = parse_file(&dir.0.join("absent.conf")).unwrap_err();
        assert!(
            no_file.pos.is_none() && no_file.msg.contains("absent.conf"),
            "{no_file}"
        );
    }

    #[test]
    fn absolute_include_joins_like_go() {
        let dir = TempDir::new("abs");
        dir.write("etc/x.conf", "port: 9\n");
        let main = dir.write("main.conf", "include /etc/x.conf\n");
        let map = parse_file(&main).unwrap();
        assert_eq!(map.get("port").unwrap().value, Value::Int(9));
    }

    #[test]
    fn parse_str_includes_resolve_from_current_dir() {
        let dir = TempDir::new("cwd");
        dir.write("inc.conf", "port: 5\n");
        let cwd = std::env::current_dir().unwrap();
        let ups = cwd.components().skip(1).count();
        let target = dir.0.join("inc.conf");
        let abs = target.to_string_lossy();
        let rel = format!("{}{}", "../".repeat(ups), abs.trim_start_matches('/'));
        let map = parse(&format!("include \"{rel}\""));
        assert_eq!(map.get("port").unwrap().value, Value::Int(5));
    }

    #[test]
    fn durations_follow_go() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("-0", Some(Duration::ZERO)),
            ("5s", Some(ms(5000))),
            ("+5s", Some(ms(5000))),
            ("1m30s", Some(ms(90_000))),
            ("1h", Some(ms(3_600_000))),
            ("1.5h", Some(ms(5_400_000))),
            ("300ms", Some(ms(300))),
            (".5s", Some(ms(500))),
            ("1.s", Some(ms(1000))),
            ("2us", Some(Duration::from_micros(2))),
            ("2\u{b5}s", Some(Duration::from_micros(2))),
            ("2\u{3bc}s", Some(Duration::from_micros(2))),
            ("10ns", Some(Duration::from_nanos(10))),
            (
                "1h2m3s4ms5us6ns",
                Some(Duration::from_nanos(3_723_004_005_006)),
            ),
            ("1.000000001s", Some(Duration::from_nanos(1_000_000_001))),
            ("2562047h", Some(Duration::from_secs(2_562_047 * 3600))),
            ("2562048h", None),
            ("", None),
            ("5", None),
            ("s", None),
            (".s", None),
            ("-5s", None),
            ("1x", None),
            ("1.5.5s", None),
            ("1 s", None),
            ("--5s", None),
            ("5s ", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), *want, "input {text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep_arrays = format!("a: {}", "[".repeat(100_000));
        assert!(error_of(&deep_arrays).msg.contains("nested too deeply"));
        let deep_maps = format!("a {}", "{b ".repeat(100_000));
        assert!(error_of(&deep_maps).msg.contains("nested too deeply"));
        let ok = format!("a: {}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_str(&ok, "t").is_ok());
        let braces = format!("{}port: 1\n", "{".repeat(100_000));
        assert_eq!(value_of(&braces, "port"), Value::Int(1));
    }

    /// xorshift64*: deterministic, dependency-free randomness for the
    /// mutation test below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const SEEDS: &[&str] = &[
        "port: 4222\nmax_payload: 1MB\nhost: 0.0.0.0\n",
        "listen: 127.0.0.1:4222 # c\nauthorization { user: a, password: \"b\\x41\" }\n",
        "jetstream {\n store_dir: '/tmp/js'\n max_mem: 1GiB; max_file: 10G\n}\n",
        "accounts { A { users = [ {user: x, password: $P}, {nkey: Uabc} ] } }\nP: 'p'\n",
        "v: 5\na { b: $v, c: [1, 2.5, -3, \"s\", (\nblock\n)] }\n",
        "{ \"port\": 4222, \"cluster\": { \"routes\": [\"nats://a:6222\"] } }",
        "ping_interval: 2s\nwrite_deadline: \"10s\"\ndate: 2024-01-01T00:00:00Z\n",
        "// c\ninclude ./missing.conf\nx = 'y'\n",
        "tls { cert_file: \"./c.pem\"\n key_file: ./k.pem\n timeout: 2.5 }\n",
    ];

    const ALPHABET: &[char] = &[
        '{', '}', '[', ']', '(', ')', '"', '\'', '\\', '\n', '\r', '\t', ' ', ':', '=', ',', ';',
        '#', '/', '$', '-', '.', '0', '1', '9', 'k', 'B', 'i', 'x', 'e', 'T', 'Z', 'a', '\u{e9}',
        '\u{b5}', '\u{3000}', '\u{0}',
    ];

    fn mutate(rng: &mut Rng, mut text: Vec<char>) -> String {
        for _ in 0..=rng.below(8) {
            let at = rng.below(text.len() + 1);
            match rng.below(6) {
                0 => text.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                1 if at < text.len() => {
                    let end = (at + 1 + rng.below(6)).min(text.len());
                    text.drain(at..end);
                }
                2 => {
                    let len = rng.below(12).min(text.len() - at.min(text.len()));
                    let copy: Vec<char> = text[at..at + len].to_vec();
                    let to = rng.below(text.len() + 1);
                    text.splice(to..to, copy);
                }
                3 => text.truncate(at),
                4 if at < text.len() => text[at] = ALPHABET[rng.below(ALPHABET.len())],
                _ => {
                    let word = ["include ", "$v", "1MB", "true", "{", "[", "//", "2a$"];
                    text.splice(at..at, word[rng.below(word.len())].chars());
                }
            }
        }
        text.into_iter().collect()
    }

    fn check_positions(map: &Map) {
        for (key, value) in map.iter() {
            assert!(key.pos.line >= 1 && key.pos.col >= 1);
            check_value(value);
        }
    }

    fn check_value(value: &Spanned) {
        assert!(value.pos.line >= 1 && value.pos.col >= 1);
        match &value.value {
            Value::Map(map) => check_positions(map),
            Value::Array(items) => items.iter().for_each(check_value),
            _ => {}
        }
    }

    fn exercise(text: &str) {
        match parse_str(text, "fuzz.conf") {
            Ok(map) => check_positions(&map),
            Err(err) => assert!(err.pos.is_some(), "{text:?} gave {err}"),
        }
        let _ = parse_duration(text);
    }

    #[test]
    fn mutated_inputs_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..4000 {
            let seed: Vec<char> = SEEDS[rng.below(SEEDS.len())].chars().collect();
            exercise(&mutate(&mut rng, seed));
        }
        for _ in 0..1500 {
            let len = rng.below(80);
            let soup: String = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            exercise(&soup);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            exercise(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn every_prefix_of_the_seeds_is_handled() {
        for seed in SEEDS {
            let chars: Vec<char> = seed.chars().collect();
            for end in 0..=chars.len() {
                exercise(&chars[..end].iter().collect::<String>());
            }
        }
    }
}
