//! Rebate program input: the definition of a program (also a program of the demo's
//! `rebates.json`) and its command, the line scope it shares with contests, and an
//! enrollment.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commands::DefineProgram;
use crate::rules::calendar::PeriodKind;
use crate::rules::rebates::{RebateBasis, RebateMethod, RebateTier};

/// Which lines count: only these skus and/or categories (leave a list out for no restriction).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramScope {
    pub skus: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
}

/// Body of `POST /v1/rebate-programs`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineProgramRequest {
    pub program_id: String,
    pub name: String,
    pub currency: String,
    pub period: PeriodKind,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub basis: RebateBasis,
    pub method: RebateMethod,
    /// First `from` is "0", strictly increasing; `rate` is a percent for money bases, an
    /// amount per unit for `quantity`.
    pub tiers: Vec<RebateTier>,
    /// Most rebate per account per period ("50000.00").
    #[serde(default, with = "crate::domain::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub cap: Option<Decimal>,
    pub scope: Option<ProgramScope>,
    /// Only accounts in these tiers earn (tier at period end, or today while it is open).
    pub eligible_tiers: Option<Vec<String>>,
}

impl From<DefineProgramRequest> for DefineProgram {
    fn from(body: DefineProgramRequest) -> DefineProgram {
        let scope = body.scope.unwrap_or_default();
        DefineProgram {
            program_id: body.program_id,
            name: body.name,
            currency: body.currency,
            period: body.period,
            starts_on: body.starts_on,
            ends_on: body.ends_on,
            basis: body.basis,
            method: body.method,
            tiers: body.tiers,
            cap: body.cap,
            scope_skus: scope.skus,
            scope_categories: scope.categories,
            eligible_tiers: body.eligible_tiers,
        }
    }
}

/// Body of `POST /v1/rebate-programs/{id}/enrollments`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub account_id: String,
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
}
