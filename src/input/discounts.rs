//! Discount input: the body of `POST /v1/discounts` (also a discount of the demo's
//! `incentives.json`) and its command.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commands::GrantDiscount;
use crate::domain::events::DiscountScope;

/// Body of `POST /v1/discounts`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantDiscountRequest {
    pub discount_id: String,
    pub account_id: String,
    /// Percent off, as a string ("5", "7.5"); at most the tier's max_discount_pct on valid_from.
    #[serde(with = "crate::domain::stored::decimal")]
    #[schema(value_type = String)]
    pub percent: Decimal,
    pub scope: DiscountScope,
    /// The sku or category, for those scopes.
    pub scope_value: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}

impl From<GrantDiscountRequest> for GrantDiscount {
    fn from(body: GrantDiscountRequest) -> GrantDiscount {
        GrantDiscount {
            discount_id: body.discount_id,
            account_id: body.account_id,
            percent: body.percent,
            scope: body.scope,
            scope_value: body.scope_value,
            valid_from: body.valid_from,
            valid_to: body.valid_to,
            reason: body.reason,
        }
    }
}
