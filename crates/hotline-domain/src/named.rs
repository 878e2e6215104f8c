//! `named_enum!`: a fieldless enum with one stable wire name and one Chinese label per
//! variant, declared in one place. The wire name is what storage, the gRPC API and config files
//! carry (serde reads and writes exactly that name, whatever the variant is called); the
//! label is what people see. Every enum of the domain
//! that travels as a string is declared with it.

/// Declares `pub enum $name` with `ALL` (every variant, in declaration order), `as_str` (the
/// wire name), `label_zh` and `parse` (the inverse of `as_str`).
///
/// Exported for the other crates (`hotline_domain::named::named_enum!`): the serde impls name
/// `serde`, so a calling crate needs `serde` among its dependencies. An unknown name fails to
/// deserialize with the list of the known ones.
#[macro_export]
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident {
        $($(#[$vm:meta])* $var:ident = $wire:literal, $zh:literal;)+
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&v)
                    .ok_or_else(|| serde::de::Error::unknown_variant(&v, &[$($wire),+]))
            }
        }
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$var),+];
            /// Stable name used in storage, the API and config files.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $wire),+ } }
            /// Name shown to people (zh-CN).
            pub fn label_zh(self) -> &'static str { match self { $($name::$var => $zh),+ } }
            /// The variant whose wire name is `s`.
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }
    };
}
pub use crate::named_enum;

#[cfg(test)]
mod tests {
    named_enum!(
        /// A test enum.
        Colour {
            /// The first.
            Red = "red", "红";
            DarkBlue = "dark_blue", "深蓝";
            /// A wire name that is not the variant's snake case.
            InProgress = "inProgress", "进行中";
        }
    );

    #[test]
    fn wire_names_labels_and_serde_agree() {
        assert_eq!(
            Colour::ALL,
            [Colour::Red, Colour::DarkBlue, Colour::InProgress]
        );
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(Colour::DarkBlue.label_zh(), "深蓝");
        assert_eq!(Colour::parse("Red"), None, "wire names are case-sensitive");
        let e = serde_json::from_str::<Colour>("\"in_progress\"").unwrap_err();
        assert!(e.to_string().contains("inProgress"), "{e}");
    }
}
