//! Live contest standings (DESIGN §5.5): each account's metric over the contest window from
//! its line facts, its tier on the contest's last day, then `rules::contests::rank`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use serde::Serialize;
use utoipa::ToSchema;

use super::{next_page, QueryError};
use crate::domain::contests::{AwardPayment, Contest};
use crate::domain::events::contest_stream;
use crate::domain::money::round_to_minor_unit;
use crate::domain::Command;
use crate::projections::ReadModel;
use crate::rules::calendar::add_months_clamped;
use crate::rules::contests::{growth_pct, rank, AwardedPrize, ContestMetric, Entrant, Standing};

/// Reason of an account whose tier on the contest's last day may not win contests.
pub const REASON_TIER_NOT_CONTEST_ELIGIBLE: &str = "tier_not_contest_eligible";
/// Reason of an account whose tier is not among the contest's eligible_tiers.
pub const REASON_TIER_NOT_ELIGIBLE: &str = "tier_not_eligible";

/// The days a contest measures as of `as_of`: from starts_on to the earlier of `as_of` and
/// ends_on (empty, start after end, before the contest starts).
pub fn window(contest: &Contest, as_of: NaiveDate) -> (NaiveDate, NaiveDate) {
    (contest.starts_on, as_of.min(contest.ends_on))
}

/// The same days one year earlier (the growth baseline), clamped at month ends.
pub fn baseline_window(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    (add_months_clamped(from, -12), add_months_clamped(to, -12))
}

/// One pass over an account's in-scope lines (returns on their sale's date): net revenue
/// and quantity with a sale date in `window`, and net revenue in `baseline`.
fn measure(
    read: &ReadModel,
    contest: &Contest,
    account_id: &str,
    window: (NaiveDate, NaiveDate),
    baseline: (NaiveDate, NaiveDate),
) -> Result<(Decimal, Decimal, Decimal), QueryError> {
    let (mut net, mut quantity, mut baseline_net) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let scoped = !(contest.scope_skus.is_empty() && contest.scope_categories.is_empty());
    let within = |(from, to): (NaiveDate, NaiveDate), day: NaiveDate| from <= day && day <= to;
    for line in read.accruals.lines(account_id, read.head_position())? {
        let (current, earlier) = (
            within(window, line.sale_date),
            within(baseline, line.sale_date),
        );
        if !(current || earlier)
            || (scoped
                && !contest.in_scope(
                    read.accruals.name(line.sku),
                    read.accruals.name(line.category),
                ))
        {
            continue;
        }
        // Saturating: within `domain::limits` these sums stay within ±10^18.
        if current {
            net = net.saturating_add(line.net);
            quantity = quantity.saturating_add(line.quantity);
        }
        if earlier {
            baseline_net = baseline_net.saturating_add(line.net);
        }
    }
    Ok((net, quantity, baseline_net))
}

/// The standings of `contest` as of `as_of`, from the log as the read model holds it: every
/// account of the contest's currency, measured over the window, its tier taken on the
/// earlier of `as_of` and the contest's last day.
pub fn standings(
    read: &ReadModel,
    contest: &Contest,
    as_of: NaiveDate,
) -> Result<Vec<Standing>, QueryError> {
    let cutoff = read.head_position();
    let (from, to) = window(contest, as_of);
    let baseline = baseline_window(from, to);
    let tier_day = to.max(contest.starts_on);
    let entrants: Vec<Entrant> = read
        .accounts
        .list_described(None, cutoff)
        .filter(|a| a.currency == contest.currency)
        .map(|account| {
            let id = account.account_id.as_str();
            let metric = if from > to {
                Some(match contest.metric {
                    ContestMetric::NetRevenue => {
                        round_to_minor_unit(Decimal::ZERO, &contest.currency)
                    }
                    ContestMetric::Quantity | ContestMetric::GrowthPct => Decimal::ZERO,
                })
            } else {
                let (net, quantity, previous) = measure(read, contest, id, (from, to), baseline)?;
                match contest.metric {
                    ContestMetric::NetRevenue => Some(round_to_minor_unit(net, &contest.currency)),
                    ContestMetric::Quantity => Some(quantity.normalize()),
                    ContestMetric::GrowthPct => growth_pct(net, previous),
                }
            };
            let entitlement = read.incentives.entitlement(
                id,
                tier_day,
                cutoff,
                read.daily(id),
                account.relationship_stage,
            );
            let ineligible_reason = if !entitlement.entitlements.contest_eligible {
                Some(REASON_TIER_NOT_CONTEST_ELIGIBLE.to_string())
            } else if !contest.eligible_tiers.is_empty()
                && !contest.eligible_tiers.contains(&entitlement.tier)
            {
                Some(REASON_TIER_NOT_ELIGIBLE.to_string())
            } else {
                None
            };
            Ok(Entrant {
                account_id: account.account_id,
                metric,
                eligible: ineligible_reason.is_none(),
                ineligible_reason,
            })
        })
        .collect::<Result<_, QueryError>>()?;
    Ok(rank(
        entrants,
        contest.min_metric,
        &contest.prizes,
        &contest.currency,
    ))
}

/// 404 `contest_not_found`.
pub fn not_found(id: &str) -> QueryError {
    QueryError::not_found("contest_not_found", format!("no contest with id \"{id}\""))
}

/// A contest with its stream version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestResponse {
    #[serde(flatten)]
    pub contest: Contest,
    /// `open` until closed, then `closed`.
    pub status: &'static str,
    pub version: u64,
}

/// A page of contests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestPage {
    pub contests: Vec<ContestResponse>,
    pub next_after: Option<String>,
}

/// The contest with its status and stream version at `cutoff`.
fn contest_view(read: &ReadModel, contest: Contest, cutoff: u64) -> ContestResponse {
    ContestResponse {
        status: contest.status(),
        version: read.stream_version_at(&contest_stream(&contest.contest_id), cutoff),
        contest,
    }
}

/// The contest as known at `cutoff`, or 404 `contest_not_found`.
fn contest_known(read: &ReadModel, id: &str, cutoff: u64) -> Result<Contest, QueryError> {
    read.contests
        .get(id)
        .and_then(|c| c.at(cutoff))
        .ok_or_else(|| not_found(id))
}

/// The contest as known at `cutoff`, or 404 `contest_not_found`.
pub fn contest(read: &ReadModel, id: &str, cutoff: u64) -> Result<ContestResponse, QueryError> {
    Ok(contest_view(read, contest_known(read, id, cutoff)?, cutoff))
}

/// Up to `limit` contests known at `cutoff` after the cursor `after`, in id order.
pub fn contests_page(
    read: &ReadModel,
    after: Option<&str>,
    cutoff: u64,
    limit: usize,
) -> ContestPage {
    let mut contests: Vec<ContestResponse> = read
        .contests
        .list(after, cutoff)
        .take(limit + 1)
        .map(|contest| contest_view(read, contest, cutoff))
        .collect();
    let next_after = next_page(&mut contests, limit, |c| c.contest.contest_id.clone());
    ContestPage {
        contests,
        next_after,
    }
}

/// The awards of the contest as known at `cutoff` (none while it is open), or 404.
pub fn awards(read: &ReadModel, id: &str, cutoff: u64) -> Result<AwardList, QueryError> {
    let contest = contest_known(read, id, cutoff)?;
    Ok(AwardList {
        contest_id: contest.contest_id.clone(),
        currency: contest.currency.clone(),
        awards: award_views(&contest)?,
    })
}

/// One account's award as known at `cutoff`, asked for after it was marked paid: its
/// absence is a contradiction of the read model, not a 404.
pub fn award_marked(
    read: &ReadModel,
    id: &str,
    account_id: &str,
    cutoff: u64,
) -> Result<AwardView, QueryError> {
    award_views(&contest_known(read, id, cutoff)?)?
        .into_iter()
        .find(|a| a.account_id == account_id)
        .ok_or_else(|| {
            QueryError::Inconsistent("the paid award is missing from the contest".into())
        })
}

/// The standings of a contest (DESIGN §6).
#[derive(Debug, Serialize, ToSchema)]
pub struct StandingsResponse {
    pub contest_id: String,
    pub metric: ContestMetric,
    pub currency: String,
    /// `open` (live standings, prizes are a preview) or `closed` (the recorded result).
    pub status: String,
    /// The last day measured.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub window_start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub window_end: NaiveDate,
    /// The last log position whose sales the standings include.
    pub through_position: u64,
    /// Ranked accounts first (rank 1, 2, 2, 4, …), then the others with `rank: null` and a reason.
    pub standings: Vec<Standing>,
}

/// One account's award and whether it is paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardView {
    pub contest_id: String,
    pub account_id: String,
    pub rank: Option<u32>,
    pub prizes: Vec<AwardedPrize>,
    pub tie_expanded: bool,
    /// Σ cash, in the contest's currency ("750.00"); null without cash.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub cash: Option<Decimal>,
    /// `unpaid`, `paid`, or `no_cash` for goods and honor only.
    pub status: String,
    pub payment: Option<AwardPayment>,
}

/// The awards of a closed contest.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardList {
    pub contest_id: String,
    pub currency: String,
    pub awards: Vec<AwardView>,
}

/// The standings of a contest: the recorded ones once closed, else live as of `as_of`.
pub fn standings_of(
    read: &ReadModel,
    id: &str,
    as_of: NaiveDate,
) -> Result<StandingsResponse, QueryError> {
    let contest = read.contests.get(id).ok_or_else(|| not_found(id))?;
    if let Some(close) = &contest.close {
        return Ok(StandingsResponse {
            contest_id: contest.contest_id.clone(),
            metric: contest.metric,
            currency: contest.currency.clone(),
            status: contest.status().to_string(),
            as_of: contest.ends_on,
            window_start: contest.starts_on,
            window_end: contest.ends_on,
            through_position: close.through_position,
            standings: close.standings.clone(),
        });
    }
    let (window_start, window_end) = window(contest, as_of);
    Ok(StandingsResponse {
        contest_id: contest.contest_id.clone(),
        metric: contest.metric,
        currency: contest.currency.clone(),
        status: contest.status().to_string(),
        as_of: window_end,
        window_start,
        window_end,
        through_position: read.head_position(),
        standings: standings(read, contest, as_of)?,
    })
}

/// The command that closes a contest on `today` with its final standings, measured over
/// the whole window from the log as it stands now (used by the API and the demo).
pub fn close_command(read: &ReadModel, id: &str, today: NaiveDate) -> Result<Command, QueryError> {
    let contest = read.contests.get(id).ok_or_else(|| not_found(id))?;
    Ok(Command::CloseContest {
        contest_id: id.to_string(),
        standings: standings(read, contest, contest.ends_on)?,
        through_position: read.head_position(),
        today,
    })
}

/// The awards of a closed contest with their cash and payment (none while it is open).
pub fn award_views(contest: &Contest) -> Result<Vec<AwardView>, QueryError> {
    let Some(close) = &contest.close else {
        return Ok(Vec::new());
    };
    close
        .standings
        .iter()
        .filter(|s| !s.prizes.is_empty())
        .map(|s| {
            let cash = contest
                .cash_award(&s.account_id)
                .map_err(|_| QueryError::overflow("a contest award"))?;
            let payment = contest.payment(&s.account_id).cloned();
            let status = match (cash, &payment) {
                (None, _) => "no_cash",
                (Some(_), Some(_)) => "paid",
                (Some(_), None) => "unpaid",
            };
            Ok(AwardView {
                contest_id: contest.contest_id.clone(),
                account_id: s.account_id.clone(),
                rank: s.rank,
                prizes: s.prizes.clone(),
                tie_expanded: s.tie_expanded,
                cash,
                status: status.to_string(),
                payment,
            })
        })
        .collect()
}
