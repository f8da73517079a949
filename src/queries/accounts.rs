//! Key accounts as known at a cutoff: one account, or a filtered page of them.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::entitlements::tier_of;
use super::{account_known, next_page, QueryError};
use crate::domain::vocab::{Scope, Segment};
use crate::projections::{AccountView, ReadModel};

/// An account with its stream version (for `expected_version`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    #[serde(flatten)]
    pub account: AccountView,
    /// Number of events in the account's stream; send it back as `expected_version`.
    pub version: u64,
    /// The account's tier on `as_of` (only when the list is filtered by tier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountResponse>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<String>,
}

/// Which accounts a page lists (every field optional: `None` lets all through).
#[derive(Debug, Default)]
pub struct AccountFilter<'a> {
    /// Cursor: the last account id of the previous page.
    pub after: Option<&'a str>,
    pub scope: Option<Scope>,
    pub segment: Option<Segment>,
    pub manager: Option<&'a str>,
    /// `open` or `closed`.
    pub status: Option<&'a str>,
    /// Only accounts in this tier on the page's `as_of`.
    pub tier: Option<&'a str>,
}

/// The account and its stream version as known at `cutoff`.
pub fn account(
    read: &ReadModel,
    account_id: &str,
    cutoff: u64,
) -> Result<AccountResponse, QueryError> {
    Ok(AccountResponse {
        account: account_known(read, account_id, cutoff)?,
        version: read.account_version_at(account_id, cutoff)?,
        tier: None,
    })
}

/// Up to `limit` accounts passing `filter` as known at `cutoff`, in id order; a tier
/// filter measures each account's tier on `as_of`.
pub fn accounts_page(
    read: &ReadModel,
    filter: &AccountFilter<'_>,
    as_of: NaiveDate,
    cutoff: u64,
    limit: usize,
) -> Result<AccountPage, QueryError> {
    let mut accounts: Vec<AccountResponse> = read
        .accounts
        .list_described(filter.after, cutoff)
        .filter(|a| filter.scope.is_none_or(|s| a.scope == s))
        .filter(|a| filter.segment.is_none_or(|s| a.segment == Some(s)))
        .filter(|a| {
            filter
                .manager
                .is_none_or(|m| a.manager.as_deref() == Some(m))
        })
        .filter(|a| filter.status.is_none_or(|s| a.status == s))
        .filter_map(|account| match filter.tier {
            None => Some(Ok((account, None))),
            Some(wanted) => match tier_of(read, &account, as_of, cutoff) {
                Ok(tier) => (tier == wanted).then_some(Ok((account, Some(tier)))),
                Err(e) => Some(Err(e)),
            },
        })
        .take(limit + 1)
        .map(|found| {
            let (account, tier) = found?;
            let account = read.with_lines(account, cutoff)?;
            let version = read.account_version_at(&account.account_id, cutoff)?;
            Ok(AccountResponse {
                account,
                version,
                tier,
            })
        })
        .collect::<Result<_, QueryError>>()?;
    let next_after = next_page(&mut accounts, limit, |a| a.account.account_id.clone());
    Ok(AccountPage {
        accounts,
        next_after,
    })
}
