//! Counter streams (ADR-49, `allow_msg_counter`): a publish carries
//! `Nats-Incr: <integer>` and no body; the stream stores the subject's new
//! total as `{"val":"<total>"}`. Totals and increments are integers of any
//! size, as the reference's `big.Int`, kept here as decimal digits.

use std::cmp::Ordering;

/// A signed integer of any size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BigInt {
    negative: bool,
    /// Decimal digits, most significant first, no leading zeros ("0" is
    /// the empty vector).
    digits: Vec<u8>,
}

impl BigInt {
    pub(crate) fn zero() -> Self {
        BigInt {
            negative: false,
            digits: Vec::new(),
        }
    }

    /// Parses as Go's `SetString(s, 10)`: an optional sign, then decimal
    /// digits only.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: Vec<u8> = rest
            .bytes()
            .skip_while(|&b| b == b'0')
            .map(|b| b - b'0')
            .collect();
        Some(BigInt {
            negative: negative && !digits.is_empty(),
            digits,
        })
    }

    pub(crate) fn add(&self, other: &BigInt) -> BigInt {
        if self.negative == other.negative {
            return BigInt {
                negative: self.negative,
                digits: add_magnitudes(&self.digits, &other.digits),
            };
        }
        match compare_magnitudes(&self.digits, &other.digits) {
            Ordering::Equal => BigInt::zero(),
            Ordering::Greater => BigInt {
                negative: self.negative,
                digits: sub_magnitudes(&self.digits, &other.digits),
            },
            Ordering::Less => BigInt {
                negative: other.negative,
                digits: sub_magnitudes(&other.digits, &self.digits),
            },
        }
    }
}

impl std::fmt::Display for BigInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        for d in &self.digits {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

fn compare_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let (mut i, mut j, mut carry) = (a.len(), b.len(), 0u8);
    while i > 0 || j > 0 || carry > 0 {
        let mut sum = carry;
        if i > 0 {
            i -= 1;
            sum += a[i];
        }
        if j > 0 {
            j -= 1;
            sum += b[j];
        }
        out.push(sum % 10);
        carry = sum / 10;
    }
    out.reverse();
    out
}

/// `a - b` for `a >= b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let (mut i, mut j, mut borrow) = (a.len(), b.len(), 0i8);
    while i > 0 {
        i -= 1;
        let mut d = a[i] as i8 - borrow;
        if j > 0 {
            j -= 1;
            d -= b[j] as i8;
        }
        borrow = i8::from(d < 0);
        out.push((d + 10 * borrow) as u8);
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    out.reverse();
    out
}

/// The total a counter message's body holds: `{"val":"<integer>"}`;
/// `None` when the body is not that (a broken counter).
pub(crate) fn value_of(body: &[u8]) -> Option<BigInt> {
    #[derive(serde::Deserialize)]
    struct Value {
        val: String,
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    // An empty total reads as zero, as Go's SetString failure leaves it.
    if v.val.is_empty() {
        return Some(BigInt::zero());
    }
    Some(BigInt::parse(&v.val).unwrap_or_else(BigInt::zero))
}

/// The body stored for a total.
pub(crate) fn body_of(total: &BigInt) -> String {
    format!("{{\"val\":\"{total}\"}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(s: &str) -> BigInt {
        BigInt::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn parses_as_go() {
        for (s, want) in [
            ("5", "5"),
            ("+5", "5"),
            ("-0", "0"),
            ("007", "7"),
            ("-12", "-12"),
        ] {
            assert_eq!(big(s).to_string(), want);
        }
        for bad in ["", "+", "1.5", "1e3", " 1", "0x10", "1_000", "abc"] {
            assert!(BigInt::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn adds_any_size_and_sign() {
        let cases = [
            ("1", "2", "3"),
            ("999", "1", "1000"),
            ("-5", "3", "-2"),
            ("5", "-7", "-2"),
            ("-5", "-7", "-12"),
            ("7", "-7", "0"),
            ("1000", "-1", "999"),
            (
                "18446744073709551615",
                "18446744073709551615",
                "36893488147419103230",
            ),
            (
                "-100000000000000000000000000000",
                "1",
                "-99999999999999999999999999999",
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(big(a).add(&big(b)).to_string(), want, "{a} + {b}");
            assert_eq!(big(b).add(&big(a)).to_string(), want, "{b} + {a}");
        }
    }

    #[test]
    fn bodies() {
        assert_eq!(body_of(&big("-3")), r#"{"val":"-3"}"#);
        assert_eq!(value_of(br#"{"val":"42"}"#), Some(big("42")));
        assert_eq!(value_of(b"not json"), None);
        assert_eq!(value_of(br#"{"other":1}"#), None);
    }
}
