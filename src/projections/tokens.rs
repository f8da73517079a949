//! Tokens read model: who may call the API, looked up by the SHA-256 of the bearer token.

use std::collections::BTreeMap;

use crate::domain::state::FastMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::events::Event;
use crate::domain::vocab::Role;
use crate::ledger::envelope::format_micros;

/// A token as listed to admins (never the token itself, which is not stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub created_by: String,
    pub revoked_at: Option<String>,
}

/// Tokens by name, and names by token hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokensProjection {
    by_name: BTreeMap<String, TokenView>,
    by_hash: FastMap<String, String>,
}

impl TokensProjection {
    /// Applies one event.
    pub fn apply(&mut self, recorded_at_micros: i64, actor: &str, event: &Event) {
        let recorded_at = || format_micros(recorded_at_micros);
        match event {
            Event::TokenIssued(e) => {
                self.by_hash.insert(e.token_sha256.clone(), e.name.clone());
                self.by_name.insert(
                    e.name.clone(),
                    TokenView {
                        name: e.name.clone(),
                        role: e.role,
                        created_at: recorded_at(),
                        created_by: actor.to_string(),
                        revoked_at: None,
                    },
                );
            }
            Event::TokenRevoked(e) => {
                if let Some(t) = self.by_name.get_mut(&e.name) {
                    t.revoked_at = Some(recorded_at());
                }
            }
            _ => {}
        }
    }

    /// The active token whose SHA-256 (hex) is `token_sha256`.
    pub fn authenticate(&self, token_sha256: &str) -> Option<&TokenView> {
        let name = self.by_hash.get(token_sha256)?;
        self.by_name.get(name).filter(|t| t.revoked_at.is_none())
    }

    /// All tokens by name.
    pub fn list(&self) -> impl Iterator<Item = &TokenView> {
        self.by_name.values()
    }

    /// One token by name.
    pub fn get(&self, name: &str) -> Option<&TokenView> {
        self.by_name.get(name)
    }
}
