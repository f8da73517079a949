//! Decisions on tier policies, tier overrides and discounts (DESIGN §5.2, §5.3).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{invalid, misrouted, open_account_facts, Decision};
use crate::domain::checks;
use crate::domain::commands::{Command, GrantDiscount};
use crate::domain::error::DomainError;
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::state::LedgerState;
use crate::kernel::limits::{DISCOUNT_PLACES_MAX, TEXT_LENGTH_MAX};
use crate::rules::tiers::{policy_in_force, validate_policy, TierDefinition};

/// Decides an incentive command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::PublishTierPolicy {
            effective_from,
            window_months,
            tiers,
            expected_version,
        } => publish_policy(
            state,
            *effective_from,
            *window_months,
            tiers,
            *expected_version,
        ),
        Command::GrantTierOverride {
            account_id,
            tier,
            valid_from,
            valid_to,
            reason,
        } => grant_override(state, account_id, tier, *valid_from, *valid_to, reason),
        Command::RevokeTierOverride {
            account_id,
            override_id,
            reason,
        } => revoke_override(state, account_id, override_id, reason.as_deref()),
        Command::GrantDiscount(c) => grant_discount(state, c),
        Command::RevokeDiscount {
            discount_id,
            effective_on,
            reason,
        } => revoke_discount(state, discount_id, *effective_on, reason.as_deref()),
        other => misrouted("incentive", other),
    }
}

fn check_date(field: &str, date: NaiveDate) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    checks::business_date(&mut errors, field, date);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

fn check_validity(valid_from: NaiveDate, valid_to: Option<NaiveDate>) -> Result<(), DomainError> {
    check_date("valid_from", valid_from)?;
    if let Some(to) = valid_to {
        check_date("valid_to", to)?;
        if to < valid_from {
            return Err(invalid(
                "valid_to",
                "invalid_validity",
                format!("valid_to {to} is before valid_from {valid_from}"),
            ));
        }
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), DomainError> {
    crate::domain::text::refuse_chars(None, "reason", reason)?;
    let length = reason.trim().chars().count();
    if crate::domain::text::is_blank(reason) {
        Err(invalid("reason", "missing", "say why (reason is required)"))
    } else if length > TEXT_LENGTH_MAX {
        Err(invalid(
            "reason",
            "too_long",
            format!("at most {TEXT_LENGTH_MAX} characters"),
        ))
    } else {
        Ok(())
    }
}

/// Publishes the next version of the tier policy.
pub fn publish_policy(
    state: &LedgerState,
    effective_from: NaiveDate,
    window_months: u32,
    tiers: &[TierDefinition],
    expected_version: Option<u64>,
) -> Result<Decision, DomainError> {
    let actual = state.stream_version(POLICY_STREAM);
    if let Some(expected) = expected_version {
        if expected != actual {
            return Err(DomainError::VersionConflict {
                stream: POLICY_STREAM.to_string(),
                expected,
                actual,
            });
        }
    }
    check_date("effective_from", effective_from)?;
    let mut errors = validate_policy(window_months, tiers);
    errors.extend(crate::domain::limits::policy_thresholds(tiers));
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok(Decision::events(vec![Event::TierPolicyPublished(
        TierPolicyPublished {
            version: state.incentives.policy_count() + 1,
            effective_from,
            window_months,
            tiers: tiers.to_vec(),
        },
    )]))
}

/// Grants a tier override; the tier must exist in the policy in force on `valid_from`.
pub fn grant_override(
    state: &LedgerState,
    account_id: &str,
    tier: &str,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    reason: &str,
) -> Result<Decision, DomainError> {
    open_account_facts(state, account_id, None)?;
    check_validity(valid_from, valid_to)?;
    check_reason(reason)?;
    let policies = state.incentives.policies(u64::MAX);
    let Some(policy) = policy_in_force(&policies, valid_from) else {
        return Err(invalid(
            "tier",
            "no_policy",
            format!("no tier policy is in force on {valid_from}; publish one first"),
        ));
    };
    if !policy.tiers.iter().any(|t| t.name == tier) {
        let names: Vec<&str> = policy.tiers.iter().map(|t| t.name.as_str()).collect();
        return Err(invalid(
            "tier",
            "unknown_tier",
            format!(
                "policy version {} has no tier \"{tier}\"; expected one of {}",
                policy.version,
                names.join(", ")
            ),
        ));
    }
    let count = state.incentives.overrides(account_id, u64::MAX).len();
    Ok(Decision::events(vec![Event::TierOverrideGranted(
        TierOverrideGranted {
            account_id: account_id.to_string(),
            override_id: format!("ovr-{}", count + 1),
            tier: tier.to_string(),
            valid_from,
            valid_to,
            reason: reason.trim().to_string(),
        },
    )]))
}

/// Revokes a tier override.
pub fn revoke_override(
    state: &LedgerState,
    account_id: &str,
    override_id: &str,
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    if !state.accounts.contains_key(account_id) {
        return Err(DomainError::AccountNotFound(account_id.to_string()));
    }
    let current = state
        .incentives
        .overrides(account_id, u64::MAX)
        .into_iter()
        .find(|o| o.override_id == override_id)
        .ok_or_else(|| DomainError::OverrideNotFound {
            account_id: account_id.to_string(),
            override_id: override_id.to_string(),
        })?;
    if current.revoked {
        return Err(DomainError::OverrideAlreadyRevoked(override_id.to_string()));
    }
    if let Some(r) = reason {
        check_reason(r)?;
    }
    Ok(Decision::events(vec![Event::TierOverrideRevoked(
        TierOverrideRevoked {
            account_id: account_id.to_string(),
            override_id: override_id.to_string(),
            reason: reason.map(|r| r.trim().to_string()),
        },
    )]))
}

/// Grants a discount within the ceiling of the account's tier on `valid_from`.
pub fn grant_discount(state: &LedgerState, c: &GrantDiscount) -> Result<Decision, DomainError> {
    if !is_valid_id(&c.discount_id) {
        return Err(invalid(
            "discount_id",
            "invalid_id",
            format!(
                "\"{}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$",
                c.discount_id
            ),
        ));
    }
    if state.incentives.discount(&c.discount_id).is_some() {
        return Err(DomainError::DiscountExists(c.discount_id.clone()));
    }
    let facts = open_account_facts(state, &c.account_id, None)?;
    if c.percent <= Decimal::ZERO || c.percent > Decimal::ONE_HUNDRED {
        return Err(invalid(
            "percent",
            "percent_out_of_range",
            format!("percent must be above 0 and at most 100, got {}", c.percent),
        ));
    }
    if c.percent.normalize().scale() > DISCOUNT_PLACES_MAX {
        return Err(invalid(
            "percent",
            "too_many_decimals",
            format!(
                "percent {} has more than {DISCOUNT_PLACES_MAX} decimal places",
                c.percent
            ),
        ));
    }
    match (c.scope, c.scope_value.as_deref()) {
        (DiscountScope::All, Some(_)) => {
            return Err(invalid(
                "scope_value",
                "unexpected_scope_value",
                "a discount on all products names no sku or category",
            ))
        }
        (DiscountScope::Sku | DiscountScope::Category, None) => {
            return Err(invalid(
                "scope_value",
                "missing",
                format!(
                    "a {} discount names the {} it applies to",
                    scope_name(c.scope),
                    scope_name(c.scope)
                ),
            ))
        }
        (_, Some(v)) if !is_valid_id(v) => {
            return Err(invalid(
                "scope_value",
                "invalid_id",
                format!("\"{v}\" is not a valid sku or category id"),
            ))
        }
        _ => {}
    }
    check_validity(c.valid_from, c.valid_to)?;
    check_reason(&c.reason)?;
    let daily = state.daily.get(&c.account_id);
    let entitlement =
        state
            .incentives
            .entitlement(&c.account_id, c.valid_from, u64::MAX, daily, facts.stage);
    let ceiling = entitlement.entitlements.max_discount_pct;
    if c.percent > ceiling {
        return Err(DomainError::DiscountExceedsEntitlement {
            tier: entitlement.tier,
            ceiling: ceiling.to_string(),
            percent: c.percent.to_string(),
            on: c.valid_from.to_string(),
        });
    }
    Ok(Decision::events(vec![Event::DiscountGranted(
        DiscountGranted {
            discount_id: c.discount_id.clone(),
            account_id: c.account_id.clone(),
            percent: c.percent,
            scope: c.scope,
            scope_value: c.scope_value.clone(),
            valid_from: c.valid_from,
            valid_to: c.valid_to,
            reason: c.reason.trim().to_string(),
            tier: entitlement.tier,
            ceiling_pct: ceiling,
        },
    )]))
}

fn scope_name(scope: DiscountScope) -> &'static str {
    match scope {
        DiscountScope::Sku => "sku",
        DiscountScope::Category => "category",
        DiscountScope::All => "all",
    }
}

/// Revokes a discount from a day on.
pub fn revoke_discount(
    state: &LedgerState,
    discount_id: &str,
    effective_on: NaiveDate,
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    let discount = state
        .incentives
        .discount(discount_id)
        .ok_or_else(|| DomainError::DiscountNotFound(discount_id.to_string()))?;
    if discount.revoked_at.is_some() {
        return Err(DomainError::DiscountAlreadyRevoked(discount_id.to_string()));
    }
    check_date("effective_on", effective_on)?;
    if let Some(r) = reason {
        check_reason(r)?;
    }
    Ok(Decision::events(vec![Event::DiscountRevoked(
        DiscountRevoked {
            discount_id: discount_id.to_string(),
            account_id: discount.account_id.clone(),
            effective_on,
            reason: reason.map(|r| r.trim().to_string()),
        },
    )]))
}
