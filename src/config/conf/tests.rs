use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
        let dir = std::env::temp_dir().join(format!("confparse-{}-{tag}-{n}", std::process::id()));
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
    '{', '}', '[', ']', '(', ')', '"', '\'', '\\', '\n', '\r', '\t', ' ', ':', '=', ',', ';', '#',
    '/', '$', '-', '.', '0', '1', '9', 'k', 'B', 'i', 'x', 'e', 'T', 'Z', 'a', '\u{e9}', '\u{b5}',
    '\u{3000}', '\u{0}',
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
