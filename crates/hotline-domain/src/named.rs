//! `named_enum!`: a fieldless enum with one stable wire name and one Chinese label per
//! variant, declared in one place. The wire name is what storage, the gRPC API and config files
//! carry (and serde reads and writes); the label is what people see. Every enum of the domain
//! that travels as a string is declared with it.

/// Declares `pub enum $name` with `ALL` (every variant, in declaration order), `as_str` (the
/// wire name), `label_zh` and `parse` (the inverse of `as_str`).
///
/// Exported for the other crates (`hotline_domain::named::named_enum!`): the derives name
/// `serde`, so a calling crate needs `serde` (with `derive`) among its dependencies.
#[macro_export]
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident {
        $($(#[$vm:meta])* $var:ident = $wire:literal, $zh:literal;)+
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }
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
        }
    );

    #[test]
    fn wire_names_labels_and_serde_agree() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(Colour::DarkBlue.label_zh(), "深蓝");
        assert_eq!(Colour::parse("Red"), None, "wire names are case-sensitive");
    }
}
