//! The rule set vocabulary: Frictionless Table Schema (fields, types,
//! formats, constraints, missingValues, primaryKey) plus the CSV Dialect
//! keys we honour (header, delimiter). Deserialised as written; compiled
//! into checks by rules.rs (which reads this module, not the reverse).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A rule set: how to read the CSV and what every row must satisfy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// What the rule set describes and which specification it follows
    /// (free text, not checked): the shipped GHCN-Daily rule set names the
    /// readme version its codes come from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the file is laid out.
    #[serde(default)]
    pub dialect: Dialect,
    /// What each row must satisfy.
    pub schema: TableSchema,
}

/// The subset of Frictionless CSV Dialect this validator reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    /// Whether the first record is a header naming the fields.
    #[serde(default = "yes")]
    pub header: bool,
    /// The field delimiter, one ASCII character.
    #[serde(default = "comma")]
    pub delimiter: String,
}

fn yes() -> bool {
    true
}

fn comma() -> String {
    ",".to_string()
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect { header: true, delimiter: comma() }
    }
}

/// A Frictionless Table Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSchema {
    /// The fields, in column order.
    pub fields: Vec<FieldDescriptor>,
    /// Raw values that mean "no value" (default `[""]`).
    #[serde(default = "default_missing")]
    pub missing_values: Vec<String>,
    /// Field name(s) whose combined value must be unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<PrimaryKey>,
}

fn default_missing() -> Vec<String> {
    vec![String::new()]
}

/// `primaryKey`: one name or a list of names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PrimaryKey {
    /// A single field.
    One(String),
    /// Several fields.
    Many(Vec<String>),
}

impl PrimaryKey {
    /// The field names.
    pub fn names(&self) -> Vec<String> {
        match self {
            PrimaryKey::One(n) => vec![n.clone()],
            PrimaryKey::Many(v) => v.clone(),
        }
    }
}

/// One field (column). Unknown properties are refused: a misspelt
/// `constraints` or a property this validator does not implement
/// (`groupChar`, `bareNumber`, ...) would otherwise be skipped silently
/// and the column would accept what the author meant to refuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldDescriptor {
    /// Column name (used in rejects and stats).
    pub name: String,
    /// `string` (default), `integer`, `number`, `boolean`, `date`, `time`,
    /// `datetime`, `year`, or `any`.
    #[serde(rename = "type", default = "default_type")]
    pub field_type: String,
    /// `default`, or a strptime pattern for date/time/datetime.
    #[serde(default = "default_format")]
    pub format: String,
    /// Constraints.
    #[serde(default)]
    pub constraints: Constraints,
    /// Boolean true values (Frictionless default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_values: Option<Vec<String>>,
    /// Boolean false values (Frictionless default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_values: Option<Vec<String>>,
    /// Free text; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free text; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An example value; documentation only, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
    /// An RDF type URI; documentation only, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdf_type: Option<String>,
}

fn default_type() -> String {
    "string".to_string()
}

fn default_format() -> String {
    "default".to_string()
}

/// Frictionless field constraints. `minimum`, `maximum` and `enum` values
/// are in the field's type (JSON numbers, or strings the type parses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraints {
    /// A missing value is an error.
    #[serde(default)]
    pub required: bool,
    /// No two rows have the same value (missing values excepted).
    #[serde(default)]
    pub unique: bool,
    /// Minimum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Maximum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Smallest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Value>,
    /// Largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Value>,
    /// A regular expression the whole raw value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The allowed values.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
}
