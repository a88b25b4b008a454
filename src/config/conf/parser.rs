//! The conf lexer and parser: a character `Cursor` that tracks line and
//! column, and a recursive-descent `Parser` that builds the value tree,
//! resolving `$variables` and `include`s as it goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::scalar::{bool_word, ends_number, int_value, is_size_suffix};
use super::{join_include, read_include, ConfError, Key, Map, Pos, Spanned, Value};

/// The parser recurses once per level; real configs stay under ten.
const MAX_NESTING: usize = 128;
/// An include cycle would otherwise recurse until the stack runs out.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Environment values are parsed and may reference further variables.
const MAX_ENV_DEPTH: usize = 32;

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

pub(super) struct Parser<'a, 'e> {
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
    pub(super) fn root(
        text: &'a str,
        file: Arc<str>,
        base_dir: PathBuf,
        env: EnvLookup<'e>,
    ) -> Self {
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

    pub(super) fn run(mut self) -> Result<Map, ConfError> {
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
