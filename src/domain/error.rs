//! Business refusals, each with a stable code that the API turns into problem+json.

pub use crate::kernel::field::FieldError;

/// Why the domain refused a command. Nothing is written when a command is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("{} invalid line(s); nothing was recorded", .0.len())]
    InvalidLines(Vec<FieldError>),
    #[error("the request is invalid: {}", first_message(.0))]
    Validation(Vec<FieldError>),
    #[error("{} line(s) repeat a recorded natural key with different content; nothing was recorded", .0.len())]
    DuplicateLineConflict(Vec<FieldError>),
    #[error("stream {stream} is at version {actual}, not the expected {expected}")]
    VersionConflict {
        stream: String,
        expected: u64,
        actual: u64,
    },
    #[error("account \"{0}\" already exists")]
    AccountExists(String),
    #[error("account \"{0}\" does not exist")]
    AccountNotFound(String),
    #[error("account \"{0}\" is closed")]
    AccountClosed(String),
    #[error("the batch has no lines")]
    EmptyBatch,
    #[error("the batch has {count} lines; at most {max} are accepted per request")]
    TooManyLines { count: usize, max: usize },
    #[error("a token named \"{0}\" already exists")]
    TokenExists(String),
    #[error("no token named \"{0}\"")]
    TokenNotFound(String),
    #[error("token \"{0}\" is already revoked")]
    TokenAlreadyRevoked(String),
    #[error("{percent}% exceeds the {ceiling}% ceiling of tier {tier} on {on}")]
    DiscountExceedsEntitlement {
        tier: String,
        ceiling: String,
        percent: String,
        on: String,
    },
    #[error("a discount with id \"{0}\" already exists")]
    DiscountExists(String),
    #[error("no discount with id \"{0}\"")]
    DiscountNotFound(String),
    #[error("discount \"{0}\" is already revoked")]
    DiscountAlreadyRevoked(String),
    #[error("account \"{account_id}\" has no tier override \"{override_id}\"")]
    OverrideNotFound {
        account_id: String,
        override_id: String,
    },
    #[error("a rebate program with id \"{0}\" already exists")]
    ProgramExists(String),
    #[error("no rebate program with id \"{0}\"")]
    ProgramNotFound(String),
    #[error("rebate program \"{0}\" has already ended early")]
    ProgramAlreadyEnded(String),
    #[error("program \"{program_id}\" holds approved or pending settlements for {period}, which ends on {period_end}; end on {period_end} or later (reject a pending settlement first if it is a mistake)")]
    SettledPeriodAfterEnd {
        program_id: String,
        period: String,
        period_end: String,
    },
    #[error("account \"{account_id}\" is already enrolled in \"{program_id}\"")]
    AlreadyEnrolled {
        program_id: String,
        account_id: String,
    },
    #[error("account \"{account_id}\" is not enrolled in \"{program_id}\"")]
    NotEnrolled {
        program_id: String,
        account_id: String,
    },
    #[error("no settlement with id \"{0}\"")]
    SettlementNotFound(String),
    #[error("settlement \"{0}\" was already approved or rejected")]
    SettlementDecided(String),
    #[error("settlement \"{0}\" is pending for this program, account and period; approve or reject it first")]
    PendingSettlement(String),
    #[error("the proposer may not approve their own settlement; another finance user must")]
    SameActorApproval,
    #[error("{message}")]
    SettlementRefused { code: &'static str, message: String },
    #[error("tier override \"{0}\" is already revoked")]
    OverrideAlreadyRevoked(String),
    #[error("account \"{account_id}\" is already at stage {stage}")]
    StageUnchanged { account_id: String, stage: String },
    /// A thing the command names does not exist (contests, seasons, requests).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The command conflicts with what is recorded (closed twice, stale plan, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A business rule refuses the command as asked (contest not over yet, ...).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
}

fn first_message(errors: &[FieldError]) -> String {
    errors
        .first()
        .map(|e| format!("{}: {}", e.field, e.message))
        .unwrap_or_default()
}

impl DomainError {
    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidLines(_) => "invalid_lines",
            DomainError::Validation(_) => "validation_failed",
            DomainError::DuplicateLineConflict(_) => "duplicate_line_conflict",
            DomainError::VersionConflict { .. } => "version_conflict",
            DomainError::AccountExists(_) => "account_exists",
            DomainError::AccountNotFound(_) => "account_not_found",
            DomainError::AccountClosed(_) => "account_closed",
            DomainError::EmptyBatch => "empty_batch",
            DomainError::TooManyLines { .. } => "too_many_lines",
            DomainError::TokenExists(_) => "token_exists",
            DomainError::TokenNotFound(_) => "token_not_found",
            DomainError::TokenAlreadyRevoked(_) => "token_revoked",
            DomainError::StageUnchanged { .. } => "stage_unchanged",
            DomainError::DiscountExceedsEntitlement { .. } => "discount_exceeds_entitlement",
            DomainError::DiscountExists(_) => "discount_exists",
            DomainError::DiscountNotFound(_) => "discount_not_found",
            DomainError::DiscountAlreadyRevoked(_) => "discount_revoked",
            DomainError::OverrideNotFound { .. } => "override_not_found",
            DomainError::OverrideAlreadyRevoked(_) => "override_revoked",
            DomainError::ProgramExists(_) => "program_exists",
            DomainError::SettlementNotFound(_) => "settlement_not_found",
            DomainError::SettlementDecided(_) => "settlement_decided",
            DomainError::PendingSettlement(_) => "pending_settlement_exists",
            DomainError::SameActorApproval => "same_actor_approval",
            DomainError::SettlementRefused { code, .. }
            | DomainError::NotFound { code, .. }
            | DomainError::Conflict { code, .. }
            | DomainError::Refused { code, .. } => code,
            DomainError::ProgramNotFound(_) => "program_not_found",
            DomainError::ProgramAlreadyEnded(_) => "program_ended",
            DomainError::SettledPeriodAfterEnd { .. } => "settled_period_after_end",
            DomainError::AlreadyEnrolled { .. } => "already_enrolled",
            DomainError::NotEnrolled { .. } => "not_enrolled",
        }
    }

    /// The HTTP status that fits the refusal.
    pub fn status(&self) -> u16 {
        match self {
            DomainError::InvalidLines(_)
            | DomainError::Validation(_)
            | DomainError::EmptyBatch
            | DomainError::StageUnchanged { .. }
            | DomainError::DiscountExceedsEntitlement { .. }
            | DomainError::SettlementRefused { .. }
            | DomainError::Refused { .. } => 422,
            DomainError::SameActorApproval => 403,
            DomainError::TooManyLines { .. } => 413,
            DomainError::AccountNotFound(_)
            | DomainError::TokenNotFound(_)
            | DomainError::DiscountNotFound(_)
            | DomainError::OverrideNotFound { .. }
            | DomainError::ProgramNotFound(_)
            | DomainError::SettlementNotFound(_)
            | DomainError::NotFound { .. } => 404,
            DomainError::DuplicateLineConflict(_)
            | DomainError::VersionConflict { .. }
            | DomainError::AccountExists(_)
            | DomainError::AccountClosed(_)
            | DomainError::TokenExists(_)
            | DomainError::TokenAlreadyRevoked(_)
            | DomainError::DiscountExists(_)
            | DomainError::DiscountAlreadyRevoked(_)
            | DomainError::OverrideAlreadyRevoked(_)
            | DomainError::ProgramExists(_)
            | DomainError::SettlementDecided(_)
            | DomainError::PendingSettlement(_)
            | DomainError::ProgramAlreadyEnded(_)
            | DomainError::SettledPeriodAfterEnd { .. }
            | DomainError::AlreadyEnrolled { .. }
            | DomainError::NotEnrolled { .. }
            | DomainError::Conflict { .. } => 409,
        }
    }

    /// The per-field details, when the refusal has them.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            DomainError::InvalidLines(e)
            | DomainError::Validation(e)
            | DomainError::DuplicateLineConflict(e) => e,
            _ => &[],
        }
    }
}
