//! One integration-test binary (faster to build than one per file).

mod support;

mod as_of;
mod backup;
mod checkpoint_forms;
mod checkpoints;
mod cli;
mod contests;
mod crash;
mod decoder_property;
mod envelope_golden;
mod fuzz_api;
mod generated_client;
mod http_accounts;
mod http_auth_audit;
mod http_ingest;
mod inputs;
mod layers;
mod limits;
mod limits_property;
mod readme;
mod rebates;
mod rebates_property;
mod seasons;
mod settlements;
mod storage_faults;
mod tamper;
mod tiers;
mod tiers_property;
mod transport;
