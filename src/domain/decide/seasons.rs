//! Decisions on peak seasons (DESIGN §5.6): declared once; capacities revised, requests made
//! and withdrawn until the plan is committed; the commit recomputes the plan here, from the
//! same state every other command sees, and records it only when its hash is the one the
//! planner reviewed.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;

use super::{check_batch_size, check_text, misrouted, Decision};
use crate::domain::checks::{self, field};
use crate::domain::commands::{AllocationRequestInput, Command, DeclareSeason};
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::limits::SEASON_PRODUCTS_MAX;
use crate::domain::seasons::{plan, Season};
use crate::domain::state::LedgerState;
use crate::rules::allocation::validate_reserves;

use crate::kernel::limits::UNITS_MAX;

/// Decides a season command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::DeclareSeason(c) => declare(state, c),
        Command::ReviseCapacity {
            season_id,
            products,
            reason,
        } => revise(state, season_id, products, reason.as_deref()),
        Command::RequestAllocation {
            season_id,
            requests,
        } => request(state, season_id, requests),
        Command::WithdrawRequest {
            season_id,
            request_id,
            reason,
        } => withdraw(state, season_id, request_id, reason.as_deref()),
        Command::CommitAllocation {
            season_id,
            plan_hash,
        } => commit(state, season_id, plan_hash),
        other => misrouted("season", other),
    }
}

fn season<'s>(state: &'s LedgerState, season_id: &str) -> Result<&'s Season, DomainError> {
    state
        .seasons
        .get(season_id)
        .ok_or_else(|| DomainError::NotFound {
            code: "season_not_found",
            message: format!("no season with id \"{season_id}\""),
        })
}

fn open_season<'s>(state: &'s LedgerState, season_id: &str) -> Result<&'s Season, DomainError> {
    let season = season(state, season_id)?;
    if season.committed.is_some() {
        return Err(DomainError::Conflict {
            code: "season_committed",
            message: format!(
                "season \"{season_id}\" has a committed plan; it can no longer change"
            ),
        });
    }
    Ok(season)
}

fn check_units(
    errors: &mut Vec<FieldError>,
    index: Option<usize>,
    name: &str,
    units: u64,
    min: u64,
) {
    if units < min || units > UNITS_MAX {
        errors.push(FieldError::new(
            index,
            name,
            "invalid_quantity",
            format!("{name} {units} must be a whole number of units from {min} to {UNITS_MAX}"),
        ));
    }
}

/// Declares a season after checking every field.
pub fn declare(state: &LedgerState, c: &DeclareSeason) -> Result<Decision, DomainError> {
    let mut errors = Vec::new();
    checks::id(&mut errors, "season_id", &c.season_id);
    let name = checks::name(&mut errors, &c.name);
    checks::window(&mut errors, c.starts_on, c.ends_on, true);
    if c.products.is_empty() {
        field(
            &mut errors,
            "products",
            "missing_products",
            "a season needs at least one product with its capacity",
        );
    } else if c.products.len() > SEASON_PRODUCTS_MAX {
        field(
            &mut errors,
            "products",
            "too_many_products",
            format!("at most {SEASON_PRODUCTS_MAX} products per season"),
        );
    }
    let mut skus = HashSet::new();
    for (i, p) in c.products.iter().enumerate() {
        if !is_valid_id(&p.sku) {
            field(
                &mut errors,
                &format!("products[{i}].sku"),
                "invalid_id",
                format!(
                    "\"{}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$",
                    p.sku
                ),
            );
        } else if !skus.insert(p.sku.as_str()) {
            field(
                &mut errors,
                &format!("products[{i}].sku"),
                "duplicate_sku",
                format!("sku \"{}\" is listed twice", p.sku),
            );
        }
        check_units(
            &mut errors,
            None,
            &format!("products[{i}].capacity"),
            p.capacity,
            0,
        );
    }
    let reserves: Vec<_> = c
        .reserves
        .iter()
        .map(|r| (r.priority, r.min_share_pct))
        .collect();
    errors.extend(validate_reserves(&reserves));
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if state.seasons.get(&c.season_id).is_some() {
        return Err(DomainError::Conflict {
            code: "season_exists",
            message: format!("a season with id \"{}\" already exists", c.season_id),
        });
    }
    Ok(Decision::events(vec![Event::SeasonDeclared(
        SeasonDeclared {
            season_id: c.season_id.clone(),
            name: name.to_string(),
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            products: c.products.clone(),
            reserves: c.reserves.clone(),
        },
    )]))
}

/// Revises the capacity of one or more products of a season not yet committed; one
/// CapacityRevised per product whose capacity changes, all or nothing.
pub fn revise(
    state: &LedgerState,
    season_id: &str,
    products: &[SeasonProduct],
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    let season = open_season(state, season_id)?;
    check_text(None, "reason", reason)?;
    let mut errors = Vec::new();
    if products.is_empty() {
        field(
            &mut errors,
            "products",
            "missing_products",
            "list the products whose capacity changes",
        );
    }
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    for (i, p) in products.iter().enumerate() {
        check_units(
            &mut errors,
            None,
            &format!("products[{i}].capacity"),
            p.capacity,
            0,
        );
        let Some(product) = season.product(&p.sku) else {
            field(
                &mut errors,
                &format!("products[{i}].sku"),
                "unknown_sku",
                format!("season \"{season_id}\" has no product \"{}\"", p.sku),
            );
            continue;
        };
        if !seen.insert(p.sku.as_str()) {
            field(
                &mut errors,
                &format!("products[{i}].sku"),
                "duplicate_sku",
                format!("sku \"{}\" is listed twice", p.sku),
            );
            continue;
        }
        let from = product.capacity_at(u64::MAX);
        if from != p.capacity {
            events.push(Event::CapacityRevised(CapacityRevised {
                season_id: season_id.to_string(),
                sku: p.sku.clone(),
                from,
                to: p.capacity,
                reason: reason.map(|r| r.trim().to_string()),
            }));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if events.is_empty() {
        return Err(DomainError::Refused {
            code: "capacity_unchanged",
            message: "every listed capacity is already the one given; nothing to revise".into(),
        });
    }
    Ok(Decision::events(events))
}

/// Records allocation requests, all or nothing: each names an open account, a product of
/// the season and at least one whole unit; ids are unique within the season.
pub fn request(
    state: &LedgerState,
    season_id: &str,
    requests: &[AllocationRequestInput],
) -> Result<Decision, DomainError> {
    let season = open_season(state, season_id)?;
    check_batch_size(requests.len())?;
    let mut errors = Vec::new();
    let mut ids_in_batch: HashSet<&str> = HashSet::new();
    for (i, r) in requests.iter().enumerate() {
        let at = Some(i);
        match state.accounts.get(&r.account_id) {
            None => errors.push(FieldError::new(
                at,
                "account_id",
                "account_not_found",
                format!("account \"{}\" does not exist", r.account_id),
            )),
            Some(a) if a.closed => errors.push(FieldError::new(
                at,
                "account_id",
                "account_closed",
                format!("account \"{}\" is closed", r.account_id),
            )),
            Some(_) => {}
        }
        if season.product(&r.sku).is_none() {
            errors.push(FieldError::new(
                at,
                "sku",
                "unknown_sku",
                format!("season \"{season_id}\" has no product \"{}\"", r.sku),
            ));
        }
        check_units(&mut errors, at, "quantity", r.quantity, 1);
        if let Some(id) = &r.request_id {
            if !is_valid_id(id) {
                errors.push(FieldError::new(
                    at,
                    "request_id",
                    "invalid_id",
                    format!("\"{id}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
                ));
            } else if season.request(id).is_some() || !ids_in_batch.insert(id) {
                errors.push(FieldError::new(
                    at,
                    "request_id",
                    "request_exists",
                    format!("season \"{season_id}\" already has a request \"{id}\""),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::InvalidLines(errors));
    }
    let mut next = season.requests.len() + 1;
    let mut events = Vec::with_capacity(requests.len());
    for r in requests {
        let request_id = match &r.request_id {
            Some(id) => id.clone(),
            None => loop {
                let id = format!("{season_id}-{next:06}");
                next += 1;
                if season.request(&id).is_none() && !ids_in_batch.contains(id.as_str()) {
                    break id;
                }
            },
        };
        events.push(Event::AllocationRequested(AllocationRequested {
            season_id: season_id.to_string(),
            request_id,
            account_id: r.account_id.clone(),
            sku: r.sku.clone(),
            quantity: r.quantity,
        }));
    }
    Ok(Decision::events(events))
}

/// Withdraws an active request of a season not yet committed.
pub fn withdraw(
    state: &LedgerState,
    season_id: &str,
    request_id: &str,
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    let season = open_season(state, season_id)?;
    let request = season
        .request(request_id)
        .ok_or_else(|| DomainError::NotFound {
            code: "request_not_found",
            message: format!("season \"{season_id}\" has no request \"{request_id}\""),
        })?;
    if request.withdrawn.is_some() {
        return Err(DomainError::Conflict {
            code: "request_withdrawn",
            message: format!("request \"{request_id}\" is already withdrawn"),
        });
    }
    check_text(None, "reason", reason)?;
    Ok(Decision::events(vec![Event::AllocationRequestWithdrawn(
        AllocationRequestWithdrawn {
            season_id: season_id.to_string(),
            request_id: request_id.to_string(),
            account_id: request.account_id.clone(),
            reason: reason.map(|r| r.trim().to_string()),
        },
    )]))
}

/// The tier and supply_priority of an account on `on`, from the decider's state.
pub fn tier_in_state(state: &LedgerState, account_id: &str, on: NaiveDate) -> (String, u32) {
    state.incentives.supply_tier(
        account_id,
        on,
        u64::MAX,
        state.daily.get(account_id),
        state.accounts.get(account_id).map(|a| a.stage),
    )
}

/// Records the season's plan when the plan computed now has `plan_hash`.
pub fn commit(
    state: &LedgerState,
    season_id: &str,
    plan_hash: &str,
) -> Result<Decision, DomainError> {
    let season = open_season(state, season_id)?;
    let starts_on = season.starts_on;
    let current = plan(season, u64::MAX, &BTreeMap::new(), &mut |account: &str| {
        tier_in_state(state, account, starts_on)
    });
    if current.plan_hash != plan_hash {
        return Err(DomainError::Conflict {
            code: "stale_plan",
            message: format!(
                "the plan changed since it was computed (requests, capacities or tiers); \
                 its plan_hash is now {}: review POST /v1/seasons/{season_id}/plan again",
                current.plan_hash
            ),
        });
    }
    let event = Event::AllocationCommitted(AllocationCommitted {
        season_id: season_id.to_string(),
        plan_hash: current.plan_hash,
        skus: current.skus,
    });
    Ok(Decision::events(vec![event]))
}
