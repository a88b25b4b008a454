//! What a client certificate says about who it is, for `verify_and_map`:
//! its e-mail, DNS and URI subject alternative names and its subject
//! distinguished name, read from the DER with a small walker (only the
//! fields mapping needs). A certificate that does not parse says nothing.

/// A DER element: its tag and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Splits the first DER element off `data`.
fn next_tlv(data: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Tlv {
            tag,
            body: &rest[..len],
        },
        &rest[len..],
    ))
}

/// The elements inside a constructed element's body.
fn children(body: &[u8]) -> impl Iterator<Item = Tlv<'_>> {
    let mut rest = body;
    std::iter::from_fn(move || {
        let (tlv, after) = next_tlv(rest)?;
        rest = after;
        Some(tlv)
    })
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const EXTENSIONS: u8 = 0xa3;
/// id-ce-subjectAltName, 2.5.29.17.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Names a client certificate carries, in the order mapping tries them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertNames {
    pub emails: Vec<String>,
    pub dns: Vec<String>,
    pub uris: Vec<String>,
    /// The subject's attributes in certificate order: (type, value).
    pub subject: Vec<(String, String)>,
}

impl CertNames {
    /// Reads the names of a DER certificate; empty if it does not parse.
    pub fn of(der: &[u8]) -> CertNames {
        Self::parse(der).unwrap_or_default()
    }

    fn parse(der: &[u8]) -> Option<CertNames> {
        let (cert, _) = next_tlv(der)?;
        let tbs = children(cert.body).next()?;
        let mut fields = children(tbs.body).peekable();
        // [0] version, if present.
        if fields.peek().is_some_and(|t| t.tag == 0xa0) {
            fields.next();
        }
        let _serial = fields.next()?;
        let _signature = fields.next()?;
        let _issuer = fields.next()?;
        let _validity = fields.next()?;
        let subject = fields.next()?;
        let mut names = CertNames {
            subject: subject_attributes(subject.body),
            ..CertNames::default()
        };
        for field in fields.filter(|f| f.tag == EXTENSIONS) {
            let Some(list) = children(field.body).next() else {
                continue;
            };
            for ext in children(list.body).filter(|e| e.tag == SEQUENCE) {
                let mut parts = children(ext.body);
                let Some(oid) = parts.next() else { continue };
                if oid.tag != OID || oid.body != SAN_OID {
                    continue;
                }
                let Some(value) = parts.find(|p| p.tag == OCTET_STRING) else {
                    continue;
                };
                let Some((seq, _)) = next_tlv(value.body) else {
                    continue;
                };
                for name in children(seq.body) {
                    let text = String::from_utf8_lossy(name.body).into_owned();
                    match name.tag {
                        0x81 => names.emails.push(text),
                        0x82 => names.dns.push(text),
                        0x86 => names.uris.push(text),
                        _ => {}
                    }
                }
            }
        }
        Some(names)
    }

    /// The subject as Go's `pkix.Name.String()` prints it (RFC 2253:
    /// last attribute first), which the reference also tries as a user name.
    pub fn subject_rfc2253(&self) -> String {
        self.subject
            .iter()
            .rev()
            .map(|(k, v)| format!("{k}={}", escape_dn(v)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether `name`, read as an RFC 4514 DN, is this subject: the same
    /// attributes (types compared without case), in order or not.
    pub fn subject_matches(&self, name: &str) -> bool {
        let Some(mut want) = parse_dn(name) else {
            return false;
        };
        if want.len() != self.subject.len() || want.is_empty() {
            return false;
        }
        let mut have: Vec<(String, String)> = self
            .subject
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect();
        if have.iter().rev().eq(want.iter()) || have == want {
            return true;
        }
        have.sort();
        want.sort();
        have == want
    }
}

/// The subject's attributes, in certificate order, for the types the
/// reference understands.
fn subject_attributes(body: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rdn in children(body).filter(|t| t.tag == SET) {
        for atv in children(rdn.body).filter(|t| t.tag == SEQUENCE) {
            let mut parts = children(atv.body);
            let (Some(oid), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(name) = attribute_name(oid.body) else {
                continue;
            };
            out.push((
                name.to_string(),
                String::from_utf8_lossy(value.body).into_owned(),
            ));
        }
    }
    out
}

fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "SERIALNUMBER",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x11] => "POSTALCODE",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        _ => return None,
    })
}

fn escape_dn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An RFC 4514 DN as (TYPE, value) pairs in written order; `None` if it
/// is not one.
fn parse_dn(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut parts = Vec::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '+' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    for p in parts {
        let (k, v) = p.split_once('=')?;
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return None;
        }
        out.push((k.to_ascii_uppercase(), v.trim_start().to_string()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["bob.example.com".to_string()]).unwrap();
        p.subject_alt_names.push(rcgen::SanType::Rfc822Name(
            "alice@example.com".try_into().unwrap(),
        ));
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::CountryName, "US");
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme Co");
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "carol");
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn names_of_a_certificate() {
        let n = CertNames::of(&cert());
        assert_eq!(n.emails, ["alice@example.com"]);
        assert_eq!(n.dns, ["bob.example.com"]);
        assert_eq!(n.subject_rfc2253(), "CN=carol,O=Acme Co,C=US");
        assert!(n.subject_matches("CN=carol, O=Acme Co, C=US"));
        assert!(n.subject_matches("C=US,O=Acme Co,CN=carol"));
        assert!(n.subject_matches("o=Acme Co,cn=carol,c=US"));
        assert!(!n.subject_matches("CN=carol,O=Acme"));
        assert!(!n.subject_matches("alice"));
        assert_eq!(CertNames::of(b"\x30\x03junk"), CertNames::default());
        assert_eq!(CertNames::of(b""), CertNames::default());
    }
}
