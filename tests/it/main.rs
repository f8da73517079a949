//! One integration-test binary (faster to build than one per file).

mod support;

mod envelope_golden;
mod http_ingest;
mod http_accounts;
mod http_auth_audit;
mod crash;
mod cli;
