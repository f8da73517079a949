//! Sale and return lines: as JSON (a line of a `{"lines":[…]}` body, of a fixture file or
//! of a JSONL import) and as a CSV row, each converted into the domain's line input.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::domain::commands::{ReturnLineInput, SaleLineInput};

/// Column names of a sales CSV (and fields of a JSON sale line).
pub const SALE_COLUMNS: &[&str] = &[
    "account_id",
    "invoice_id",
    "line",
    "sku",
    "category",
    "quantity",
    "net_amount",
    "cost_amount",
    "currency",
    "occurred_on",
];
/// Column names of a returns CSV (and fields of a JSON return line).
pub const RETURN_COLUMNS: &[&str] = &[
    "account_id",
    "return_id",
    "invoice_id",
    "line",
    "quantity",
    "net_amount",
    "cost_amount",
    "occurred_on",
];

/// Accepts a JSON string or integer as text; a JSON float is refused because binary
/// floats cannot carry money exactly.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, an integer or null (write decimals as strings, e.g. \"12.50\")")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

/// One sale line in JSON. Decimals are strings ("1234.50"); integers may be numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineJson {
    #[serde(default, deserialize_with = "text")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub invoice_id: Option<String>,
    /// Invoice line number, 1 or more.
    #[serde(default, deserialize_with = "text")]
    pub line: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub category: Option<String>,
    /// Decimal > 0.
    #[serde(default, deserialize_with = "text")]
    pub quantity: Option<String>,
    /// Decimal ≥ 0 in the account's currency.
    #[serde(default, deserialize_with = "text")]
    pub net_amount: Option<String>,
    /// Decimal ≥ 0; absent means unknown cost (zero margin).
    #[serde(default, deserialize_with = "text")]
    pub cost_amount: Option<String>,
    /// Optional; must equal the account's currency.
    #[serde(default, deserialize_with = "text")]
    pub currency: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, deserialize_with = "text")]
    pub occurred_on: Option<String>,
}

impl From<SaleLineJson> for SaleLineInput {
    fn from(j: SaleLineJson) -> Self {
        SaleLineInput {
            account_id: j.account_id,
            invoice_id: j.invoice_id,
            line: j.line,
            sku: j.sku,
            category: j.category,
            quantity: j.quantity,
            net_amount: j.net_amount,
            cost_amount: j.cost_amount,
            currency: j.currency,
            occurred_on: j.occurred_on,
        }
    }
}

/// One return line in JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineJson {
    #[serde(default, deserialize_with = "text")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub return_id: Option<String>,
    /// The invoice of the sale being returned.
    #[serde(default, deserialize_with = "text")]
    pub invoice_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub line: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub quantity: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub net_amount: Option<String>,
    /// Absent: prorated from the sale's cost.
    #[serde(default, deserialize_with = "text")]
    pub cost_amount: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub occurred_on: Option<String>,
}

impl From<ReturnLineJson> for ReturnLineInput {
    fn from(j: ReturnLineJson) -> Self {
        ReturnLineInput {
            account_id: j.account_id,
            return_id: j.return_id,
            invoice_id: j.invoice_id,
            line: j.line,
            quantity: j.quantity,
            net_amount: j.net_amount,
            cost_amount: j.cost_amount,
            occurred_on: j.occurred_on,
        }
    }
}

/// A sale line from a row in [`SALE_COLUMNS`] order.
pub fn sale_from_row(mut r: Vec<Option<String>>) -> SaleLineInput {
    let mut take = |i: usize| r[i].take();
    SaleLineInput {
        account_id: take(0),
        invoice_id: take(1),
        line: take(2),
        sku: take(3),
        category: take(4),
        quantity: take(5),
        net_amount: take(6),
        cost_amount: take(7),
        currency: take(8),
        occurred_on: take(9),
    }
}

/// A return line from a row in [`RETURN_COLUMNS`] order.
pub fn return_from_row(mut r: Vec<Option<String>>) -> ReturnLineInput {
    let mut take = |i: usize| r[i].take();
    ReturnLineInput {
        account_id: take(0),
        return_id: take(1),
        invoice_id: take(2),
        line: take(3),
        quantity: take(4),
        net_amount: take(5),
        cost_amount: take(6),
        occurred_on: take(7),
    }
}
