//! The top-level `accounts` block and `system_account`, as nats-server
//! reads them: each account's users (joining the auth list with the
//! account's name), `default_permissions`, `jetstream`, and the streams
//! and services it exports and imports.

use std::collections::HashSet;
use std::sync::Arc;

use super::auth::{permissions, users};
use super::conf::{Spanned, Value};
use super::options::Options;
use super::{string, type_error};
use crate::account::{
    AccountConfig, AccountJetStream, Export, Import, Kind, Local, ResponseType, GLOBAL_ACCOUNT,
};

/// Applies an `accounts` block: a map of accounts, or a list of names.
pub(super) fn apply_accounts(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let mut errors = Vec::new();
    let mut seen: HashSet<String> = opts.accounts.iter().map(|a| a.name.clone()).collect();
    match &v.value {
        Value::Array(names) => {
            for n in names {
                let name = string(n)?;
                if let Err(e) = check_name(&name, &mut seen) {
                    errors.push(format!("{}: {e}", n.pos));
                    continue;
                }
                opts.accounts.push(AccountConfig {
                    name,
                    ..AccountConfig::default()
                });
            }
        }
        Value::Map(map) => {
            for (key, value) in map.iter() {
                if key.used_as_variable {
                    continue;
                }
                let Value::Map(_) = &value.value else {
                    errors.push(format!("{}: Expected map entries for accounts", value.pos));
                    continue;
                };
                if let Err(e) = check_name(&key.name, &mut seen) {
                    errors.push(format!("{}: {e}", key.pos));
                    continue;
                }
                if let Err(e) = account(opts, &key.name, value) {
                    errors.push(e);
                }
            }
        }
        _ => return Err(type_error(v, "a map of accounts or a list of names")),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn check_name(name: &str, seen: &mut HashSet<String>) -> Result<(), String> {
    if name == GLOBAL_ACCOUNT {
        return Err(format!("{name:?} is a Reserved Account"));
    }
    if !seen.insert(name.to_string()) {
        return Err(format!("Duplicate Account Entry: {name}"));
    }
    Ok(())
}

/// One account's block.
fn account(opts: &mut Options, name: &str, v: &Spanned) -> Result<(), String> {
    let Value::Map(fields) = &v.value else {
        return Err(format!("{}: Expected map entries for accounts", v.pos));
    };
    let mut acc = AccountConfig {
        name: name.to_string(),
        ..AccountConfig::default()
    };
    let mut members = Vec::new();
    let mut defaults = None;
    let mut errors = Vec::new();
    for (key, value) in fields.iter() {
        if key.used_as_variable {
            continue;
        }
        let result = match key.name.to_ascii_lowercase().as_str() {
            "users" => users(value).map(|u| members = u),
            "default_permissions" => permissions(value).map(|p| defaults = Some(Arc::new(p))),
            "jetstream" => jetstream(value).map(|j| acc.jetstream = j),
            "exports" => list(value, "Exports", export).map(|e| acc.exports = e),
            "imports" => list(value, "Imports", import).map(|i| acc.imports = i),
            "mappings" | "maps" => {
                super::mappings::mappings(value).map(|m| acc.mappings = Some(Arc::new(m)))
            }
            "nkey" | "limits" | "msg_trace" | "trace_dest" => Err(format!(
                "\"accounts.{}\" is not supported by tern yet",
                key.name
            )),
            _ => Err(format!("unknown field \"{}\"", key.name)),
        };
        if let Err(msg) = result {
            errors.push(format!("{}: {msg}", key.pos));
        }
    }
    if !members.is_empty() && opts.auth.token.is_some() {
        errors.push(format!("{}: Can not have a token and accounts", v.pos));
    }
    for mut user in members {
        if opts.auth.users.iter().any(|u| u.name == user.name) {
            let what = if user.nkey.is_some() { "nkey" } else { "user" };
            errors.push(format!(
                "{}: Duplicate {what} {:?} detected",
                v.pos, user.name
            ));
            continue;
        }
        if user.permissions.is_none() {
            user.permissions = defaults.clone();
        }
        user.account = Some(name.to_string());
        opts.auth.users.push(user);
    }
    opts.accounts.push(acc);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// `jetstream: enabled | disabled | true | false | { max_mem, ... }`.
fn jetstream(v: &Spanned) -> Result<Option<AccountJetStream>, String> {
    match &v.value {
        Value::Bool(b) => Ok(b.then(AccountJetStream::default)),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => Ok(Some(AccountJetStream::default())),
            "disabled" | "disable" => Ok(None),
            _ => Err(format!(
                "Expected 'enabled' or 'disabled' for string value, got '{s}'"
            )),
        },
        Value::Map(fields) => {
            let mut js = AccountJetStream::default();
            for (key, value) in fields.iter() {
                let name = key.name.to_ascii_lowercase();
                let size = || {
                    value.value.as_int().map(Some).ok_or_else(|| {
                        format!(
                            "Expected a parseable size for {:?}, got {}",
                            key.name,
                            value.value.kind()
                        )
                    })
                };
                match name.as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => js.max_memory = size()?,
                    "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                        js.max_storage = size()?
                    }
                    "max_streams" | "streams" => js.max_streams = size()?,
                    "max_consumers" | "consumers" => js.max_consumers = size()?,
                    "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                        js.max_bytes_required = value.value.as_bool().ok_or_else(|| {
                            format!(
                                "Expected a parseable bool for {:?}, got {}",
                                key.name,
                                value.value.kind()
                            )
                        })?
                    }
                    "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                        js.memory_max_stream_bytes = size()?
                    }
                    "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                        js.storage_max_stream_bytes = size()?
                    }
                    "max_ack_pending" => js.max_ack_pending = size()?,
                    _ => return Err(format!("unknown field \"{}\"", key.name)),
                }
            }
            Ok(Some(js))
        }
        _ => Err(type_error(
            v,
            "enabled, disabled or a jetstream limits block",
        )),
    }
}

fn list<T>(
    v: &Spanned,
    what: &str,
    item: fn(&Spanned) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let Some(items) = v.value.as_array() else {
        return Err(format!("{what} should be an array"));
    };
    items.iter().map(item).collect()
}

/// `{stream: "subj"}` or `{service: "subj", response_type, accounts}`.
fn export(v: &Spanned) -> Result<Export, String> {
    let Value::Map(fields) = &v.value else {
        return Err(format!(
            "{}: Export Items should be a map with type entry",
            v.pos
        ));
    };
    let mut kind_subject: Option<(Kind, String)> = None;
    let mut accounts = Vec::new();
    let mut response_type = None;
    for (key, value) in fields.iter() {
        let key_pos = &key.pos;
        match key.name.to_ascii_lowercase().as_str() {
            k @ ("stream" | "service") => {
                let kind = entry_kind(k, kind_subject.as_ref().map(|(s, _)| *s), key_pos)?;
                kind_subject = Some((kind, string(value)?));
            }
            "accounts" => {
                accounts = value
                    .value
                    .as_array()
                    .ok_or_else(|| type_error(value, "a list of accounts"))?
                    .iter()
                    .map(string)
                    .collect::<Result<_, _>>()?
            }
            "response" | "response_type" => {
                let t = string(value)?;
                response_type = Some(match t.to_ascii_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => return Err(format!("{key_pos}: Unknown response type: {t:?}")),
                });
            }
            "threshold"
            | "response_threshold"
            | "latency"
            | "account_token_position"
            | "allow_trace" => {
                return Err(format!(
                    "{key_pos}: \"export.{}\" is not supported by tern yet",
                    key.name
                ))
            }
            _ => return Err(format!("{key_pos}: unknown field \"{}\"", key.name)),
        }
    }
    let Some((kind, subject)) = kind_subject else {
        return Err(format!(
            "{}: Export Items should be a map with type entry",
            v.pos
        ));
    };
    if response_type.is_some() && kind == Kind::Stream {
        return Err(format!(
            "{}: Detected response directive on non-service",
            v.pos
        ));
    }
    Ok(Export {
        kind,
        subject,
        accounts,
        response_type: response_type.unwrap_or_default(),
    })
}

/// The kind a `stream`/`service` key names; an entry has one, as the
/// reference insists.
fn entry_kind(key: &str, seen: Option<Kind>, pos: &impl std::fmt::Display) -> Result<Kind, String> {
    let kind = if key == "stream" {
        Kind::Stream
    } else {
        Kind::Service
    };
    match seen {
        Some(seen) => Err(format!(
            "{pos}: Detected {} but already saw a {}",
            kind.name(),
            seen.name()
        )),
        None => Ok(kind),
    }
}

/// `{stream: {account, subject}, prefix}` or `{service: {account,
/// subject}, to}`.
fn import(v: &Spanned) -> Result<Import, String> {
    let Value::Map(fields) = &v.value else {
        return Err(format!(
            "{}: Import Items should be a map with type entry",
            v.pos
        ));
    };
    let mut found: Option<(Kind, String, String)> = None;
    let (mut prefix, mut to) = (None, None);
    for (key, value) in fields.iter() {
        let key_pos = &key.pos;
        match key.name.to_ascii_lowercase().as_str() {
            k @ ("stream" | "service") => {
                let kind = entry_kind(k, found.as_ref().map(|(s, _, _)| *s), key_pos)?;
                let Value::Map(src) = &value.value else {
                    let what = if kind == Kind::Stream {
                        "Stream"
                    } else {
                        "Service"
                    };
                    return Err(format!("{key_pos}: {what} entry should be an account map"));
                };
                let (mut account, mut subject) = (None, None);
                for (k, v) in src.iter() {
                    match k.name.to_ascii_lowercase().as_str() {
                        "account" => account = Some(string(v)?),
                        "subject" => subject = Some(string(v)?),
                        _ => return Err(format!("{}: unknown field \"{}\"", k.pos, k.name)),
                    }
                }
                let (Some(account), Some(subject)) = (account, subject) else {
                    return Err(format!("{key_pos}: Expect an account name and a subject"));
                };
                found = Some((kind, account, subject));
            }
            "prefix" => prefix = Some(string(value)?),
            "to" => to = Some(string(value)?),
            "share" | "allow_trace" => {
                return Err(format!(
                    "{key_pos}: \"import.{}\" is not supported by tern yet",
                    key.name
                ))
            }
            _ => return Err(format!("{key_pos}: unknown field \"{}\"", key.name)),
        }
    }
    let Some((kind, account, subject)) = found else {
        return Err(format!(
            "{}: Import Items should be a map with type entry",
            v.pos
        ));
    };
    let local = match (prefix, to) {
        (Some(p), _) => Local::Prefix(p),
        (None, Some(t)) => Local::To(t),
        (None, None) => Local::Same,
    };
    Ok(Import {
        kind,
        account,
        subject,
        local,
    })
}

/// The reference's start-up checks once every block is read: imports and
/// exports name defined accounts, an import is one its exporter allows,
/// and `system_account` names an account.
pub(super) fn check_accounts(opts: &Options) -> Result<(), String> {
    let find = |name: &str| opts.accounts.iter().find(|a| a.name == name);
    for acc in &opts.accounts {
        for e in &acc.exports {
            for other in &e.accounts {
                if find(other).is_none() {
                    return Err(format!(
                        "{other:?} account not defined for {} export",
                        e.kind.name()
                    ));
                }
            }
        }
        for i in &acc.imports {
            let Some(exporter) = find(&i.account) else {
                return Err(format!(
                    "{:?} account not defined for {} import",
                    i.account,
                    i.kind.name()
                ));
            };
            let allowed = exporter.exports.iter().any(|e| {
                e.kind == i.kind
                    && tern_jetstream::subject::is_subset(&i.subject, &e.subject)
                    && (e.accounts.is_empty() || e.accounts.contains(&acc.name))
            });
            if !allowed {
                return Err(format!(
                    "Error adding {} import {:?}: {} import not authorized",
                    i.kind.name(),
                    i.subject,
                    i.kind.name()
                ));
            }
        }
    }
    if let Some(sys) = &opts.system_account {
        let operator_mode = opts.auth.trust.is_some();
        if !operator_mode && sys != crate::account::SYSTEM_ACCOUNT && find(sys).is_none() {
            return Err("error resolving system account: account missing".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    /// The reference's words for each refusal (its positions differ).
    #[test]
    fn refusals_in_the_reference_words() {
        for (conf, want) in [
            ("accounts { $G: { users: [{user: a}] } }\n", "\"$G\" is a Reserved Account"),
            (
                "accounts { B: { imports: [{stream: {account: Z, subject: x}}] } }\n",
                "\"Z\" account not defined for stream import",
            ),
            (
                "accounts { A: {}\n B: { imports: [{stream: {account: A, subject: x}}] } }\n",
                "Error adding stream import \"x\": stream import not authorized",
            ),
            (
                "accounts { A: { imports: [{service: {account: B, subject: x}}] }, B: { exports: [{service: y}] } }\n",
                "Error adding service import \"x\": service import not authorized",
            ),
            (
                "accounts { A: {} }\nsystem_account: Q\n",
                "error resolving system account: account missing",
            ),
            (
                "accounts { A: { users: [{user: a, password: a}] }, B: { users: [{user: a, password: b}] } }\n",
                "Duplicate user \"a\" detected",
            ),
            (
                "accounts { A: { exports: [{stream: x, response_type: stream}] } }\n",
                "Detected response directive on non-service",
            ),
            (
                "authorization { token: t }\naccounts { A: { users: [{user: a}] } }\n",
                "Can not have a token and accounts",
            ),
        ] {
            let e = load(conf).unwrap_err().to_string();
            assert!(e.contains(want), "{conf}: {e}");
        }
    }

    #[test]
    fn users_join_their_account() {
        let o = load(concat!(
            "accounts {\n",
            "  A: { users: [{user: a, password: a}], default_permissions: {publish: x},\n",
            "       jetstream: {max_mem: 1024, max_streams: 2},\n",
            "       exports: [{service: \"svc.>\", accounts: [B], response_type: chunked}] }\n",
            "  B: { users: [{user: b, password: b}], jetstream: enabled,\n",
            "       imports: [{service: {account: A, subject: svc.a}, to: local.a}] }\n",
            "  C: {}\n",
            "}\n",
            "system_account: C\n",
        ))
        .unwrap();
        let a = o.auth.users.iter().find(|u| u.name == "a").unwrap();
        assert_eq!(a.account.as_deref(), Some("A"));
        assert!(a.permissions.as_ref().unwrap().may_publish(b"x"));
        assert_eq!(o.accounts.len(), 3);
        let js = o.accounts[0].jetstream.clone().unwrap();
        assert_eq!((js.max_memory, js.max_streams), (Some(1024), Some(2)));
        assert_eq!(
            o.accounts[0].exports[0].response_type,
            ResponseType::Chunked
        );
        assert_eq!(o.accounts[1].imports[0].local_subject(), "local.a");
        assert_eq!(o.system_account.as_deref(), Some("C"));
        let o = load("accounts [X, Y]\n").unwrap();
        assert_eq!(o.accounts.len(), 2);
    }
}
