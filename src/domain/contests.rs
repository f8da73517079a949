//! Sales contests with the positions that recorded each change, so reads can answer
//! `known_at`; the decider keeps one too and asks it "as of everything" (DESIGN §5.5).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{ContestDefined, Event};
use super::limits::{checked_sum, Overflow};
use super::money::round_to_minor_unit;
use super::stored::{self, checkpoint_form};
use crate::rules::contests::{ContestMetric, Prize, PrizeKind, Standing};

/// How a contest was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContestClose {
    #[schema(value_type = String, format = Date)]
    pub closed_on: NaiveDate,
    /// The last log position whose sales the final standings include.
    pub through_position: u64,
    /// The log position of the ContestClosed event.
    pub position: u64,
    pub standings: Vec<Standing>,
}

/// A cash award marked paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AwardPayment {
    pub account_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub amount: Decimal,
    #[schema(value_type = String, format = Date)]
    pub paid_on: NaiveDate,
    pub reference: String,
    pub paid_by: String,
    /// The log position of the ContestAwardPaid event.
    pub position: u64,
}

/// A contest as defined, and how it closed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Contest {
    pub contest_id: String,
    pub name: String,
    pub currency: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub metric: ContestMetric,
    pub scope_skus: Vec<String>,
    pub scope_categories: Vec<String>,
    pub eligible_tiers: Vec<String>,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub min_metric: Option<Decimal>,
    pub prizes: Vec<Prize>,
    /// The final standings, once closed.
    pub close: Option<ContestClose>,
    /// Cash awards marked paid.
    pub payments: Vec<AwardPayment>,
    #[serde(skip)]
    pub defined_at: u64,
}

/// Status of a contest not yet closed.
pub const STATUS_OPEN: &str = "open";
/// Status of a closed contest.
pub const STATUS_CLOSED: &str = "closed";

impl Contest {
    fn defined(position: u64, e: &ContestDefined) -> Contest {
        Contest {
            contest_id: e.contest_id.clone(),
            name: e.name.clone(),
            currency: e.currency.clone(),
            starts_on: e.starts_on,
            ends_on: e.ends_on,
            metric: e.metric,
            scope_skus: e.scope_skus.clone(),
            scope_categories: e.scope_categories.clone(),
            eligible_tiers: e.eligible_tiers.clone(),
            min_metric: e.min_metric,
            prizes: e.prizes.clone(),
            close: None,
            payments: Vec::new(),
            defined_at: position,
        }
    }

    /// The contest as known at `cutoff` (None when defined later).
    pub fn at(&self, cutoff: u64) -> Option<Contest> {
        if self.defined_at > cutoff {
            return None;
        }
        let close = self.close.clone().filter(|c| c.position <= cutoff);
        Some(Contest {
            close,
            payments: self
                .payments
                .iter()
                .filter(|p| p.position <= cutoff)
                .cloned()
                .collect(),
            ..self.clone()
        })
    }

    /// `open` until closed, then `closed`.
    pub fn status(&self) -> &'static str {
        if self.close.is_some() {
            STATUS_CLOSED
        } else {
            STATUS_OPEN
        }
    }

    /// True when a line of this sku and category counts for the contest.
    pub fn in_scope(&self, sku: &str, category: &str) -> bool {
        (self.scope_skus.is_empty() || self.scope_skus.iter().any(|s| s == sku))
            && (self.scope_categories.is_empty()
                || self.scope_categories.iter().any(|c| c == category))
    }

    /// The cash an account was awarded at close (Ok(None) when not closed or no cash; Err
    /// when the sum overflows, which validated prizes cannot).
    pub fn cash_award(&self, account_id: &str) -> Result<Option<Decimal>, Overflow> {
        let Some(standing) = self
            .close
            .as_ref()
            .and_then(|close| close.standings.iter().find(|s| s.account_id == account_id))
        else {
            return Ok(None);
        };
        let cash = checked_sum(
            standing
                .prizes
                .iter()
                .filter(|p| p.kind == PrizeKind::Cash)
                .filter_map(|p| p.amount),
        )
        .ok_or(Overflow)?;
        Ok((cash > Decimal::ZERO).then(|| round_to_minor_unit(cash, &self.currency)))
    }

    /// The payment of an account's award, when marked paid.
    pub fn payment(&self, account_id: &str) -> Option<&AwardPayment> {
        self.payments.iter().find(|p| p.account_id == account_id)
    }
}

/// The checkpoint form of a [`Contest`]: every field, the position included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Contest")]
#[allow(dead_code)] // a mirror: serde reads and builds `Contest` through it
struct ContestRecord {
    contest_id: String,
    name: String,
    currency: String,
    #[serde(with = "stored::date")]
    starts_on: NaiveDate,
    #[serde(with = "stored::date")]
    ends_on: NaiveDate,
    metric: ContestMetric,
    scope_skus: Vec<String>,
    scope_categories: Vec<String>,
    eligible_tiers: Vec<String>,
    #[serde(with = "stored::decimal_option")]
    min_metric: Option<Decimal>,
    prizes: Vec<Prize>,
    close: Option<ContestClose>,
    payments: Vec<AwardPayment>,
    defined_at: u64,
}
checkpoint_form!(Contest, ContestRecord);

/// Every contest, by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contests {
    #[serde(with = "stored::checkpoint")]
    contests: BTreeMap<String, Contest>,
}

impl Contests {
    /// Records an event's facts at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        match event {
            Event::ContestDefined(e) => {
                self.contests
                    .insert(e.contest_id.clone(), Contest::defined(position, e));
            }
            Event::ContestClosed(e) => {
                if let Some(c) = self.contests.get_mut(&e.contest_id) {
                    c.close = Some(ContestClose {
                        closed_on: e.closed_on,
                        through_position: e.through_position,
                        position,
                        standings: e.standings.clone(),
                    });
                }
            }
            Event::ContestAwardPaid(e) => {
                if let Some(c) = self.contests.get_mut(&e.contest_id) {
                    c.payments.push(AwardPayment {
                        account_id: e.account_id.clone(),
                        amount: e.amount,
                        paid_on: e.paid_on,
                        reference: e.reference.clone(),
                        paid_by: e.paid_by.clone(),
                        position,
                    });
                }
            }
            _ => {}
        }
    }

    /// How many contests are defined.
    pub fn len(&self) -> usize {
        self.contests.len()
    }

    /// True when no contest is defined.
    pub fn is_empty(&self) -> bool {
        self.contests.is_empty()
    }

    /// A contest as it stands now.
    pub fn get(&self, contest_id: &str) -> Option<&Contest> {
        self.contests.get(contest_id)
    }

    /// Contests known at `cutoff`, by id, after the cursor `after`.
    pub fn list<'s>(
        &'s self,
        after: Option<&'s str>,
        cutoff: u64,
    ) -> impl Iterator<Item = Contest> + 's {
        self.contests
            .iter()
            .filter(move |(id, _)| after.is_none_or(|a| id.as_str() > a))
            .filter_map(move |(_, c)| c.at(cutoff))
    }

    /// Every fact, one line each, in a stable order (for the projections digest).
    pub fn digest_lines(&self) -> Vec<String> {
        self.contests
            .iter()
            .map(|(id, c)| format!("c|{id}|{c:?}"))
            .collect()
    }
}
