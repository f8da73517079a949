//! Rebate programs and their enrollments as known at a cutoff (DESIGN §5.4).

use serde::Serialize;
use utoipa::ToSchema;

use super::accruals::program_known;
use super::{next_page, QueryError};
use crate::domain::events::program_stream;
use crate::domain::programs::{Enrollment, Program};
use crate::projections::ReadModel;

/// A program with its stream version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramResponse {
    #[serde(flatten)]
    pub program: Program,
    /// Accounts enrolled now (open enrollments).
    pub enrolled_accounts: usize,
    pub version: u64,
}

/// A page of programs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramPage {
    pub programs: Vec<ProgramResponse>,
    pub next_after: Option<String>,
}

/// A program's enrollments.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentList {
    pub program_id: String,
    pub enrollments: Vec<Enrollment>,
}

/// The program with its open enrollments counted and its stream version at `cutoff`.
fn program_view(read: &ReadModel, program: Program, cutoff: u64) -> ProgramResponse {
    let version = read.stream_version_at(&program_stream(&program.program_id), cutoff);
    let enrolled_accounts = program
        .enrollments
        .iter()
        .filter(|e| e.effective_to.is_none())
        .count();
    ProgramResponse {
        program,
        enrolled_accounts,
        version,
    }
}

/// The program as known at `cutoff`, or 404 `program_not_found`.
pub fn program(read: &ReadModel, id: &str, cutoff: u64) -> Result<ProgramResponse, QueryError> {
    Ok(program_view(read, program_known(read, id, cutoff)?, cutoff))
}

/// Up to `limit` programs known at `cutoff` after the cursor `after`, in id order.
pub fn programs_page(
    read: &ReadModel,
    after: Option<&str>,
    cutoff: u64,
    limit: usize,
) -> ProgramPage {
    let mut programs: Vec<ProgramResponse> = read
        .programs
        .list(after, cutoff)
        .take(limit + 1)
        .map(|program| program_view(read, program, cutoff))
        .collect();
    let next_after = next_page(&mut programs, limit, |p| p.program.program_id.clone());
    ProgramPage {
        programs,
        next_after,
    }
}

/// The program's enrollments as known at `cutoff`, or 404 `program_not_found`.
pub fn enrollments(read: &ReadModel, id: &str, cutoff: u64) -> Result<EnrollmentList, QueryError> {
    let program = program_known(read, id, cutoff)?;
    Ok(EnrollmentList {
        program_id: program.program_id,
        enrollments: program.enrollments,
    })
}
