//! Rebate programs and their enrollments, with the positions that recorded each change so
//! reads can answer `known_at`. The decider keeps one too and asks it "as of everything".

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{Event, RebateProgramDefined};
use super::stored::{self, checkpoint_form};
use crate::rules::calendar::PeriodKind;
use crate::rules::rebates::{RebateBasis, RebateMethod, RebateTier};

/// One enrollment span of an account in a program.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Enrollment {
    pub account_id: String,
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    /// Last day the account's lines count (null: until the program ends).
    #[schema(value_type = Option<String>, format = Date)]
    pub effective_to: Option<NaiveDate>,
    #[serde(skip)]
    pub enrolled_at: u64,
    #[serde(skip)]
    pub unenrolled_at: Option<u64>,
}

impl Enrollment {
    /// True when the span covers `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day <= to)
    }
}

/// A program as defined, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Program {
    pub program_id: String,
    pub name: String,
    pub currency: String,
    pub period: PeriodKind,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    /// The last day of the program: the defined end, or the early end.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// The end as first defined.
    #[schema(value_type = String, format = Date)]
    pub defined_ends_on: NaiveDate,
    pub basis: RebateBasis,
    pub method: RebateMethod,
    pub tiers: Vec<RebateTier>,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub cap: Option<Decimal>,
    pub scope_skus: Vec<String>,
    pub scope_categories: Vec<String>,
    pub eligible_tiers: Vec<String>,
    /// Why it ended early, when it did.
    pub ended_reason: Option<String>,
    #[serde(skip)]
    pub defined_at: u64,
    #[serde(skip)]
    pub ended_at: Option<u64>,
    #[serde(skip)]
    pub enrollments: Vec<Enrollment>,
}

impl Program {
    fn defined(position: u64, e: &RebateProgramDefined) -> Program {
        Program {
            program_id: e.program_id.clone(),
            name: e.name.clone(),
            currency: e.currency.clone(),
            period: e.period,
            starts_on: e.starts_on,
            ends_on: e.ends_on,
            defined_ends_on: e.ends_on,
            basis: e.basis,
            method: e.method,
            tiers: e.tiers.clone(),
            cap: e.cap,
            scope_skus: e.scope_skus.clone(),
            scope_categories: e.scope_categories.clone(),
            eligible_tiers: e.eligible_tiers.clone(),
            ended_reason: None,
            defined_at: position,
            ended_at: None,
            enrollments: Vec::new(),
        }
    }

    /// The program as known at `cutoff` (None when defined later).
    pub fn at(&self, cutoff: u64) -> Option<Program> {
        if self.defined_at > cutoff {
            return None;
        }
        let ended = self.ended_at.is_some_and(|p| p <= cutoff);
        let enrollments = self
            .enrollments
            .iter()
            .filter(|e| e.enrolled_at <= cutoff)
            .map(|e| {
                let unenrolled = e.unenrolled_at.is_some_and(|p| p <= cutoff);
                Enrollment {
                    effective_to: e.effective_to.filter(|_| unenrolled),
                    unenrolled_at: e.unenrolled_at.filter(|_| unenrolled),
                    ..e.clone()
                }
            })
            .collect();
        Some(Program {
            ends_on: if ended {
                self.ends_on
            } else {
                self.defined_ends_on
            },
            ended_reason: self.ended_reason.clone().filter(|_| ended),
            ended_at: self.ended_at.filter(|_| ended),
            enrollments,
            ..self.clone()
        })
    }

    /// The program period that holds `date`, clipped to the program's days.
    pub fn period_of(&self, date: NaiveDate) -> crate::rules::calendar::Period {
        let mut period = crate::rules::calendar::Period::containing(self.period, date);
        period.start = period.start.max(self.starts_on);
        period.end = period.end.min(self.ends_on);
        period
    }

    /// The account's open enrollment (no end yet), if any.
    pub fn open_enrollment(&self, account_id: &str) -> Option<&Enrollment> {
        self.enrollments
            .iter()
            .find(|e| e.account_id == account_id && e.effective_to.is_none())
    }

    /// True when the account is enrolled on `day` and the day is within the program.
    pub fn counts(&self, account_id: &str, day: NaiveDate) -> bool {
        self.starts_on <= day
            && day <= self.ends_on
            && self
                .enrollments
                .iter()
                .any(|e| e.account_id == account_id && e.covers(day))
    }

    /// True when a line of this sku and category is in the program's scope.
    pub fn in_scope(&self, sku: &str, category: &str) -> bool {
        (self.scope_skus.is_empty() || self.scope_skus.iter().any(|s| s == sku))
            && (self.scope_categories.is_empty()
                || self.scope_categories.iter().any(|c| c == category))
    }
}

/// The checkpoint form of an [`Enrollment`]: every field, the positions included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Enrollment")]
#[allow(dead_code)] // a mirror: serde reads and builds `Enrollment` through it
struct EnrollmentRecord {
    account_id: String,
    #[serde(with = "stored::date")]
    effective_from: NaiveDate,
    #[serde(with = "stored::date_option")]
    effective_to: Option<NaiveDate>,
    enrolled_at: u64,
    unenrolled_at: Option<u64>,
}
checkpoint_form!(Enrollment, EnrollmentRecord);

/// The checkpoint form of a [`Program`]: every field, positions and enrollments included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Program")]
#[allow(dead_code)] // a mirror: serde reads and builds `Program` through it
struct ProgramRecord {
    program_id: String,
    name: String,
    currency: String,
    period: PeriodKind,
    #[serde(with = "stored::date")]
    starts_on: NaiveDate,
    #[serde(with = "stored::date")]
    ends_on: NaiveDate,
    #[serde(with = "stored::date")]
    defined_ends_on: NaiveDate,
    basis: RebateBasis,
    method: RebateMethod,
    tiers: Vec<RebateTier>,
    #[serde(with = "stored::decimal_option")]
    cap: Option<Decimal>,
    scope_skus: Vec<String>,
    scope_categories: Vec<String>,
    eligible_tiers: Vec<String>,
    ended_reason: Option<String>,
    defined_at: u64,
    ended_at: Option<u64>,
    #[serde(with = "stored::checkpoint")]
    enrollments: Vec<Enrollment>,
}
checkpoint_form!(Program, ProgramRecord);

/// Every program by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Programs {
    #[serde(with = "stored::checkpoint")]
    programs: BTreeMap<String, Program>,
}

impl Programs {
    /// Records an event's facts at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        match event {
            Event::RebateProgramDefined(e) => {
                self.programs
                    .insert(e.program_id.clone(), Program::defined(position, e));
            }
            Event::RebateProgramEnded(e) => {
                if let Some(p) = self.programs.get_mut(&e.program_id) {
                    p.ends_on = e.ends_on;
                    p.ended_reason = Some(e.reason.clone());
                    p.ended_at = Some(position);
                }
            }
            Event::AccountEnrolled(e) => {
                if let Some(p) = self.programs.get_mut(&e.program_id) {
                    p.enrollments.push(Enrollment {
                        account_id: e.account_id.clone(),
                        effective_from: e.effective_from,
                        effective_to: None,
                        enrolled_at: position,
                        unenrolled_at: None,
                    });
                }
            }
            Event::AccountUnenrolled(e) => {
                if let Some(p) = self.programs.get_mut(&e.program_id) {
                    if let Some(open) = p
                        .enrollments
                        .iter_mut()
                        .find(|x| x.account_id == e.account_id && x.effective_to.is_none())
                    {
                        open.effective_to = Some(e.effective_to);
                        open.unenrolled_at = Some(position);
                    }
                }
            }
            _ => {}
        }
    }

    /// Programs the account has ever been enrolled in, as they stand now.
    pub fn enrolled<'s>(&'s self, account_id: &'s str) -> impl Iterator<Item = &'s Program> + 's {
        self.programs
            .values()
            .filter(move |p| p.enrollments.iter().any(|e| e.account_id == account_id))
    }

    /// How many programs are defined.
    pub fn len(&self) -> usize {
        self.programs.len()
    }

    /// True when no program is defined.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }

    /// A program as it stands now.
    pub fn get(&self, program_id: &str) -> Option<&Program> {
        self.programs.get(program_id)
    }

    /// Programs after `after` in id order, as known at `cutoff`.
    pub fn list<'s>(
        &'s self,
        after: Option<&str>,
        cutoff: u64,
    ) -> impl Iterator<Item = Program> + 's {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Unbounded,
        };
        self.programs
            .range((start, Bound::Unbounded))
            .filter_map(move |(_, p)| p.at(cutoff))
    }
}
