//! Free text as the domain checks it: the rule itself is `kernel::text`; here it becomes a
//! refusal of a command.

pub use crate::kernel::text::{check_chars, is_blank};

use super::error::DomainError;

/// [`check_chars`] as a refusal of the whole command (for fields checked one at a time).
pub fn refuse_chars(index: Option<usize>, field: &str, text: &str) -> Result<(), DomainError> {
    match check_chars(index, field, text) {
        Some(error) => Err(DomainError::Validation(vec![error])),
        None => Ok(()),
    }
}
