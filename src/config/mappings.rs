//! `mappings` (or `maps`) at the top of the config (the global account's)
//! and in an account: subject -> destination, or -> a list of
//! `{ destination, weight, cluster }`, with the reference's errors.

use super::conf::{Spanned, Value};
use super::type_error;
use crate::mapping::{MapDest, Mappings};

/// Reads a mappings block; every bad entry is reported, each with its
/// position.
pub(super) fn mappings(v: &Spanned) -> Result<Mappings, String> {
    let Value::Map(map) = &v.value else {
        return Err(type_error(v, "a map of subject mappings"));
    };
    let mut out = Mappings::default();
    let mut errors = Vec::new();
    for (key, value) in map.iter() {
        if key.used_as_variable {
            continue;
        }
        let subject = key.name.as_str();
        if !tern_jetstream::subject::is_valid_subject(subject.as_bytes()) {
            errors.push(format!(
                "{}: Subject {subject:?} is not a valid subject",
                key.pos
            ));
            continue;
        }
        let added = match &value.value {
            Value::Str(dest) => out
                .add(
                    subject,
                    &[MapDest {
                        subject: dest.clone(),
                        weight: 100,
                        cluster: None,
                    }],
                )
                .map_err(|e| format!("Error adding mapping for {subject:?} to {dest:?} : {e}")),
            Value::Array(items) => {
                let mut dests = Vec::new();
                for item in items {
                    match map_dest(item) {
                        Ok(d) => dests.push(d),
                        Err(e) => errors.push(format!("{}: {e}", item.pos)),
                    }
                }
                out.add(subject, &dests)
                    .map_err(|e| format!("Error adding mapping for {subject:?} : {e}"))
            }
            Value::Map(_) => match map_dest(value) {
                Ok(d) => out
                    .add(subject, &[d])
                    .map_err(|e| format!("Error adding mapping for {subject:?} : {e}")),
                Err(e) => Err(e),
            },
            other => Err(format!(
                "Unknown type {} for mapping destination",
                other.kind()
            )),
        };
        if let Err(e) = added {
            errors.push(format!("{}: {e}", value.pos));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// One `{ destination, weight, cluster }` entry.
fn map_dest(v: &Spanned) -> Result<MapDest, String> {
    let Value::Map(map) = &v.value else {
        return Err("Expected an entry for the mapping destination".to_string());
    };
    let mut dest = MapDest {
        subject: String::new(),
        weight: 0,
        cluster: None,
    };
    let mut weighted = false;
    for (key, value) in map.iter() {
        match key.name.to_ascii_lowercase().as_str() {
            "dest" | "destination" => dest.subject = super::string(value)?,
            "weight" => {
                let weight = match &value.value {
                    Value::Str(s) => {
                        let w = s.strip_suffix('%').unwrap_or(s);
                        let n: i64 = w
                            .parse()
                            .map_err(|_| format!("Invalid weight {w:?} for mapping destination"))?;
                        n
                    }
                    Value::Int(n) => *n,
                    other => {
                        return Err(format!("Unknown entry type for weight of {}", other.kind()))
                    }
                };
                dest.weight = u8::try_from(weight)
                    .ok()
                    .filter(|w| *w <= 100)
                    .ok_or_else(|| format!("Invalid weight {weight} for mapping destination"))?;
                weighted = true;
            }
            "cluster" => dest.cluster = Some(super::string(value)?),
            _ => {
                return Err(format!(
                    "Unknown field {:?} for mapping destination",
                    key.name
                ))
            }
        }
    }
    if !weighted {
        return Err(format!(
            "Missing weight for mapping destination {:?}",
            dest.subject
        ));
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use crate::mapping::Mapped;

    #[test]
    fn forms_and_weights() {
        let o = load(concat!(
            "mappings {\n",
            "  a: b\n",
            "  \"w.*\": [{destination: \"w1.$1\", weight: 40%}, {dest: \"w2.$1\", weight: 60}]\n",
            "  one: {destination: two, weight: \"100%\"}\n",
            "}\n",
            "accounts { A: { mappings: { x: y } } }\n",
        ))
        .expect("loads");
        let m = o.mappings.expect("global mappings");
        assert_eq!(m.select(b"a"), Mapped::To("b".into()));
        assert_eq!(m.select(b"one"), Mapped::To("two".into()));
        assert!(matches!(m.select(b"w.k"), Mapped::To(s) if &*s == "w1.k" || &*s == "w2.k"));
        let a = o.accounts[0].mappings.as_ref().expect("account mappings");
        assert_eq!(a.select(b"x"), Mapped::To("y".into()));
        assert_eq!(a.select(b"a"), Mapped::Keep);
    }

    #[test]
    fn bad_mappings_are_refused_with_the_references_words() {
        let cases = [
            (
                "mappings { \"a b\": c }",
                "Subject \"a b\" is not a valid subject",
            ),
            (
                "mappings { a: [{destination: b, weight: 60}, {destination: c, weight: 50}] }",
                "Error adding mapping for \"a\" : total weight needs to be <= 100",
            ),
            (
                "mappings { a: [{destination: b}] }",
                "Missing weight for mapping destination \"b\"",
            ),
            (
                "mappings { a: [{destination: b, weight: 101}] }",
                "Invalid weight 101 for mapping destination",
            ),
            (
                "mappings { a: [{destination: b, weight: 5, nope: 1}] }",
                "Unknown field \"nope\" for mapping destination",
            ),
            (
                "mappings { \"a.*\": \"b.{{wildcard(2)}}\" }",
                "Error adding mapping for \"a.*\" to \"b.{{wildcard(2)}}\" : invalid mapping \
                 destination: wildcard index out of range in {{wildcard(2)}}: [2]",
            ),
            ("mappings { a: 5 }", "Unknown type"),
        ];
        for (text, want) in cases {
            let e = load(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
