//! Shared pieces of the wire types: the `skip_serializing_if` tests for
//! Go's `omitempty`, and `wire_enum!` for Go enums written as strings.

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// A Go enum that is a lower-case string on the wire. An unknown value is
/// refused as Go's `UnmarshalJSON` does: `can not unmarshal "\"x\""` by
/// default, a fixed text (`unknown = "..."`), or a text followed by the
/// value as sent (`unknown_prefix = "unknown consumer action: "`); so is
/// `null`.
macro_rules! wire_enum {
    (@unknown $token:ident) => {
        $token.error()
    };
    (@unknown $token:ident unknown $text:literal) => {
        serde::de::Error::custom($text)
    };
    (@unknown $token:ident unknown_prefix $prefix:literal) => {
        serde::de::Error::custom(format!("{}{}", $prefix, $token.raw))
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
     $($how:ident = $unknown:literal)?) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The value as the JSON writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let token = <$crate::api::json::RawToken as serde::Deserialize>::deserialize(d)?;
                match token.text.as_deref() {
                    $(Some($text) => Ok(Self::$variant),)+
                    _ => Err(wire_enum!(@unknown token $($how $unknown)?)),
                }
            }
        }
    };
}
