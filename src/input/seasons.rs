//! Season input: the declaration of an allocation season (also a season of the demo's
//! `seasons.json`) and its command.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commands::DeclareSeason;
use crate::domain::events::{SeasonProduct, SeasonReserve};

/// Body of `POST /v1/seasons`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareSeasonRequest {
    pub season_id: String,
    pub name: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// The scarce products and their capacity in whole units.
    pub products: Vec<SeasonProduct>,
    /// Shares of capacity kept for priority classes (Σ ≤ 100).
    #[serde(default)]
    pub reserves: Vec<SeasonReserve>,
}

impl From<DeclareSeasonRequest> for DeclareSeason {
    fn from(body: DeclareSeasonRequest) -> DeclareSeason {
        DeclareSeason {
            season_id: body.season_id,
            name: body.name,
            starts_on: body.starts_on,
            ends_on: body.ends_on,
            products: body.products,
            reserves: body.reserves,
        }
    }
}
