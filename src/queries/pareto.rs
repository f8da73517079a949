//! The 20/80 (Pareto) report of net revenue by account.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::QueryError;
use crate::domain::money::round_to_minor_unit;
use crate::projections::ReadModel;
use crate::rules::calendar::window_start;
use crate::rules::pareto::{pareto, ParetoReport};
use crate::rules::tiers::{WINDOW_MONTHS_MAX, WINDOW_MONTHS_MIN};

/// The Pareto report of one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrencyPareto {
    pub currency: String,
    #[serde(flatten)]
    pub report: ParetoReport,
}

/// Why a report cannot be made as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("accounts trade in several currencies ({0}); pass currency=")]
    CurrencyRequired(String),
    #[error("window_months must be from {WINDOW_MONTHS_MIN} to {WINDOW_MONTHS_MAX}, got {0}")]
    InvalidWindow(u32),
    #[error("{0}")]
    Overflow(#[from] crate::domain::limits::Overflow),
}

impl From<ReportError> for QueryError {
    fn from(e: ReportError) -> QueryError {
        QueryError::unprocessable(e.code(), e.to_string())
    }
}

impl ReportError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::CurrencyRequired(_) => "currency_required",
            ReportError::InvalidWindow(_) => "invalid_window",
            ReportError::Overflow(_) => "overflow",
        }
    }
}

/// Net revenue by account over the `window_months` months up to `as_of`, ranked, with
/// cumulative shares and the share of the top 20% of accounts. Accounts of one currency.
pub fn pareto_report(
    read: &ReadModel,
    as_of: NaiveDate,
    window_months: u32,
    currency: Option<&str>,
) -> Result<CurrencyPareto, ReportError> {
    if !(WINDOW_MONTHS_MIN..=WINDOW_MONTHS_MAX).contains(&window_months) {
        return Err(ReportError::InvalidWindow(window_months));
    }
    let cutoff = read.head_position();
    let accounts: Vec<_> = read.accounts.list_described(None, cutoff).collect();
    let currency = match currency {
        Some(c) => c.to_string(),
        None => {
            let mut currencies: Vec<&str> = accounts.iter().map(|a| a.currency.as_str()).collect();
            currencies.sort_unstable();
            currencies.dedup();
            match currencies.as_slice() {
                [] => "CNY".to_string(),
                [one] => one.to_string(),
                many => return Err(ReportError::CurrencyRequired(many.join(", "))),
            }
        }
    };
    let start = window_start(as_of, window_months);
    let rows = accounts
        .iter()
        .filter(|a| a.currency == currency)
        .map(|a| {
            (
                a.account_id.clone(),
                read.daily(&a.account_id)
                    .map(|d| d.net_between(start, as_of))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut report = pareto(rows, start, as_of, window_months)?;
    report.total_net_revenue = round_to_minor_unit(report.total_net_revenue, &currency);
    for row in &mut report.rows {
        row.net_revenue = round_to_minor_unit(row.net_revenue, &currency);
    }
    Ok(CurrencyPareto { currency, report })
}

/// The report as CSV: one row per account.
pub fn pareto_csv(report: &CurrencyPareto) -> String {
    let mut out =
        String::from("rank,account_id,net_revenue,share_pct,cumulative_share_pct,currency\n");
    for row in &report.report.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            row.rank,
            row.account_id,
            row.net_revenue,
            row.share_pct,
            row.cumulative_share_pct,
            report.currency
        ));
    }
    out
}
