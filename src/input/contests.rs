//! Sales contest input: the definition of a contest (also a contest of the demo's
//! `contests.json`) and its command, and the payment of a cash award.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::programs::ProgramScope;
use crate::domain::commands::DefineContest;
use crate::rules::contests::{ContestMetric, Prize};

/// Body of `POST /v1/contests`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineContestRequest {
    pub contest_id: String,
    pub name: String,
    /// The currency of net revenue and of cash prizes; accounts of other currencies do not take part.
    pub currency: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub metric: ContestMetric,
    /// Which lines count (leave out for all).
    pub scope: Option<ProgramScope>,
    /// Only accounts in these tiers on the last day take part (their tier must also be
    /// contest_eligible).
    pub eligible_tiers: Option<Vec<String>>,
    /// Accounts below it are listed, not ranked ("50000.00", "10" units or percent).
    #[serde(default, with = "crate::domain::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub min_metric: Option<Decimal>,
    /// Cash with an amount, goods or honor with a description; one per rank.
    pub prizes: Vec<Prize>,
}

impl From<DefineContestRequest> for DefineContest {
    fn from(body: DefineContestRequest) -> DefineContest {
        let scope = body.scope.unwrap_or_default();
        DefineContest {
            contest_id: body.contest_id,
            name: body.name,
            currency: body.currency,
            starts_on: body.starts_on,
            ends_on: body.ends_on,
            metric: body.metric,
            scope_skus: scope.skus,
            scope_categories: scope.categories,
            eligible_tiers: body.eligible_tiers,
            min_metric: body.min_metric,
            prizes: body.prizes,
        }
    }
}

/// Body of `POST /v1/contests/{id}/awards/{account_id}/paid`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaidRequest {
    /// The payment reference (credit note, payment run).
    pub reference: String,
    /// The day it was paid (default today, UTC).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub paid_on: Option<NaiveDate>,
}
