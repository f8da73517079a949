//! Bearer tokens as an administrator lists them (names, roles, when issued and revoked;
//! never the token or its hash).

use serde::Serialize;
use utoipa::ToSchema;

use super::QueryError;
use crate::projections::ReadModel;
pub use crate::projections::TokenView;

/// All tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Every token, in name order.
pub fn tokens(read: &ReadModel) -> TokenList {
    TokenList {
        tokens: read.tokens.list().cloned().collect(),
    }
}

/// The token just revoked.
pub fn revoked(read: &ReadModel, name: &str) -> Result<TokenView, QueryError> {
    read.tokens
        .get(name)
        .cloned()
        .ok_or_else(|| QueryError::Inconsistent("revoked token vanished".into()))
}
