//! A [`RuleSet`] compiled: its field rules (rules.rs), its primary key,
//! its dialect and, compiled from the field rules once, the fast path's
//! checks (fast.rs), so validating a file compiles nothing.

use super::fast::FastRules;
use super::rules::{FieldRule, compile_field};
use super::schema::RuleSet;

/// A whole compiled rule set.
///
/// Its parts are read-only outside this module: the fast checks are
/// compiled from the field rules and must stay in step with them.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    /// Fields in column order.
    pub(super) fields: Vec<FieldRule>,
    /// Column indices of the primary key (empty = none).
    pub(super) primary_key: Vec<usize>,
    /// Whether the first record is a header.
    pub(super) header: bool,
    /// The delimiter byte.
    pub(super) delimiter: u8,
    /// The fast path's checks, compiled once here rather than per file
    /// (`None` when the rule set needs the general path for every row).
    fast: Option<Box<FastRules>>,
}

impl CompiledRules {
    /// Compiles and checks a rule set; errors describe the bad descriptor.
    pub fn compile(rules: &RuleSet) -> Result<Self, String> {
        let delimiter = match rules.dialect.delimiter.as_bytes() {
            [d] if d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r') && *d != 0 => *d,
            _ => {
                return Err(format!(
                    "dialect.delimiter {:?} must be one ASCII character other than a quote or line break",
                    rules.dialect.delimiter
                ));
            }
        };
        if rules.schema.fields.is_empty() {
            return Err("schema.fields must not be empty".into());
        }
        let missing: Vec<Vec<u8>> =
            rules.schema.missing_values.iter().map(|m| m.as_bytes().to_vec()).collect();
        let mut fields = Vec::new();
        for f in &rules.schema.fields {
            fields.push(compile_field(f, &missing).map_err(|e| format!("field {:?}: {e}", f.name))?);
        }
        let mut primary_key = Vec::new();
        if let Some(pk) = &rules.schema.primary_key {
            for name in pk.names() {
                let at = fields
                    .iter()
                    .position(|f| f.name == name)
                    .ok_or_else(|| format!("primaryKey names unknown field {name:?}"))?;
                // A row without its key identifies nothing: Table Schema's
                // primary key fields are required (as frictionless does).
                fields[at].required = true;
                primary_key.push(at);
            }
        }
        let mut compiled =
            CompiledRules { fields, primary_key, header: rules.dialect.header, delimiter, fast: None };
        compiled.fast = FastRules::compile(&compiled.fields, compiled.needs_uniqueness()).map(Box::new);
        Ok(compiled)
    }

    /// True when any uniqueness check is configured.
    pub fn needs_uniqueness(&self) -> bool {
        !self.primary_key.is_empty() || self.fields.iter().any(|f| f.unique)
    }

    /// The fast path's checks, if the rule set has them.
    pub(super) fn fast(&self) -> Option<&FastRules> {
        self.fast.as_deref()
    }
}
