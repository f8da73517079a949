//! Settlement input: the body of a settlement proposal (also a settlement of the demo's
//! `rebates.json`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rules::rebates::SettlementKind;

/// Body of `POST /v1/settlements`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    pub program_id: String,
    pub account_id: String,
    /// `2026-Q2` (the program's period kind).
    pub period: String,
    /// `partial` (during or after the period), `final` (after it), `delta` (after an approved final; negative = clawback).
    pub kind: SettlementKind,
    /// Credit note, payment run or other reference.
    pub reference: String,
}
