//! An account's sales by month, category and sku, net of returns of each month's sales.

use serde::Serialize;
use utoipa::ToSchema;

use super::{account_known, QueryError};
use crate::projections::sales::MonthSummary;
use crate::projections::ReadModel;
use crate::rules::calendar::month_first_day;

/// An account's sales by month, category and sku.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesSummary {
    pub account_id: String,
    pub currency: String,
    pub from: String,
    pub to: String,
    /// Months with sales, in order; each net of the returns of its sales.
    pub months: Vec<MonthSummary>,
}

/// The months `from..=to` (month indexes) of an account's sales as known at `cutoff`.
pub fn sales_summary(
    read: &ReadModel,
    account_id: &str,
    from: i32,
    to: i32,
    cutoff: u64,
) -> Result<SalesSummary, QueryError> {
    let account = account_known(read, account_id, cutoff)?;
    let months = read
        .breakdown_at(account_id, cutoff)?
        .months(from, to, &account.currency);
    let label = |m: i32| month_first_day(m).format("%Y-%m").to_string();
    Ok(SalesSummary {
        account_id: account_id.to_string(),
        currency: account.currency,
        from: label(from),
        to: label(to),
        months,
    })
}
