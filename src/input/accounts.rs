//! Account input: the body of `POST /v1/accounts` (also a line of a JSONL accounts import)
//! and a row of an accounts CSV, each converted into the command that opens the account.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commands::OpenAccount;
use crate::domain::vocab::{Scope, Segment, Stage};

/// Body of `POST /v1/accounts`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountRequest {
    pub account_id: String,
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    /// ISO 4217 code; every sale of the account must be in it.
    pub currency: String,
    /// Defaults to `exploratory`.
    pub relationship_stage: Option<Stage>,
}

impl From<OpenAccountRequest> for OpenAccount {
    /// An absent stage is `exploratory`.
    fn from(body: OpenAccountRequest) -> OpenAccount {
        OpenAccount {
            account_id: body.account_id,
            name: body.name,
            scope: body.scope,
            segment: body.segment,
            manager: body.manager,
            currency: body.currency,
            stage: body.relationship_stage.unwrap_or(Stage::Exploratory),
        }
    }
}

/// Column names of an accounts CSV (and fields of a JSON account line).
pub const ACCOUNT_COLUMNS: &[&str] = &[
    "account_id",
    "name",
    "scope",
    "segment",
    "manager",
    "currency",
    "relationship_stage",
];

/// The account of a row in [`ACCOUNT_COLUMNS`] order, or why it cannot be one (a required
/// value missing, a scope, segment or stage not of its vocabulary).
pub fn account_from_row(row: Vec<Option<String>>) -> Result<OpenAccount, String> {
    let field = |i: usize| row[i].clone();
    let required = |i: usize| field(i).ok_or_else(|| format!("{} is required", ACCOUNT_COLUMNS[i]));
    Ok(OpenAccount {
        account_id: required(0)?,
        name: required(1)?,
        scope: required(2)?.parse()?,
        segment: field(3).map(|s| s.parse()).transpose()?,
        manager: field(4),
        currency: required(5)?,
        stage: field(6)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(Stage::Exploratory),
    })
}
