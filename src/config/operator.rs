//! Operator mode keys: `operator` (a JWT file or the JWT itself),
//! `resolver` (`MEMORY`, or `{ type: full|cache, dir }`) and
//! `resolver_preload`; assembled into the auth's trust once the whole file
//! is read.

use std::collections::HashMap;
use std::path::PathBuf;

use super::conf::{Spanned, Value};
use super::options::Options;
use super::string;
use crate::auth::operator::{Resolver, Trust};

/// What the keys said, before the file is fully read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorKeys {
    /// Keys whose account JWTs are trusted, from every `operator` JWT: each
    /// operator's key and its signing keys.
    pub keys: Vec<String>,
    /// The system account the first operator JWT names, if any.
    pub system_account: Option<String>,
    /// `resolver`, as read; `None` when the file has none.
    pub resolver: Option<Resolver>,
    /// `resolver_preload`: account public key to account JWT.
    pub preload: HashMap<String, String>,
}

pub(super) fn apply_operator(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let sources: Vec<String> = match &v.value {
        Value::Str(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(string).collect::<Result<_, _>>()?,
        _ => return Err("error parsing operators: unsupported type".into()),
    };
    for source in sources {
        let (keys, system) = Trust::operator(&source).map_err(|e| e.0)?;
        opts.operator.keys.extend(keys);
        if opts.operator.system_account.is_none() {
            opts.operator.system_account = system;
        }
    }
    Ok(())
}

pub(super) fn apply_resolver(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let resolver = match &v.value {
        Value::Str(s)
            if s.trim().eq_ignore_ascii_case("MEMORY") || s.trim().eq_ignore_ascii_case("MEM") =>
        {
            Resolver::Memory
        }
        Value::Str(s) => {
            return Err(format!("\"resolver: {s}\" is not supported by tern yet"));
        }
        Value::Map(fields) => {
            let mut dir = None;
            for (key, value) in fields.iter() {
                match key.name.to_ascii_lowercase().as_str() {
                    "dir" => dir = Some(PathBuf::from(string(value)?)),
                    "type" => {
                        let t = string(value)?;
                        if !matches!(t.to_ascii_lowercase().as_str(), "full" | "cache") {
                            return Err(format!("{}: unsupported resolver type {t:?}", key.pos));
                        }
                    }
                    "allow_delete" | "interval" | "limit" | "ttl" | "timeout" | "hard_delete" => {}
                    _ => return Err(format!("{}: unknown field \"{}\"", key.pos, key.name)),
                }
            }
            Resolver::Dir(dir.unwrap_or_else(|| PathBuf::from(".")))
        }
        _ => return Err("resolver must be MEMORY or a resolver block".into()),
    };
    opts.operator.resolver = Some(resolver);
    Ok(())
}

pub(super) fn apply_preload(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let Value::Map(entries) = &v.value else {
        return Err("preload should be a map of account_public_key:account_jwt".into());
    };
    for (key, value) in entries.iter() {
        let Value::Str(token) = &value.value else {
            return Err(format!(
                "{}: preload map value should be a string JWT",
                value.pos
            ));
        };
        crate::jwt::decode(token, crate::jwt::ClaimKind::Account)
            .map_err(|_| format!("{}: invalid account JWT", value.pos))?;
        opts.operator
            .preload
            .insert(key.name.clone(), token.clone());
    }
    Ok(())
}

/// Once the file is read: an operator makes the server trust it.
pub(super) fn assemble(opts: &mut Options) {
    if opts.operator.keys.is_empty() {
        return;
    }
    let o = &opts.operator;
    opts.auth.trust = Some(Trust {
        keys: o.keys.clone(),
        system_account: opts
            .system_account
            .clone()
            .or_else(|| o.system_account.clone()),
        resolver: o.resolver.clone().unwrap_or(Resolver::Memory),
        preload: o.preload.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn refusals() {
        for (conf, want) in [
            (
                "operator: /nonexistent/op.jwt\n",
                "error parsing operator JWT: open /nonexistent/op.jwt: no such file or directory",
            ),
            (
                "operator: \"eyJ0.x.y\"\n",
                "error parsing operator JWT: invalid JWT",
            ),
            (
                "resolver_preload: { AABC: \"eyJ0.x.y\" }\n",
                "invalid account JWT",
            ),
            (
                "resolver_preload: 1\n",
                "preload should be a map of account_public_key:account_jwt",
            ),
            ("resolver: URL(http://x)\n", "is not supported by tern yet"),
        ] {
            let e = load(conf).unwrap_err().to_string();
            assert!(e.contains(want), "{conf}: {e}");
        }
    }

    #[test]
    fn resolver_without_operator_trusts_nothing() {
        let o = load("resolver: MEMORY\n").unwrap();
        assert!(o.auth.trust.is_none());
        assert_eq!(o.operator.resolver, Some(Resolver::Memory));
    }
}
