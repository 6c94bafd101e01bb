//! The processing transforms: pure streaming functions from a reader to
//! writers, independent of the run layout and of S3.

pub mod classify;
pub mod csv;
pub mod image;
pub mod jsonl;
pub mod output;
pub mod records;
pub mod reject;
pub mod xml;

use serde::{Deserialize, Serialize};

use crate::exit::{JobError, JobResult};
use csv::{CompiledRules, RuleSet, builtin_rule_set};
use jsonl::Calculations;
use xml::{XmlSpec, XmlTransform};

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
    /// `xml_to_json`.
    Xml(XmlTransform),
    /// `image_resize`.
    Image(image::ResizePlan),
}

impl CompiledTransform {
    /// The name of the main output for input `name`: the input's own name
    /// for the CSV and JSON-lines transforms (their output is the same
    /// format), `<name>.jsonl` for XML records and `<name>.json` for a
    /// whole XML document (the seed's name), so a results listing says
    /// what a file holds and which input it came from. Appending keeps
    /// distinct inputs distinct; an input named `<x>.rejects` (records) or
    /// `<x>.stats` (documents) is refused (exit 65), since its output
    /// would be the rejects or stats file of input `<x>`.
    pub fn output_name(&self, name: &str) -> JobResult<String> {
        let CompiledTransform::Xml(xml) = self else { return Ok(name.to_string()) };
        let (suffix, clash) =
            if xml.record_path.is_some() { ("jsonl", ".rejects") } else { ("json", ".stats") };
        if let Some(other) = name.strip_suffix(clash) {
            return Err(JobError::data(format!(
                "{name}: its output {name}.{suffix} would be the {} file of input {other}; rename it",
                &clash[1..]
            )));
        }
        Ok(format!("{name}.{suffix}"))
    }
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
            TransformSpec::XmlToJson(spec) => {
                spec.compile().map(CompiledTransform::Xml).map_err(JobError::config)
            }
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
            TransformSpec::XmlToJson(_) => "xml_to_json",
            TransformSpec::ImageResize(_) => "image_resize",
        }
    }
}
