//! The `authorization { }` block and `no_auth_user`, as nats-server reads
//! them: a token, or a single user and password, or a `users` list; and
//! `timeout`, the auth timeout in seconds.

use std::sync::Arc;
use std::time::Duration;

use super::conf::{Key, Spanned, Value};
use super::options::Options;
use super::{string, type_error};
use crate::auth::{Secret, User};
use crate::nkey::{KeyKind, PublicKey};
use crate::permissions::{Entry, Permissions, ResponseRule, Rules};

/// Applies an `authorization` block.
pub(super) fn apply_authorization(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let Value::Map(block) = &v.value else {
        return Err(type_error(v, "an authorization block"));
    };
    let mut errors = Vec::new();
    let (mut user, mut password) = (None, None);
    for (key, value) in block.iter() {
        if key.used_as_variable {
            continue;
        }
        let result = match key.name.to_ascii_lowercase().as_str() {
            "token" => string(value).map(|t| opts.auth.token = Some(Secret::new(t))),
            "user" | "username" => string(value).map(|u| user = Some(u)),
            "pass" | "password" => string(value).map(|p| password = Some(p)),
            "timeout" => seconds(value).map(|d| opts.auth_timeout = d),
            "users" => users(value).map(|list| opts.auth.users.extend(list)),
            "default_permissions" => {
                permissions(value).map(|p| opts.auth.default_permissions = Some(Arc::new(p)))
            }
            _ => Err(unsupported_or_unknown(key, "authorization")),
        };
        if let Err(msg) = result {
            errors.push(format!("{}: {msg}", key.pos));
        }
    }
    if let Some(name) = user {
        opts.auth
            .users
            .push(User::new(name, password.unwrap_or_default()));
    }
    if opts.auth.token.is_some() && !opts.auth.users.is_empty() {
        errors.push(format!("{}: Can not have a token and a users array", v.pos));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// `users: [ {user, password}, ... ]`.
pub(super) fn users(v: &Spanned) -> Result<Vec<User>, String> {
    let list = v
        .value
        .as_array()
        .ok_or_else(|| type_error(v, "a list of users"))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let Value::Map(fields) = &item.value else {
            return Err(type_error(item, "a user block"));
        };
        let (mut name, mut password, mut nkey, mut perms) = (None, None, None, None);
        for (key, value) in fields.iter() {
            match key.name.to_ascii_lowercase().as_str() {
                "user" | "username" => name = Some(string(value)?),
                "pass" | "password" => password = Some(string(value)?),
                "nkey" => nkey = Some(string(value)?),
                "permission" | "permissions" | "authorization" => {
                    perms = Some(Arc::new(permissions(value)?))
                }
                _ => return Err(unsupported_or_unknown(key, "user")),
            }
        }
        // The reference's checks and words.
        let mut user = match (nkey, name) {
            (Some(public), name) => {
                let key = PublicKey::decode(&public, KeyKind::User)
                    .map_err(|_| format!("{}: Not a valid public nkey for a user", item.pos))?;
                if name.is_some() || password.is_some() {
                    return Err(format!(
                        "{}: Nkey users do not take usernames or passwords",
                        item.pos
                    ));
                }
                User::with_nkey(public, key)
            }
            (None, Some(name)) => User::new(name, password.unwrap_or_default()),
            (None, None) => return Err(format!("{}: User entry requires a user", item.pos)),
        };
        user.permissions = perms;
        out.push(user);
    }
    Ok(out)
}

/// `permissions { publish, subscribe }`: each a list or a single subject
/// (what is allowed), or `{ allow, deny }`.
pub(super) fn permissions(v: &Spanned) -> Result<Permissions, String> {
    let Value::Map(fields) = &v.value else {
        return Err(type_error(v, "a permissions block"));
    };
    let mut p = Permissions::default();
    for (key, value) in fields.iter() {
        match key.name.to_ascii_lowercase().as_str() {
            "publish" | "pub" => p.publish = rules(value)?,
            "subscribe" | "sub" => p.subscribe = rules(value)?,
            "allow_responses" | "publish_allow_responses" | "response" | "responses" => {
                p.responses = response_rule(value)?;
            }
            _ => return Err(format!("{}: unknown field \"{}\"", key.pos, key.name)),
        }
    }
    Ok(p)
}

/// `allow_responses: true|false` or `{ max, expires }` (absent fields
/// take the reference's defaults: one response within two minutes).
fn response_rule(v: &Spanned) -> Result<Option<ResponseRule>, String> {
    match &v.value {
        Value::Bool(b) => Ok(b.then(ResponseRule::default)),
        Value::Map(fields) => {
            let mut r = ResponseRule::default();
            for (key, value) in fields.iter() {
                match key.name.to_ascii_lowercase().as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        r.max = u32::try_from(super::int(value)?)
                            .map_err(|_| format!("{}: max out of range", value.pos))?;
                    }
                    "expires" | "expiration" | "ttl" => r.expires = super::duration(value)?,
                    _ => return Err(format!("{}: unknown field \"{}\"", key.pos, key.name)),
                }
            }
            Ok(Some(r))
        }
        _ => Err(type_error(v, "true, false or a { max, expires } block")),
    }
}

fn rules(v: &Spanned) -> Result<Rules, String> {
    match &v.value {
        Value::Map(fields) => {
            let mut r = Rules::default();
            for (key, value) in fields.iter() {
                match key.name.to_ascii_lowercase().as_str() {
                    "allow" => r.allow = Some(entries(value)?),
                    "deny" => r.deny = entries(value)?,
                    _ => return Err(format!("{}: unknown field \"{}\"", key.pos, key.name)),
                }
            }
            Ok(r)
        }
        _ => Ok(Rules {
            allow: Some(entries(v)?),
            deny: Vec::new(),
        }),
    }
}

/// A subject list, or one subject.
fn entries(v: &Spanned) -> Result<Vec<Entry>, String> {
    match &v.value {
        Value::Str(s) => Ok(vec![Entry::parse(s)]),
        Value::Array(items) => items
            .iter()
            .map(|i| string(i).map(|s| Entry::parse(&s)))
            .collect(),
        _ => Err(type_error(v, "a subject or a list of subjects")),
    }
}

/// Keys of the block that later work brings (permissions, NKeys,
/// connection types) are named as not supported yet; others are unknown.
fn unsupported_or_unknown(key: &Key, block: &str) -> String {
    const LATER: &[&str] = &[
        "allowed_connection_types",
        "connection_types",
        "clients",
        "account",
        "auth_callout",
    ];
    if LATER.contains(&key.name.to_ascii_lowercase().as_str()) {
        format!("\"{block}.{}\" is not supported by tern yet", key.name)
    } else {
        format!("unknown field \"{}\"", key.name)
    }
}

/// Seconds, whole or fractional (`timeout: 0.5`), or a duration string.
fn seconds(v: &Spanned) -> Result<Duration, String> {
    match &v.value {
        Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok(Duration::from_secs_f64(*f)),
        _ => super::duration(v),
    }
}

/// The reference's start-up check: `no_auth_user` must name a user.
pub(super) fn check_no_auth_user(opts: &Options) -> Result<(), String> {
    match &opts.auth.no_auth_user {
        Some(name) if !opts.auth.users.iter().any(|u| &u.name == name) => Err(format!(
            "no_auth_user: \"{name}\" not present as user or nkey in authorization block or account configuration"
        )),
        _ => Ok(()),
    }
}

/// The reference's start-up checks of the `websocket` block's own
/// authorization and cookies.
pub(super) fn check_websocket_auth(opts: &Options) -> Result<(), String> {
    let Some(ws) = &opts.websocket else {
        return Ok(());
    };
    if let Some(name) = &ws.auth.no_auth_user {
        if !opts.auth.users.iter().any(|u| &u.name == name) {
            return Err(format!(
                "websocket: no_auth_user: \"{name}\" not present as user or nkey in authorization block or account configuration"
            ));
        }
    }
    if !opts.auth.users.is_empty() {
        if ws.auth.user.is_some() {
            return Err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .into(),
            );
        }
        if ws.auth.token.is_some() {
            return Err(
                "websocket authentication token not compatible with presence of users/nkeys".into(),
            );
        }
    }
    if let Some(cookie) = &ws.cookies.jwt {
        if opts.auth.trust.is_none() {
            return Err(format!(
                "trusted operators or trusted keys configuration is required for JWT authentication via cookie {cookie:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;
    use crate::proto::connect::ConnectOptions;

    fn signs_in(o: &Options, connect: &str) -> bool {
        o.auth
            .check(&ConnectOptions::parse(connect.as_bytes()).unwrap(), "")
            .is_ok()
    }

    #[test]
    fn token_user_and_users_forms() {
        let o = load("authorization { token: \"s3cr3t\", timeout: 0.5 }").unwrap();
        assert!(signs_in(&o, r#"{"auth_token":"s3cr3t"}"#));
        assert_eq!(o.auth_timeout, Duration::from_millis(500));
        let o = load("authorization { user: alice, password: pw }").unwrap();
        assert!(signs_in(&o, r#"{"user":"alice","pass":"pw"}"#));
        let o = load(
            "authorization { timeout: 3, users: [ {user: a, password: x}, {username: b, pass: y} ] }\nno_auth_user: b\n",
        )
        .unwrap();
        assert!(signs_in(&o, r#"{"user":"a","pass":"x"}"#));
        assert!(signs_in(&o, "{}"));
        assert_eq!(o.auth_timeout, Duration::from_secs(3));
    }

    #[test]
    fn refusals_name_the_problem_and_place() {
        let e = load("authorization {\n token: t\n users: [ {user: a, password: x} ]\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Can not have a token and a users array"), "{e}");
        let e = load("authorization {\n users: [ {user: a, password: x, nkey: y} ]\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Not a valid public nkey for a user"), "{e}");
        let nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
        let e = load(&format!(
            "authorization {{\n users: [ {{user: a, nkey: {nkey}}} ]\n}}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Nkey users do not take usernames or passwords"),
            "{e}"
        );
        let e = load("authorization {\n users: [ {password: x} ]\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("User entry requires a user"), "{e}");
        let o = load(&format!(
            "authorization {{ users: [ {{nkey: {nkey}, permissions: {{publish: a}}}} ] }}\nno_auth_user: {nkey}\n"
        ))
        .unwrap();
        assert!(o.auth.nonce_required());
        assert!(o.auth.users[0].permissions.is_some());
        let e = load(
            "authorization {\n users: [ {user: a, allowed_connection_types: [STANDARD]} ]\n}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("\"user.allowed_connection_types\" is not supported by tern yet"),
            "{e}"
        );
        let o = load(
            "authorization {\n users: [ {user: a, permissions: {allow_responses: {max: 3, expires: \"1m\"}}} ]\n}\n",
        )
        .unwrap();
        let rule = o.auth.users[0].permissions.as_ref().unwrap().responses;
        assert_eq!(
            rule,
            Some(ResponseRule {
                max: 3,
                expires: Duration::from_secs(60)
            })
        );
        let o = load("authorization { users: [ {user: a, password: x, permissions: {publish: [\"a.>\"], subscribe: {allow: \"b\", deny: [\"b.c q\"]}}} ] }").unwrap();
        let p = o.auth.users[0].permissions.clone().unwrap();
        assert!(p.may_publish(b"a.b") && !p.may_publish(b"x"));
        assert!(p.may_subscribe(b"b", None) && !p.may_subscribe(b"c", None));
        let e = load("authorization {\n bogus: 1\n}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.conf:2:2") && e.contains("unknown field \"bogus\""),
            "{e}"
        );
        let e = load("authorization { users: [ {user: a, password: x} ] }\nno_auth_user: z\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no_auth_user: \"z\" not present as user"), "{e}");
        let e = load("authorization: 5\n").unwrap_err().to_string();
        assert!(e.contains("expected an authorization block"), "{e}");
    }
}
