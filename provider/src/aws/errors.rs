//! AWS SDK errors as diagnostics.

use crate::tfplugin::{Diagnostic, Diagnostics};

/// An AWS SDK error with its whole source chain (the SDK's top-level text
/// alone is often just "service error"), without repeating a link.
pub fn aws_error(action: &str, e: impl std::error::Error) -> Diagnostics {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(&format!(": {s_text}"));
        }
        source = s.source();
    }
    Diagnostic::error(format!("{action} failed"), text).into()
}
