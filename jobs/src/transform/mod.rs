//! The processing transforms: pure streaming functions from a reader to
//! writers, independent of the run layout and of S3.

pub mod classify;
pub mod csv;
pub mod image;
pub mod jsonl;
pub mod output;
pub mod records;
pub mod reject;

use serde::{Deserialize, Serialize};

use crate::exit::{JobError, JobResult};
use csv::{CompiledRules, RuleSet, builtin_rule_set};
use jsonl::Calculations;

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
    /// Resize images to one or more sizes (`image::ImageResizeSpec`).
    ImageResize(image::ImageResizeSpec),
}

/// A transform ready to run: its spec checked and compiled once per
/// node, then applied to each input file.
pub enum CompiledTransform {
    /// `csv_validate`.
    Csv(CompiledRules),
    /// `jsonl_calc`.
    Jsonl(Calculations),
    /// `image_resize`.
    Image(image::ResizePlan),
}

impl TransformSpec {
    /// Checks and compiles the spec; a bad one is a configuration error
    /// (exit 78) naming the field.
    pub fn compile(&self) -> JobResult<CompiledTransform> {
        match self {
            TransformSpec::CsvValidate { rules } => Ok(CompiledTransform::Csv(rules.compile()?)),
            TransformSpec::JsonlCalc { calculations } => Calculations::parse(calculations)
                .map(CompiledTransform::Jsonl)
                .map_err(|e| JobError::config(format!("transform.calculations: {e}"))),
            TransformSpec::ImageResize(spec) => {
                spec.compile().map(CompiledTransform::Image).map_err(JobError::config)
            }
        }
    }

    /// Checks that the spec compiles (the jobs would otherwise exit 78).
    pub fn validate(&self) -> JobResult<()> {
        self.compile().map(|_| ())
    }

    /// The name used in stats and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TransformSpec::CsvValidate { .. } => "csv_validate",
            TransformSpec::JsonlCalc { .. } => "jsonl_calc",
            TransformSpec::ImageResize(_) => "image_resize",
        }
    }
}
