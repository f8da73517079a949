//! The OpenAPI document, generated from the handlers' annotations and the DTOs.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "kaledger", description = "Event-sourced incentive and rebate ledger for key accounts. Errors are application/problem+json with a stable `code`."),
    paths(
        super::accounts::open_account,
        super::accounts::list_accounts,
        super::accounts::get_account,
        super::accounts::update_account,
        super::accounts::change_stage,
        super::accounts::close_account,
        super::sales::post_sales,
        super::sales::post_returns,
        super::audit::list_events,
        super::audit::head,
        super::audit::verify,
        super::audit::projections,
        super::tiers::publish_policy,
        super::tiers::get_policy,
        super::tiers::get_entitlements,
        super::tiers::sales_summary,
        super::tiers::grant_override,
        super::tiers::list_overrides,
        super::tiers::revoke_override,
        super::discounts::grant_discount,
        super::discounts::get_discount,
        super::discounts::revoke_discount,
        super::discounts::account_discounts,
        super::reports::get_pareto,
        super::reports::get_liability,
        super::programs::define_program,
        super::programs::list_programs,
        super::programs::get_program,
        super::programs::end_program,
        super::programs::enroll,
        super::programs::unenroll,
        super::programs::list_enrollments,
        super::rebates::program_accruals,
        super::rebates::account_rebates,
        super::settlements::propose,
        super::settlements::get_settlement,
        super::settlements::approve,
        super::settlements::reject,
        super::settlements::explain,
        super::contests::define_contest,
        super::contests::list_contests,
        super::contests::get_contest,
        super::contests::get_standings,
        super::contests::close_contest,
        super::contests::list_awards,
        super::contests::mark_award_paid,
        super::seasons::declare_season,
        super::seasons::list_seasons,
        super::seasons::get_season,
        super::seasons::revise_capacity,
        super::seasons::request_allocation,
        super::seasons::list_requests,
        super::seasons::withdraw_request,
        super::seasons::plan_season,
        super::seasons::commit_plan,
        super::seasons::get_allocations,
        super::tokens::create_token,
        super::tokens::list_tokens,
        super::tokens::revoke_token,
        super::system::healthz,
        super::system::metrics,
        super::system::openapi,
    ),
    modifiers(&BearerAuth),
    tags((name = "accounts"), (name = "sales"), (name = "audit"), (name = "tiers"), (name = "discounts"), (name = "reports"), (name = "rebates"), (name = "contests"), (name = "seasons"), (name = "tokens"), (name = "system"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
