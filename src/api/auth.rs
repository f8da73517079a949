//! Bearer-token authentication and role rights (DESIGN §6). Tokens are random, shown
//! once, and stored only as their SHA-256; the token itself is never logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::AppState;
use crate::domain::vocab::Role;
use crate::kernel::token::token_sha256;
use crate::ledger::Actor;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Read accounts, reports and the audit log (every role but `ingest`).
    Read,
    /// Open, update, stage and close accounts.
    ManageAccounts,
    /// Post sales and returns.
    Ingest,
    /// Issue, list and revoke tokens.
    ManageTokens,
    /// Publish tier policies, grant and revoke tier overrides.
    ManagePolicy,
    /// Grant and revoke discounts.
    ManageDiscounts,
    /// Define and end rebate programs, enroll accounts, settle, mark contest awards paid.
    ManagePrograms,
    /// Define and close sales contests.
    ManageContests,
    /// Declare seasons, revise capacities, request and withdraw, plan and commit.
    ManageSeasons,
    /// Take a backup of the whole ledger (it holds every account and token hash).
    Backup,
}

impl Right {
    /// True when `role` holds this right.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Right::Read => role != Role::Ingest,
            Right::ManageAccounts => matches!(role, Role::Manager | Role::Admin),
            Right::Ingest => matches!(role, Role::Ingest | Role::Admin),
            Right::ManageTokens | Right::ManagePolicy | Right::Backup => role == Role::Admin,
            Right::ManageDiscounts => matches!(role, Role::Manager | Role::Admin),
            Right::ManagePrograms => matches!(role, Role::Finance | Role::Admin),
            Right::ManageContests => matches!(role, Role::Manager | Role::Admin),
            Right::ManageSeasons => matches!(role, Role::Planner | Role::Admin),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// 403 `forbidden` unless the caller's role holds `right`.
    pub fn require(&self, right: Right) -> Result<(), ApiError> {
        if right.allows(self.role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("role {} may not do this ({right:?} is needed)", self.role),
            ))
        }
    }

    /// The actor recorded in events.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            role: self.role.to_string(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized =
            |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send Authorization: Bearer TOKEN"))?;
        let token = header
            .to_str()
            .ok()
            // The scheme name is case-insensitive (RFC 9110 §11.1): "bearer" is fine too.
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer TOKEN\""))?;
        let hash = token_sha256(token);
        let read = state.engine.read();
        let found = read
            .tokens
            .authenticate(&hash)
            .ok_or_else(|| unauthorized("the token is unknown or revoked"))?;
        Ok(Caller {
            name: found.name.clone(),
            role: found.role,
        })
    }
}
