//! The `tls { }` block and the `--tls*` flags, as nats-server reads them.

use std::path::PathBuf;
use std::time::Duration;

use super::conf::{Spanned, Value};
use super::options::Options;
use crate::tls::{HandshakeFirst, TlsConfig, AUTO_FALLBACK};

/// Applies a `tls` block; its files are read when the options are
/// validated.
pub(super) fn apply_tls(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    opts.tls = Some(parse_tls(v)?);
    Ok(())
}

/// Reads a `tls` block (the server's, or the websocket port's) and loads
/// its files, so a bad one is refused at start-up.
pub(super) fn parse_tls(v: &Spanned) -> Result<TlsConfig, String> {
    let tls = parse_tls_fields(v)?;
    tls.load().map_err(|e| e.0)?;
    Ok(tls)
}

/// Reads a `tls` block's fields without loading them as a server's: the
/// caller loads them for its side (a leaf remote, as a client).
pub(super) fn parse_tls_fields(v: &Spanned) -> Result<TlsConfig, String> {
    let Value::Map(fields) = &v.value else {
        return Err("error parsing tls config, expected a map".into());
    };
    let mut tls = TlsConfig::default();
    for (key, value) in fields.iter() {
        if key.used_as_variable {
            continue;
        }
        let name = key.name.to_ascii_lowercase();
        let at = |m: String| format!("{}: {m}", key.pos);
        match name.as_str() {
            "cert_file" | "key_file" | "ca_file" => {
                let Value::Str(s) = &value.value else {
                    return Err(at(format!(
                        "error parsing tls config, expected '{name}' to be filename"
                    )));
                };
                let path = Some(PathBuf::from(s));
                match name.as_str() {
                    "cert_file" => tls.cert_file = path,
                    "key_file" => tls.key_file = path,
                    _ => tls.ca_file = path,
                }
            }
            "verify" | "verify_and_map" => {
                let Value::Bool(b) = value.value else {
                    return Err(at(format!(
                        "error parsing tls config, expected '{name}' to be a boolean"
                    )));
                };
                if name == "verify_and_map" {
                    tls.map_users = b;
                }
                tls.verify |= b;
            }
            "timeout" => tls.timeout = timeout(value).map_err(at)?,
            "handshake_first" | "first" | "immediate" => {
                tls.handshake_first = handshake_first(value).map_err(at)?;
            }
            "insecure" => {}
            "cipher_suites"
            | "curve_preferences"
            | "pinned_certs"
            | "min_version"
            | "allow_insecure_cipher_suites"
            | "connection_rate_limit"
            | "certs"
            | "certificates"
            | "ocsp_peer"
            | "cert_store"
            | "cert_match"
            | "cert_match_by"
            | "verify_cert_and_check_known_urls" => {
                return Err(at(format!(
                    "\"tls.{}\" is not supported by tern yet",
                    key.name
                )));
            }
            _ => {
                return Err(at(format!(
                    "error parsing tls config, unknown field \"{}\"",
                    key.name
                )))
            }
        }
    }
    Ok(tls)
}

/// Seconds (whole or fractional) or a duration string.
fn timeout(v: &Spanned) -> Result<Duration, String> {
    match &v.value {
        Value::Int(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok(Duration::from_secs_f64(*f)),
        Value::Str(s) => super::duration(v).map_err(|_| {
            format!("error parsing tls config, 'timeout' time: invalid duration {s:?}")
        }),
        _ => Err("error parsing tls config, 'timeout' wrong type".into()),
    }
}

/// `true`/`false`, `"auto"`, or a duration to wait for a ClientHello.
fn handshake_first(v: &Spanned) -> Result<HandshakeFirst, String> {
    match &v.value {
        Value::Bool(true) => Ok(HandshakeFirst::On),
        Value::Bool(false) => Ok(HandshakeFirst::Off),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok(HandshakeFirst::On),
            "false" | "off" => Ok(HandshakeFirst::Off),
            "auto" | "auto_fallback" => Ok(HandshakeFirst::Fallback(AUTO_FALLBACK)),
            _ => match super::duration(v) {
                Ok(d) if d.is_zero() => Ok(HandshakeFirst::On),
                Ok(d) => Ok(HandshakeFirst::Fallback(d)),
                Err(_) => Err(format!(
                    "field \"handshake_first\"'s value {s:?} is invalid"
                )),
            },
        },
        Value::Int(_) => {
            Err("field \"handshake_first\" should be a boolean or a string, got int64".into())
        }
        _ => Err("field \"handshake_first\" should be a boolean or a string".into()),
    }
}

/// The flags: any of them turns TLS on, built from the flags alone (a
/// block's timeout and handshake_first kept); `--tls=false` turns it off.
pub(super) fn apply_flags(
    opts: &mut Options,
    tls: Option<bool>,
    cert: Option<&str>,
    key: Option<&str>,
    ca: Option<&str>,
    verify: Option<bool>,
) -> Result<(), String> {
    if tls == Some(false) {
        opts.tls = None;
        return Ok(());
    }
    let any = tls == Some(true)
        || cert.is_some()
        || key.is_some()
        || ca.is_some()
        || verify == Some(true);
    if !any {
        return Ok(());
    }
    let kept = opts.tls.take().unwrap_or_default();
    let Some(cert) = cert else {
        return Err("TLS Server certificate must be present and valid".into());
    };
    let Some(key) = key else {
        return Err("TLS Server private key must be present and valid".into());
    };
    let config = TlsConfig {
        cert_file: Some(PathBuf::from(cert)),
        key_file: Some(PathBuf::from(key)),
        ca_file: ca.map(PathBuf::from),
        verify: verify == Some(true),
        map_users: false,
        timeout: kept.timeout,
        handshake_first: kept.handshake_first,
    };
    config.load().map_err(|e| e.0)?;
    opts.tls = Some(config);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn refusals_in_the_reference_words() {
        for (conf, want) in [
            (
                "tls {\n  cert_file: \"/nonexistent.pem\"\n}\n",
                "missing 'key_file' in TLS configuration",
            ),
            (
                "tls {\n  cert_file: \"/a.pem\"\n  key_file: \"/b.pem\"\n}\n",
                "error parsing X509 certificate/key pair: open /a.pem: no such file or directory",
            ),
            (
                "tls {\n  foo: 1\n}\n",
                "error parsing tls config, unknown field \"foo\"",
            ),
            (
                "tls {\n  verify: 1\n}\n",
                "error parsing tls config, expected 'verify' to be a boolean",
            ),
            (
                "tls {\n  cert_file: 1\n}\n",
                "error parsing tls config, expected 'cert_file' to be filename",
            ),
            (
                "tls {\n  timeout: \"abc\"\n}\n",
                "error parsing tls config, 'timeout' time: invalid duration \"abc\"",
            ),
            (
                "tls {\n  handshake_first: \"xyz\"\n}\n",
                "field \"handshake_first\"'s value \"xyz\" is invalid",
            ),
        ] {
            let e = load(conf).unwrap_err().to_string();
            assert!(e.contains(want), "{conf}: {e}");
        }
    }

    #[test]
    fn handshake_first_forms() {
        let v = |text: &str| {
            let map = super::super::conf::parse_str(&format!("x: {text}\n"), "t").unwrap();
            handshake_first(map.get("x").unwrap())
        };
        assert_eq!(v("true"), Ok(HandshakeFirst::On));
        assert_eq!(v("\"off\""), Ok(HandshakeFirst::Off));
        assert_eq!(v("auto"), Ok(HandshakeFirst::Fallback(AUTO_FALLBACK)));
        assert_eq!(
            v("\"300ms\""),
            Ok(HandshakeFirst::Fallback(Duration::from_millis(300)))
        );
        assert_eq!(v("\"0s\""), Ok(HandshakeFirst::On));
        assert!(v("3").is_err());
    }
}
