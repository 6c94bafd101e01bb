//! The processing transforms: pure streaming functions from a reader to
//! writers, independent of the run layout and of S3.

pub mod classify;
pub mod csv;
pub mod jsonl;
pub mod output;
pub mod records;
pub mod reject;
pub mod xml;

use serde::{Deserialize, Serialize};

use crate::exit::{JobError, JobResult};
use csv::{CompiledRules, RuleSet, builtin_rule_set};
use jsonl::Calculations;
use xml::XmlSpec;

/// Which rule set a CSV validation uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleSetRef {
    /// A rule set shipped in the binary, e.g. `{"builtin": "ghcn-daily"}`.
    Builtin {
        /// Its name (see [`csv::BUILTIN_RULE_SETS`]).
        builtin: String,
    },
    /// A rule set written out in run.json.
    Inline(RuleSet),
}

impl RuleSetRef {
    /// The rule set itself.
    pub fn resolve(&self) -> JobResult<RuleSet> {
        match self {
            RuleSetRef::Builtin { builtin } => builtin_rule_set(builtin).map_err(JobError::config),
            RuleSetRef::Inline(rules) => Ok(rules.clone()),
        }
    }

    /// The compiled checks.
    pub fn compile(&self) -> JobResult<CompiledRules> {
        CompiledRules::compile(&self.resolve()?)
            .map_err(|e| JobError::config(format!("transform.rules: {e}")))
    }
}

/// What processing does with each input file (`transform` in run.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransformSpec {
    /// Validate CSV rows against a Table Schema rule set.
    CsvValidate {
        /// The rule set.
        rules: RuleSetRef,
    },
    /// Compute fields of JSON-lines records, e.g.
    /// `["review_score = stars * review_count"]`.
    JsonlCalc {
        /// `target = expression` assignments, applied in order.
        calculations: Vec<String>,
    },
    /// Convert XML to JSON: the elements at `record_path` as JSON lines,
    /// or the whole file as one document.
    XmlToJson(XmlSpec),
}

impl TransformSpec {
    /// Checks that the spec compiles (the jobs would otherwise exit 78).
    pub fn validate(&self) -> JobResult<()> {
        match self {
            TransformSpec::CsvValidate { rules } => rules.compile().map(|_| ()),
            TransformSpec::JsonlCalc { calculations } => Calculations::parse(calculations)
                .map(|_| ())
                .map_err(|e| JobError::config(format!("transform.calculations: {e}"))),
            TransformSpec::XmlToJson(spec) => spec.compile().map(|_| ()).map_err(JobError::config),
        }
    }

    /// The name of the main output for input `name`: the input's own name
    /// for the CSV and JSON-lines transforms (their output is the same
    /// format), `<name>.jsonl` for XML records and `<name>.json` for a
    /// whole XML document, so a results listing says what the file holds
    /// and which input it came from. Appending keeps distinct inputs
    /// distinct.
    pub fn output_name(&self, name: &str) -> String {
        match self {
            TransformSpec::XmlToJson(XmlSpec { record_path: Some(_), .. }) => format!("{name}.jsonl"),
            TransformSpec::XmlToJson(XmlSpec { record_path: None, .. }) => format!("{name}.json"),
            _ => name.to_string(),
        }
    }

    /// The name used in stats and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TransformSpec::CsvValidate { .. } => "csv_validate",
            TransformSpec::JsonlCalc { .. } => "jsonl_calc",
            TransformSpec::XmlToJson(_) => "xml_to_json",
        }
    }
}
