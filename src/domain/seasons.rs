//! Peak seasons: products and capacities, reserves, allocation requests and the committed
//! plan, with the positions that recorded each change (DESIGN §5.6). [`plan`] is the one
//! place a season's allocation is computed: the API's what-if and the decider's commit both
//! call it, so the hash a planner reviewed is the hash the commit checks.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::events::{Event, PlanLine, SeasonDeclared, SeasonReserve, SkuPlan};
use super::state::FastMap;
use super::stored;
use crate::ledger::codec;
use crate::rules::allocation::{allocate, fill_pct, Demand, SkuAllocation};

/// A product of a season: its declared capacity and every revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductState {
    pub sku: String,
    pub declared: u64,
    /// (position, capacity) of each revision, in log order.
    pub revisions: Vec<(u64, u64)>,
}

impl ProductState {
    /// The capacity as known at `cutoff`.
    pub fn capacity_at(&self, cutoff: u64) -> u64 {
        self.revisions
            .iter()
            .take_while(|(p, _)| *p <= cutoff)
            .last()
            .map(|(_, c)| *c)
            .unwrap_or(self.declared)
    }
}

/// One allocation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonRequest {
    pub request_id: String,
    pub account_id: String,
    pub sku: String,
    pub quantity: u64,
    /// The log position that recorded the request.
    pub position: u64,
    /// The position of the withdrawal and its reason, once withdrawn.
    pub withdrawn: Option<(u64, Option<String>)>,
}

/// A request as known at some position, for answers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RequestView {
    pub request_id: String,
    pub account_id: String,
    pub sku: String,
    pub quantity: u64,
    /// `active`, or `withdrawn`.
    pub status: &'static str,
    pub withdrawn_reason: Option<String>,
    /// The log position that recorded the request.
    pub position: u64,
}

impl SeasonRequest {
    /// True when the request counts at `cutoff`.
    pub fn active_at(&self, cutoff: u64) -> bool {
        self.position <= cutoff && self.withdrawn.as_ref().is_none_or(|(w, _)| *w > cutoff)
    }
}

/// The plan recorded by a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommittedPlan {
    pub plan_hash: String,
    pub skus: Vec<SkuPlan>,
    pub position: u64,
}

/// A season as declared and changed since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Season {
    pub season_id: String,
    pub name: String,
    #[serde(with = "stored::date")]
    pub starts_on: NaiveDate,
    #[serde(with = "stored::date")]
    pub ends_on: NaiveDate,
    pub products: Vec<ProductState>,
    pub reserves: Vec<SeasonReserve>,
    pub requests: Vec<SeasonRequest>,
    /// request_id → index in `requests`.
    request_index: FastMap<String, usize>,
    pub committed: Option<CommittedPlan>,
    pub declared_at: u64,
}

impl Season {
    fn declared(position: u64, e: &SeasonDeclared) -> Season {
        Season {
            season_id: e.season_id.clone(),
            name: e.name.clone(),
            starts_on: e.starts_on,
            ends_on: e.ends_on,
            products: e
                .products
                .iter()
                .map(|p| ProductState {
                    sku: p.sku.clone(),
                    declared: p.capacity,
                    revisions: Vec::new(),
                })
                .collect(),
            reserves: e.reserves.clone(),
            requests: Vec::new(),
            request_index: FastMap::default(),
            committed: None,
            declared_at: position,
        }
    }

    /// A product by sku.
    pub fn product(&self, sku: &str) -> Option<&ProductState> {
        self.products.iter().find(|p| p.sku == sku)
    }

    /// A request by id.
    pub fn request(&self, request_id: &str) -> Option<&SeasonRequest> {
        self.request_index
            .get(request_id)
            .and_then(|i| self.requests.get(*i))
    }

    /// The committed plan as known at `cutoff`.
    pub fn committed_at(&self, cutoff: u64) -> Option<&CommittedPlan> {
        self.committed.as_ref().filter(|c| c.position <= cutoff)
    }

    /// The requests known at `cutoff`, with their status then.
    pub fn requests_at(&self, cutoff: u64) -> Vec<RequestView> {
        self.requests
            .iter()
            .filter(|r| r.position <= cutoff)
            .map(|r| {
                let withdrawn = r.withdrawn.as_ref().filter(|(w, _)| *w <= cutoff);
                RequestView {
                    request_id: r.request_id.clone(),
                    account_id: r.account_id.clone(),
                    sku: r.sku.clone(),
                    quantity: r.quantity,
                    status: if withdrawn.is_some() {
                        "withdrawn"
                    } else {
                        "active"
                    },
                    withdrawn_reason: withdrawn.and_then(|(_, reason)| reason.clone()),
                    position: r.position,
                }
            })
            .collect()
    }
}

/// Every season, by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seasons {
    seasons: BTreeMap<String, Season>,
}

impl Seasons {
    /// Records an event's facts at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        match event {
            Event::SeasonDeclared(e) => {
                self.seasons
                    .insert(e.season_id.clone(), Season::declared(position, e));
            }
            Event::CapacityRevised(e) => {
                if let Some(p) = self
                    .seasons
                    .get_mut(&e.season_id)
                    .and_then(|s| s.products.iter_mut().find(|p| p.sku == e.sku))
                {
                    p.revisions.push((position, e.to));
                }
            }
            Event::AllocationRequested(e) => {
                if let Some(s) = self.seasons.get_mut(&e.season_id) {
                    s.request_index
                        .insert(e.request_id.clone(), s.requests.len());
                    s.requests.push(SeasonRequest {
                        request_id: e.request_id.clone(),
                        account_id: e.account_id.clone(),
                        sku: e.sku.clone(),
                        quantity: e.quantity,
                        position,
                        withdrawn: None,
                    });
                }
            }
            Event::AllocationRequestWithdrawn(e) => {
                if let Some(s) = self.seasons.get_mut(&e.season_id) {
                    if let Some(i) = s.request_index.get(&e.request_id).copied() {
                        s.requests[i].withdrawn = Some((position, e.reason.clone()));
                    }
                }
            }
            Event::AllocationCommitted(e) => {
                if let Some(s) = self.seasons.get_mut(&e.season_id) {
                    s.committed = Some(CommittedPlan {
                        plan_hash: e.plan_hash.clone(),
                        skus: e.skus.clone(),
                        position,
                    });
                }
            }
            _ => {}
        }
    }

    /// A season as it stands now.
    pub fn get(&self, season_id: &str) -> Option<&Season> {
        self.seasons.get(season_id)
    }

    /// Seasons declared at or before `cutoff`, by id, after the cursor `after`.
    pub fn list<'s>(
        &'s self,
        after: Option<&'s str>,
        cutoff: u64,
    ) -> impl Iterator<Item = &'s Season> + 's {
        self.seasons
            .iter()
            .filter(move |(id, s)| after.is_none_or(|a| id.as_str() > a) && s.declared_at <= cutoff)
            .map(|(_, s)| s)
    }

    /// Every fact, one line each, in a stable order (for the projections digest).
    pub fn digest_lines(&self) -> Vec<String> {
        self.seasons
            .iter()
            .map(|(id, s)| {
                format!(
                    "s|{id}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}",
                    s.name, s.starts_on, s.ends_on, s.products, s.reserves, s.requests, s.committed
                )
            })
            .collect()
    }
}

/// A season's allocation: per sku and per account, and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Plan {
    pub season_id: String,
    /// SHA-256 (hex) of the plan's content; `commit` records the plan only with this hash.
    pub plan_hash: String,
    pub skus: Vec<SkuPlan>,
}

/// An account's tier and its supply_priority on the season's starts_on.
pub type TierOf<'a> = dyn FnMut(&str) -> (String, u32) + 'a;

/// The allocation of every product of the season (DESIGN §5.6), from the requests active
/// at `cutoff` and the capacities then (or `capacity_overrides` where given), with each
/// account's priority from `tier_of` (asked once per account). Products in declared order;
/// lines by priority, then account_id. The hash covers the season id, capacities, classes
/// and every line, so any change of input that changes the outcome changes the hash.
pub fn plan(
    season: &Season,
    cutoff: u64,
    capacity_overrides: &BTreeMap<String, u64>,
    tier_of: &mut TierOf<'_>,
) -> Plan {
    let mut demand = ActiveDemand::of(season, cutoff);
    let accounts = &demand.accounts;
    // Accounts in account_id order; `rank[a]` sorts by integer instead of by string.
    let mut by_id: Vec<usize> = (0..accounts.len()).collect();
    by_id.sort_unstable_by_key(|&a| accounts[a]);
    let mut rank = vec![0usize; accounts.len()];
    for (r, &a) in by_id.iter().enumerate() {
        rank[a] = r;
    }
    // Each account's tier, asked once, in account_id order (so `tier_of` sees a stable order).
    let mut tiers: Vec<(String, u32)> = vec![(String::new(), 0); accounts.len()];
    for &a in &by_id {
        tiers[a] = tier_of(accounts[a]);
    }
    let reserves: Vec<(u32, rust_decimal::Decimal)> = season
        .reserves
        .iter()
        .map(|r| (r.priority, r.min_share_pct))
        .collect();
    let mut skus = Vec::with_capacity(season.products.len());
    for (sku, product) in season.products.iter().enumerate() {
        let capacity = capacity_overrides
            .get(&product.sku)
            .copied()
            .unwrap_or_else(|| product.capacity_at(cutoff));
        let mut lines = std::mem::take(&mut demand.per_sku[sku]);
        lines.sort_unstable_by_key(|&(a, _)| rank[a]);
        let allocation = allocate(capacity, &reserves, demand.summed(lines, &tiers));
        skus.push(demand.sku_plan(&product.sku, allocation, &tiers));
    }
    let plan_hash = plan_hash(&season.season_id, &skus);
    Plan {
        season_id: season.season_id.clone(),
        plan_hash,
        skus,
    }
}

/// The requests active at a cutoff, by index: hash lookups, not string comparisons (a
/// season of 2,000 accounts × 50 skus has 100,000 requests).
struct ActiveDemand<'s> {
    /// Accounts in the order first seen.
    accounts: Vec<&'s str>,
    account_index: FastMap<&'s str, usize>,
    /// Per product, (account, units) of each active request; summed per account by
    /// [`ActiveDemand::summed`].
    per_sku: Vec<Vec<(usize, u64)>>,
}

impl<'s> ActiveDemand<'s> {
    fn of(season: &'s Season, cutoff: u64) -> ActiveDemand<'s> {
        let sku_index: FastMap<&str, usize> = season
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sku.as_str(), i))
            .collect();
        let mut demand = ActiveDemand {
            accounts: Vec::new(),
            account_index: FastMap::default(),
            per_sku: vec![Vec::new(); season.products.len()],
        };
        for r in season.requests.iter().filter(|r| r.active_at(cutoff)) {
            let Some(&sku) = sku_index.get(r.sku.as_str()) else {
                continue;
            };
            let account = *demand
                .account_index
                .entry(r.account_id.as_str())
                .or_insert_with(|| {
                    demand.accounts.push(r.account_id.as_str());
                    demand.accounts.len() - 1
                });
            demand.per_sku[sku].push((account, r.quantity));
        }
        demand
    }

    /// One demand line per account from a product's requests sorted by account, with the
    /// account's supply_priority from `tiers`.
    fn summed(&self, lines: Vec<(usize, u64)>, tiers: &[(String, u32)]) -> Vec<Demand> {
        let mut demands: Vec<Demand> = Vec::with_capacity(lines.len());
        let mut last_account = usize::MAX;
        for (a, units) in lines {
            match demands.last_mut() {
                Some(last) if last_account == a => {
                    last.requested = last.requested.saturating_add(units);
                }
                _ => demands.push(Demand {
                    account_id: self.accounts[a].to_string(),
                    priority: tiers[a].1,
                    requested: units,
                }),
            }
            last_account = a;
        }
        demands
    }

    /// A product's plan from its allocation, each line with its account's tier name.
    fn sku_plan(&self, sku: &str, allocation: SkuAllocation, tiers: &[(String, u32)]) -> SkuPlan {
        let lines = allocation
            .lines
            .into_iter()
            .map(|a| PlanLine {
                tier: self
                    .account_index
                    .get(a.account_id.as_str())
                    .map(|i| tiers[*i].0.clone())
                    .unwrap_or_default(),
                fill_pct: fill_pct(a.allocated, a.requested),
                account_id: a.account_id,
                priority: a.priority,
                requested: a.requested,
                allocated: a.allocated,
                reason: a.reason,
            })
            .collect();
        SkuPlan {
            sku: sku.to_string(),
            capacity: allocation.capacity,
            requested: allocation.requested,
            allocated: allocation.allocated,
            classes: allocation.classes,
            lines,
        }
    }
}

/// SHA-256 (hex) of the stored encoding of a season id and its sku plans.
pub fn plan_hash(season_id: &str, skus: &[SkuPlan]) -> String {
    let bytes = codec::encode(&(season_id, skus));
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{
        AllocationRequestWithdrawn, AllocationRequested, SeasonDeclared, SeasonProduct,
    };

    fn season(requests: &[(&str, &str, &str, u64)]) -> Seasons {
        let mut seasons = Seasons::default();
        seasons.apply(
            1,
            &Event::SeasonDeclared(SeasonDeclared {
                season_id: "S".into(),
                name: "S".into(),
                starts_on: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                ends_on: NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
                products: vec![
                    SeasonProduct {
                        sku: "A".into(),
                        capacity: 100,
                    },
                    SeasonProduct {
                        sku: "B".into(),
                        capacity: 10,
                    },
                ],
                reserves: vec![],
            }),
        );
        for (i, (id, account, sku, quantity)) in requests.iter().enumerate() {
            seasons.apply(
                2 + i as u64,
                &Event::AllocationRequested(AllocationRequested {
                    season_id: "S".into(),
                    request_id: id.to_string(),
                    account_id: account.to_string(),
                    sku: sku.to_string(),
                    quantity: *quantity,
                }),
            );
        }
        seasons
    }

    fn units(plan: &Plan, sku: usize) -> Vec<(&str, u64, u64)> {
        plan.skus[sku]
            .lines
            .iter()
            .map(|l| (l.account_id.as_str(), l.requested, l.allocated))
            .collect()
    }

    fn tier_of(account: &str) -> (String, u32) {
        // K-1 is served first; everyone else shares class 2.
        if account == "K-1" {
            ("key".into(), 1)
        } else {
            ("general".into(), 2)
        }
    }

    #[test]
    fn requests_are_summed_per_account_and_withdrawn_ones_do_not_count() {
        // Proves an account's requests of one sku are summed, a withdrawn request stops
        // counting from its position, priorities come from `tier_of`, and a what-if
        // capacity changes the allocation and the hash.
        let mut seasons = season(&[
            ("r1", "K-2", "A", 40),
            ("r2", "K-1", "A", 70),
            ("r3", "K-2", "A", 30),
            ("r4", "K-3", "B", 20),
        ]);
        let s = seasons.get("S").unwrap().clone();
        let plan_now = plan(&s, u64::MAX, &BTreeMap::new(), &mut tier_of);
        assert_eq!(units(&plan_now, 0), vec![("K-1", 70, 70), ("K-2", 70, 30)]);
        assert_eq!(units(&plan_now, 1), vec![("K-3", 20, 10)]);
        assert_eq!(plan_now.skus[0].lines[0].tier, "key");
        assert_eq!(plan_now.skus[1].lines[0].fill_pct.to_string(), "50.00");

        seasons.apply(
            9,
            &Event::AllocationRequestWithdrawn(AllocationRequestWithdrawn {
                season_id: "S".into(),
                request_id: "r3".into(),
                account_id: "K-2".into(),
                reason: None,
            }),
        );
        let s = seasons.get("S").unwrap();
        let after = plan(s, u64::MAX, &BTreeMap::new(), &mut tier_of);
        assert_eq!(units(&after, 0), vec![("K-1", 70, 70), ("K-2", 40, 30)]);
        let before = plan(s, 8, &BTreeMap::new(), &mut tier_of);
        assert_eq!(before, plan_now, "as known at position 8, r3 still counts");

        let what_if = plan(
            s,
            u64::MAX,
            &BTreeMap::from([("A".to_string(), 200)]),
            &mut tier_of,
        );
        assert_eq!(units(&what_if, 0), vec![("K-1", 70, 70), ("K-2", 40, 40)]);
        assert_ne!(what_if.plan_hash, after.plan_hash);
    }

    #[test]
    fn the_hash_does_not_depend_on_request_order_or_ids() {
        // Proves two seasons with the same demand in another order and with other request
        // ids plan identically, hash included.
        let a = season(&[
            ("a", "K-1", "A", 5),
            ("b", "K-2", "A", 7),
            ("c", "K-2", "B", 9),
        ]);
        let b = season(&[
            ("z", "K-2", "B", 9),
            ("y", "K-2", "A", 7),
            ("x", "K-1", "A", 5),
        ]);
        let plan_a = plan(
            a.get("S").unwrap(),
            u64::MAX,
            &BTreeMap::new(),
            &mut tier_of,
        );
        let plan_b = plan(
            b.get("S").unwrap(),
            u64::MAX,
            &BTreeMap::new(),
            &mut tier_of,
        );
        assert_eq!(plan_a, plan_b);
        assert_eq!(plan_a.plan_hash.len(), 64);
    }
}
