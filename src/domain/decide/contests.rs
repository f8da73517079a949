//! Decisions on sales contests (DESIGN §5.5): defined once, closed once after their end with
//! the standings the server computed, cash awards marked paid once.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{misrouted, Decision};
use crate::domain::checks::{self, field, id_list};
use crate::domain::commands::{Command, DefineContest};
use crate::domain::error::DomainError;
use crate::domain::events::*;
use crate::domain::money::{is_known_currency, minor_unit_places, round_to_minor_unit};
use crate::domain::state::LedgerState;
use crate::kernel::limits::{LINE_VALUE_MAX, QUANTITY_PLACES_MAX, TEXT_LENGTH_MAX};
use crate::rules::contests::{validate_prizes, ContestMetric, Prize, Standing};

/// Decides a contest command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::DefineContest(c) => define(state, c),
        Command::CloseContest {
            contest_id,
            standings,
            through_position,
            today,
        } => close(state, contest_id, standings, *through_position, *today),
        Command::MarkAwardPaid {
            contest_id,
            account_id,
            paid_on,
            reference,
            today,
            actor,
        } => mark_paid(
            state, contest_id, account_id, *paid_on, reference, *today, actor,
        ),
        other => misrouted("contest", other),
    }
}

fn contest<'s>(
    state: &'s LedgerState,
    contest_id: &str,
) -> Result<&'s crate::domain::contests::Contest, DomainError> {
    state
        .contests
        .get(contest_id)
        .ok_or_else(|| DomainError::NotFound {
            code: "contest_not_found",
            message: format!("no contest with id \"{contest_id}\""),
        })
}

/// Defines a contest after checking every field.
pub fn define(state: &LedgerState, c: &DefineContest) -> Result<Decision, DomainError> {
    let mut errors = Vec::new();
    checks::id(&mut errors, "contest_id", &c.contest_id);
    let name = checks::name(&mut errors, &c.name);
    checks::currency(&mut errors, &c.currency);
    checks::window(&mut errors, c.starts_on, c.ends_on, true);
    // A money metric takes the currency's places; a quantity or growth metric a quantity's.
    let min_places = match c.metric {
        ContestMetric::NetRevenue => minor_unit_places(&c.currency),
        ContestMetric::Quantity | ContestMetric::GrowthPct => QUANTITY_PLACES_MAX,
    };
    if let Some(min) = c.min_metric {
        if min < Decimal::ZERO || min > LINE_VALUE_MAX {
            field(
                &mut errors,
                "min_metric",
                "invalid_min_metric",
                format!("min_metric {min} must be from 0 to {LINE_VALUE_MAX}"),
            );
        } else if min.scale() > min_places {
            field(
                &mut errors,
                "min_metric",
                "too_many_decimals",
                format!("min_metric \"{min}\" has more than {min_places} decimal places"),
            );
        }
    }
    if c.prizes.is_empty() {
        field(
            &mut errors,
            "prizes",
            "missing_prizes",
            "a contest needs at least one prize (cash, goods or honor)",
        );
    }
    let currency_ok = is_known_currency(&c.currency);
    if currency_ok {
        errors.extend(validate_prizes(&c.prizes, &c.currency));
    }
    let scope_skus = id_list(&mut errors, "scope.skus", &c.scope_skus);
    let scope_categories = id_list(&mut errors, "scope.categories", &c.scope_categories);
    let eligible_tiers = id_list(&mut errors, "eligible_tiers", &c.eligible_tiers);
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if state.contests.get(&c.contest_id).is_some() {
        return Err(DomainError::Conflict {
            code: "contest_exists",
            message: format!("a contest with id \"{}\" already exists", c.contest_id),
        });
    }
    crate::domain::limits::room_for_contest(state)?;
    Ok(Decision::events(vec![Event::ContestDefined(
        ContestDefined {
            contest_id: c.contest_id.clone(),
            name: name.to_string(),
            currency: c.currency.clone(),
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            metric: c.metric,
            scope_skus,
            scope_categories,
            eligible_tiers,
            min_metric: c.min_metric.map(|min| match c.metric {
                ContestMetric::NetRevenue => round_to_minor_unit(min, &c.currency),
                ContestMetric::Quantity | ContestMetric::GrowthPct => min,
            }),
            prizes: c
                .prizes
                .iter()
                .map(|p| Prize {
                    amount: p.amount.map(|a| round_to_minor_unit(a, &c.currency)),
                    ..p.clone()
                })
                .collect(),
        },
    )]))
}

/// Closes a contest after its last day, once.
pub fn close(
    state: &LedgerState,
    contest_id: &str,
    standings: &[Standing],
    through_position: u64,
    today: NaiveDate,
) -> Result<Decision, DomainError> {
    let contest = contest(state, contest_id)?;
    if contest.close.is_some() {
        return Err(DomainError::Conflict {
            code: "contest_closed",
            message: format!("contest \"{contest_id}\" is already closed"),
        });
    }
    if today <= contest.ends_on {
        return Err(DomainError::Refused {
            code: "contest_not_over",
            message: format!(
                "contest \"{contest_id}\" runs to {}; close it from the day after",
                contest.ends_on
            ),
        });
    }
    let event = Event::ContestClosed(ContestClosed {
        contest_id: contest_id.to_string(),
        closed_on: today,
        through_position,
        standings: standings.to_vec(),
    });
    Ok(Decision::events(vec![event]))
}

/// Marks an account's whole cash award paid, once.
pub fn mark_paid(
    state: &LedgerState,
    contest_id: &str,
    account_id: &str,
    paid_on: NaiveDate,
    reference: &str,
    today: NaiveDate,
    actor: &str,
) -> Result<Decision, DomainError> {
    let contest = contest(state, contest_id)?;
    let Some(close) = &contest.close else {
        return Err(DomainError::Conflict {
            code: "contest_open",
            message: format!(
                "contest \"{contest_id}\" is not closed yet; awards exist only once it is"
            ),
        });
    };
    let amount = contest
        .cash_award(account_id)
        .map_err(|e| DomainError::Refused {
            code: "overflow",
            message: e.to_string(),
        })?
        .ok_or_else(|| DomainError::NotFound {
            code: "award_not_found",
            message: format!("account \"{account_id}\" won no cash in contest \"{contest_id}\""),
        })?;
    if contest.payment(account_id).is_some() {
        return Err(DomainError::Conflict {
            code: "award_already_paid",
            message: format!(
                "the award of \"{account_id}\" in contest \"{contest_id}\" is already marked paid"
            ),
        });
    }
    let mut errors = Vec::new();
    let reference = reference.trim();
    if let Some(error) = crate::domain::text::check_chars(None, "reference", reference) {
        errors.push(error);
    } else if crate::domain::text::is_blank(reference)
        || reference.chars().count() > TEXT_LENGTH_MAX
    {
        field(
            &mut errors,
            "reference",
            "missing",
            format!("give the payment reference, in 1 to {TEXT_LENGTH_MAX} characters"),
        );
    }
    if paid_on > today {
        field(
            &mut errors,
            "paid_on",
            "paid_on_in_future",
            format!("paid_on {paid_on} is after today ({today})"),
        );
    } else if paid_on < close.closed_on {
        field(
            &mut errors,
            "paid_on",
            "paid_before_close",
            format!(
                "paid_on {paid_on} is before the contest was closed ({})",
                close.closed_on
            ),
        );
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok(Decision::events(vec![Event::ContestAwardPaid(
        ContestAwardPaid {
            contest_id: contest_id.to_string(),
            account_id: account_id.to_string(),
            amount,
            paid_on,
            reference: reference.to_string(),
            paid_by: actor.to_string(),
        },
    )]))
}
