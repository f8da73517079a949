//! The closed vocabularies of key-account management (DESIGN §2, §6).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// Declares a closed vocabulary: serde and text forms are the snake_case names, and
/// `FromStr` refuses anything else with the list of accepted words.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} \"{}\"; expected one of {}", stringify!($name).to_lowercase(), other, $name::expected())),
                }
            }
        }
    };
}

vocabulary!(
    /// Where a key account trades: across countries, across provinces, or within one region.
    Scope { Global => "global", National => "national", Local => "local" }
);

vocabulary!(
    /// Why the account matters (DESIGN §2).
    Segment { Economic => "economic", Important => "important", Group => "group", Strategic => "strategic" }
);

vocabulary!(
    /// Relationship stage, ordered from the first contact to full integration.
    Stage {
        Exploratory => "exploratory",
        Basic => "basic",
        Cooperative => "cooperative",
        Interdependent => "interdependent",
        Integrated => "integrated",
    }
);

vocabulary!(
    /// Roles a bearer token can hold (DESIGN §6).
    Role {
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
