//! Diagnostics (errors and warnings shown to the user) and the attribute
//! paths that let Terraform point at the offending line of configuration.

use std::fmt;

use crate::proto::tfplugin6 as pb;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path from the root of a value, e.g. `stage["egress"].memory`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    pub fn root() -> Self {
        AttributePath(Vec::new())
    }

    pub fn attr(name: &str) -> Self {
        AttributePath(vec![PathStep::Attr(name.to_string())])
    }

    pub fn push(&self, step: PathStep) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        AttributePath(steps)
    }

    pub fn then_attr(&self, name: &str) -> Self {
        self.push(PathStep::Attr(name.to_string()))
    }

    pub fn then_index(&self, index: usize) -> Self {
        self.push(PathStep::Index(index as i64))
    }

    pub fn then_key(&self, key: &str) -> Self {
        self.push(PathStep::Key(key.to_string()))
    }

    pub fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::step::Selector;
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| pb::attribute_path::Step {
                    selector: Some(match s {
                        PathStep::Attr(n) => Selector::AttributeName(n.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(n) if i == 0 => write!(f, "{n}")?,
                PathStep::Attr(n) => write!(f, ".{n}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, summary: summary.into(), detail: detail.into(), path: None }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, summary: summary.into(), detail: detail.into(), path: None }
    }

    /// An error about one attribute: Terraform underlines it in the config.
    pub fn attribute_error(
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Diagnostic { path: Some(path), ..Diagnostic::error(summary, detail) }
    }

    pub fn with_path(mut self, path: AttributePath) -> Self {
        self.path = Some(path);
        self
    }

    pub fn to_proto(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.path.as_ref().map(AttributePath::to_proto),
        }
    }
}

/// An ordered collection of diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Adds the diagnostics not already here (the same check reached by
    /// two routes is reported once).
    pub fn merge(&mut self, other: Diagnostics) {
        for d in other.0 {
            if !self.0.contains(&d) {
                self.0.push(d);
            }
        }
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_like_terraform_addresses() {
        let p = AttributePath::attr("stage").then_key("egress").then_attr("retry").then_index(2);
        assert_eq!(p.to_string(), r#"stage["egress"].retry[2]"#);
        assert_eq!(p.to_proto().steps.len(), 4);
    }
}
