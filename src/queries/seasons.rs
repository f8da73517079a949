//! Peak-season allocation plans (DESIGN §5.6): a season as it stands, its requests, a
//! (what-if) plan and the committed allocations.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::{next_page, QueryError};
use crate::domain::error::FieldError;
use crate::domain::events::{season_stream, SeasonProduct, SeasonReserve, SkuPlan};
use crate::domain::seasons::{self, Plan, RequestView, Season};
use crate::kernel::limits::UNITS_MAX;
use crate::projections::ReadModel;

/// One product of a season as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub sku: String,
    /// The capacity now (after revisions).
    pub capacity: u64,
    pub declared_capacity: u64,
    /// Σ of the active requests.
    pub requested: u64,
}

/// A season as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeasonResponse {
    pub season_id: String,
    pub name: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// `open` (requests and revisions accepted) or `committed`.
    pub status: String,
    pub products: Vec<ProductView>,
    pub reserves: Vec<SeasonReserve>,
    pub active_requests: usize,
    /// The hash of the committed plan, once committed.
    pub plan_hash: Option<String>,
    pub version: u64,
}

/// A page of seasons.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeasonPage {
    pub seasons: Vec<SeasonResponse>,
    pub next_after: Option<String>,
}

/// A season's requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    pub season_id: String,
    pub requests: Vec<RequestView>,
}

/// A plan, computed now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanResponse {
    #[serde(flatten)]
    pub plan: Plan,
    /// True when capacity overrides were applied.
    pub what_if: bool,
    /// The log position the plan was computed at.
    pub through_position: u64,
}

/// The committed plan of a season.
#[derive(Debug, Serialize, ToSchema)]
pub struct Allocations {
    pub season_id: String,
    pub plan_hash: String,
    /// The log position of the AllocationCommitted event.
    pub committed_position: u64,
    pub skus: Vec<SkuPlan>,
}

/// Which requests of a season a list holds (`None` lets all through).
#[derive(Debug, Default)]
pub struct RequestFilter<'a> {
    /// Only this account's requests.
    pub account_id: Option<&'a str>,
    /// `active` or `withdrawn`.
    pub status: Option<&'a str>,
}

/// 404 `season_not_found`.
pub fn not_found(id: &str) -> QueryError {
    QueryError::not_found("season_not_found", format!("no season with id \"{id}\""))
}

/// The season as declared at `cutoff`, or 404.
fn season_known<'r>(read: &'r ReadModel, id: &str, cutoff: u64) -> Result<&'r Season, QueryError> {
    read.seasons
        .get(id)
        .filter(|s| s.declared_at <= cutoff)
        .ok_or_else(|| not_found(id))
}

/// A season as it stands at `cutoff`: capacities after revisions, Σ of the active
/// requests per product, the committed plan's hash and the stream version.
fn season_view(read: &ReadModel, season: &Season, cutoff: u64) -> SeasonResponse {
    let requests = season.requests_at(cutoff);
    let active: Vec<&RequestView> = requests.iter().filter(|r| r.status == "active").collect();
    let committed = season.committed_at(cutoff);
    SeasonResponse {
        season_id: season.season_id.clone(),
        name: season.name.clone(),
        starts_on: season.starts_on,
        ends_on: season.ends_on,
        status: if committed.is_some() {
            "committed"
        } else {
            "open"
        }
        .to_string(),
        products: season
            .products
            .iter()
            .map(|p| ProductView {
                sku: p.sku.clone(),
                capacity: p.capacity_at(cutoff),
                declared_capacity: p.declared,
                requested: active
                    .iter()
                    .filter(|r| r.sku == p.sku)
                    .fold(0u64, |sum, r| sum.saturating_add(r.quantity)),
            })
            .collect(),
        reserves: season.reserves.clone(),
        active_requests: active.len(),
        plan_hash: committed.map(|c| c.plan_hash.clone()),
        version: read.stream_version_at(&season_stream(&season.season_id), cutoff),
    }
}

/// The season as it stands at `cutoff`, or 404 `season_not_found`.
pub fn season(read: &ReadModel, id: &str, cutoff: u64) -> Result<SeasonResponse, QueryError> {
    Ok(season_view(read, season_known(read, id, cutoff)?, cutoff))
}

/// Up to `limit` seasons declared at `cutoff` after the cursor `after`, in id order.
pub fn seasons_page(
    read: &ReadModel,
    after: Option<&str>,
    cutoff: u64,
    limit: usize,
) -> SeasonPage {
    let mut seasons: Vec<SeasonResponse> = read
        .seasons
        .list(after, cutoff)
        .take(limit + 1)
        .map(|s| season_view(read, s, cutoff))
        .collect();
    let next_after = next_page(&mut seasons, limit, |s| s.season_id.clone());
    SeasonPage {
        seasons,
        next_after,
    }
}

/// The season's requests as known at `cutoff` that pass `filter`, or 404.
pub fn requests(
    read: &ReadModel,
    id: &str,
    filter: &RequestFilter<'_>,
    cutoff: u64,
) -> Result<RequestList, QueryError> {
    let season = season_known(read, id, cutoff)?;
    let requests = season
        .requests_at(cutoff)
        .into_iter()
        .filter(|r| filter.account_id.is_none_or(|a| r.account_id == a))
        .filter(|r| filter.status.is_none_or(|s| r.status == s))
        .collect();
    Ok(RequestList {
        season_id: id.to_string(),
        requests,
    })
}

/// The ids of the season's requests recorded at the positions `first..=last` (those of
/// one batch).
pub fn request_ids_between(read: &ReadModel, id: &str, first: u64, last: u64) -> Vec<String> {
    read.seasons
        .get(id)
        .map(|s| {
            s.requests
                .iter()
                .filter(|r| (first..=last).contains(&r.position))
                .map(|r| r.request_id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One request of the season as known at `cutoff`, asked for after it was written: its
/// absence is a contradiction of the read model, not a 404.
pub fn request_written(
    read: &ReadModel,
    id: &str,
    request_id: &str,
    cutoff: u64,
) -> Result<RequestView, QueryError> {
    read.seasons
        .get(id)
        .and_then(|s| {
            s.requests_at(cutoff)
                .into_iter()
                .find(|r| r.request_id == request_id)
        })
        .ok_or_else(|| {
            QueryError::Inconsistent("the withdrawn request is missing from the season".into())
        })
}

/// The plan of a season computed from the read model at its head, with what-if
/// capacities (`overrides`, sku → units): each account's supply tier on the season's
/// first day, then `domain::seasons::plan`.
pub fn plan(
    read: &ReadModel,
    id: &str,
    overrides: &BTreeMap<String, u64>,
) -> Result<Plan, QueryError> {
    let season = read.seasons.get(id).ok_or_else(|| not_found(id))?;
    let cutoff = read.head_position();
    let starts_on = season.starts_on;
    let mut tier_of = |account: &str| {
        read.incentives.supply_tier(
            account,
            starts_on,
            cutoff,
            read.daily(account),
            read.accounts
                .described(account, cutoff)
                .map(|a| a.relationship_stage),
        )
    };
    Ok(seasons::plan(season, cutoff, overrides, &mut tier_of))
}

/// The plan of a season at the head with the what-if `capacities` (none: the plan as it
/// would be committed); 404 for an unknown season, and every capacity naming an unknown
/// sku, above the unit limit or listed twice refused at once.
pub fn what_if_plan(
    read: &ReadModel,
    id: &str,
    capacities: &[SeasonProduct],
) -> Result<PlanResponse, QueryError> {
    let season = read.seasons.get(id).ok_or_else(|| not_found(id))?;
    let overrides = capacity_overrides(season, capacities)?;
    Ok(PlanResponse {
        plan: plan(read, id, &overrides)?,
        what_if: !overrides.is_empty(),
        through_position: read.head_position(),
    })
}

/// The what-if capacities as sku → units, or every field error of them.
fn capacity_overrides(
    season: &Season,
    capacities: &[SeasonProduct],
) -> Result<BTreeMap<String, u64>, QueryError> {
    let mut errors = Vec::new();
    let mut overrides = BTreeMap::new();
    for (i, p) in capacities.iter().enumerate() {
        if season.product(&p.sku).is_none() {
            errors.push(FieldError::new(
                None,
                &format!("capacities[{i}].sku"),
                "unknown_sku",
                format!(
                    "season \"{}\" has no product \"{}\"",
                    season.season_id, p.sku
                ),
            ));
        } else if p.capacity > UNITS_MAX {
            errors.push(FieldError::new(
                None,
                &format!("capacities[{i}].capacity"),
                "invalid_quantity",
                format!("capacity {} is above {UNITS_MAX}", p.capacity),
            ));
        } else if overrides.insert(p.sku.clone(), p.capacity).is_some() {
            errors.push(FieldError::new(
                None,
                &format!("capacities[{i}].sku"),
                "duplicate_sku",
                format!("sku \"{}\" is listed twice", p.sku),
            ));
        }
    }
    if errors.is_empty() {
        Ok(overrides)
    } else {
        Err(QueryError::Invalid(errors))
    }
}

/// The committed plan of the season as known at `cutoff` (only `account_id`'s lines when
/// named); 404 `season_not_found` or `not_committed`.
pub fn allocations(
    read: &ReadModel,
    id: &str,
    cutoff: u64,
    account_id: Option<&str>,
) -> Result<Allocations, QueryError> {
    let season = season_known(read, id, cutoff)?;
    let committed = season.committed_at(cutoff).ok_or_else(|| {
        QueryError::not_found(
            "not_committed",
            format!("season \"{id}\" has no committed plan yet; POST /v1/seasons/{id}/plan, then /commit"),
        )
    })?;
    let skus = committed
        .skus
        .iter()
        .map(|sku| match account_id {
            None => sku.clone(),
            Some(account) => SkuPlan {
                lines: sku
                    .lines
                    .iter()
                    .filter(|l| l.account_id == account)
                    .cloned()
                    .collect(),
                ..sku.clone()
            },
        })
        .collect();
    Ok(Allocations {
        season_id: id.to_string(),
        plan_hash: committed.plan_hash.clone(),
        committed_position: committed.position,
        skus,
    })
}
