//! Discounts (DESIGN §5.3): those applicable to an account on a day, and the one that
//! applies.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::{account_known, QueryError};
use crate::domain::incentives::Discount;
use crate::projections::ReadModel;

/// Discounts applicable to an account on a day, and the one that applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicableDiscounts {
    pub account_id: String,
    #[schema(value_type = String, format = Date)]
    pub on: NaiveDate,
    pub sku: Option<String>,
    pub category: Option<String>,
    /// Highest percent first.
    pub applicable: Vec<Discount>,
    /// The highest applicable percent (ties: the smaller discount_id); null when none applies.
    pub effective: Option<Discount>,
    /// Every discount of the account, applicable or not.
    pub all: Vec<Discount>,
}

/// The discount as it stands now (its revocation included), or 404 `discount_not_found`.
pub fn discount(read: &ReadModel, id: &str) -> Result<Discount, QueryError> {
    let found = read.incentives.discount(id).ok_or_else(|| {
        QueryError::not_found(
            "discount_not_found",
            format!("no discount with id \"{id}\""),
        )
    })?;
    Ok(read
        .incentives
        .discounts(&found.account_id, u64::MAX)
        .into_iter()
        .find(|d| d.discount_id == id)
        .unwrap_or_else(|| found.clone()))
}

/// What is being priced: a sku, a category, or neither (discounts of every scope).
#[derive(Debug, Default)]
pub struct DiscountItem {
    pub sku: Option<String>,
    pub category: Option<String>,
}

/// The account's discounts as known at `cutoff` that apply on `on` to `item`, highest
/// percent first (ties: the smaller id), the one that applies, and every discount.
pub fn applicable(
    read: &ReadModel,
    account_id: &str,
    on: NaiveDate,
    item: DiscountItem,
    cutoff: u64,
) -> Result<ApplicableDiscounts, QueryError> {
    account_known(read, account_id, cutoff)?;
    let all = read.incentives.discounts(account_id, cutoff);
    let mut applicable: Vec<Discount> = all
        .iter()
        .filter(|d| d.applies(on, item.sku.as_deref(), item.category.as_deref(), cutoff))
        .cloned()
        .collect();
    applicable.sort_by(|a, b| {
        b.percent
            .cmp(&a.percent)
            .then_with(|| a.discount_id.cmp(&b.discount_id))
    });
    let effective = applicable.first().cloned();
    Ok(ApplicableDiscounts {
        account_id: account_id.to_string(),
        on,
        sku: item.sku,
        category: item.category,
        applicable,
        effective,
        all,
    })
}
