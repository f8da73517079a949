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
        super::admin::backup,
        super::system::healthz,
        super::system::metrics,
        super::system::openapi,
    ),
    modifiers(&BearerAuth),
    tags((name = "accounts"), (name = "sales"), (name = "audit"), (name = "tiers"), (name = "discounts"), (name = "reports"), (name = "rebates"), (name = "contests"), (name = "seasons"), (name = "tokens"), (name = "admin"), (name = "system"))
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
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                document_problems(operation);
            }
        }
    }
}

/// Every error answer is `application/problem+json` (DESIGN §6); every protected operation
/// can answer 401 (no or bad token) and 403 (the role lacks the right), every operation
/// with a query 400, every operation with a body 400 and 422. The handlers' annotations
/// list their own refusals; these common ones are added here once.
fn document_problems(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with(['4', '5']), response) {
            if let Some(content) = response.content.shift_remove("application/json") {
                response
                    .content
                    .insert("application/problem+json".to_string(), content);
            }
        }
    }
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
    let mut refusals: Vec<(&str, &str)> = Vec::new();
    if has_query || operation.request_body.is_some() {
        refusals.push((
            "400",
            "malformed JSON, or a query parameter that is unknown or not in its format",
        ));
    }
    if operation.request_body.is_some() {
        refusals.push((
            "422",
            "a body of the wrong shape, or a value the rules refuse (every bad field listed)",
        ));
    }
    for (status, description) in refusals {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content("application/problem+json", problem())
                        .build(),
                )
            });
    }
    if operation.security.is_some() {
        for (status, description) in [
            (
                "401",
                "no token, or a token that is unknown, malformed or revoked",
            ),
            ("403", "the token's role lacks the right"),
        ] {
            operation
                .responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/problem+json", problem())
                            .build(),
                    )
                });
        }
    }
}
