//! The closed vocabularies of key-account management (DESIGN §2, §6).

/// Declares a closed vocabulary: serde and text forms are the snake_case names, and
/// `FromStr` refuses anything else with the list of accepted words. Used for every closed
/// set of words in events and requests (here and in `rules/`). The label names the
/// vocabulary in error messages ("unknown rebate basis \"x\"; expected one of …").
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident $label:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every word of the vocabulary, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word as it appears in JSON, CSV and events.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted words joined for error messages.
            pub fn expected() -> String {
                [$($text),+].join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} \"{}\"; expected one of {}", $label, other, $name::expected())),
                }
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// Where a key account trades: across countries, across provinces, or within one region.
    Scope "scope" { Global => "global", National => "national", Local => "local" }
);

vocabulary!(
    /// Why the account matters (DESIGN §2).
    Segment "segment" { Economic => "economic", Important => "important", Group => "group", Strategic => "strategic" }
);

vocabulary!(
    /// Relationship stage, ordered from the first contact to full integration.
    Stage "stage" {
        Exploratory => "exploratory",
        Basic => "basic",
        Cooperative => "cooperative",
        Interdependent => "interdependent",
        Integrated => "integrated",
    }
);

vocabulary!(
    /// Roles a bearer token can hold (DESIGN §6).
    Role "role" {
        Auditor => "auditor",
        Manager => "manager",
        Finance => "finance",
        Planner => "planner",
        Ingest => "ingest",
        Admin => "admin",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_and_order() {
        // Proves text forms round-trip, unknown words are refused, and stages are ordered.
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>().unwrap(), *stage);
        }
        assert!(Stage::Exploratory < Stage::Integrated);
        let err = "Global".parse::<Scope>().unwrap_err();
        assert!(err.contains("\"Global\"") && err.contains("global, national, local"));
        assert_eq!(serde_json::to_string(&Role::Ingest).unwrap(), "\"ingest\"");
    }
}
