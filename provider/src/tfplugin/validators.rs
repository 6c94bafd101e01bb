//! Declared checks of one attribute's value, as terraform-plugin-framework's
//! validators: written beside the attribute in its schema, run by the
//! protocol layer at Validate*Config with the diagnostic on the attribute's
//! path, and read back by whoever needs the range or the allowed values
//! (typed readers, documentation). Checks that relate two settings are the
//! resource's own.

use std::fmt;

use super::value::Value;

/// A refusal: the diagnostic's summary and detail.
pub type Refusal = (String, String);

/// A check of a string attribute written as a plain function: `Ok` or the
/// detail of the refusal (its summary is the rule's).
#[derive(Clone, Copy)]
pub struct TextRule {
    pub summary: &'static str,
    pub check: fn(&str) -> Result<(), String>,
}

// Two rules are the same rule when they refuse under the same summary;
// comparing function pointers is not meaningful.
impl PartialEq for TextRule {
    fn eq(&self, other: &Self) -> bool {
        self.summary == other.summary
    }
}

impl fmt::Debug for TextRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TextRule({:?})", self.summary)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// A whole number from `min` to `max`. `label` names the setting in
    /// the detail (the attribute name when `None`).
    WholeNumber {
        min: i64,
        max: i64,
        label: Option<&'static str>,
    },
    /// One of these strings. `summary` replaces "Invalid <name>".
    OneOf {
        allowed: &'static [&'static str],
        summary: Option<&'static str>,
    },
    /// An ARN; with `service`, of that service.
    Arn {
        service: Option<&'static str>,
    },
    Text(TextRule),
}

impl Validator {
    pub fn whole_number(min: i64, max: i64) -> Self {
        Validator::WholeNumber { min, max, label: None }
    }

    pub fn one_of(allowed: &'static [&'static str]) -> Self {
        Validator::OneOf { allowed, summary: None }
    }

    /// Whether `value` passes (unknown and null values pass: they are
    /// checked once known, and presence is the schema's rule).
    pub fn accepts(&self, value: &Value) -> bool {
        self.check("", value).is_none()
    }

    /// The refusal of `value` for the attribute `name`, if any.
    pub fn check(&self, name: &str, value: &Value) -> Option<Refusal> {
        if value.is_null() || value.is_unknown() {
            return None;
        }
        match self {
            Validator::WholeNumber { min, max, label } => match value.as_i64() {
                Some(n) if (*min..=*max).contains(&n) => None,
                _ => {
                    let shown = value.as_number().map(|n| n.to_string()).unwrap_or_default();
                    let what = label.unwrap_or(name);
                    Some((
                        format!("Invalid {name}"),
                        format!("{what} must be a whole number from {min} to {max}; got {shown}."),
                    ))
                }
            },
            Validator::OneOf { allowed, summary } => {
                let s = value.as_str()?;
                (!allowed.contains(&s)).then(|| {
                    (
                        summary.map_or_else(|| format!("Invalid {name}"), str::to_string),
                        format!("{s:?} is not one of {}.", allowed.join(", ")),
                    )
                })
            }
            Validator::Arn { service: None } => {
                let s = value.as_str()?;
                (!s.starts_with("arn:") || s.split(':').count() < 6).then(|| {
                    (
                        "Invalid ARN".to_string(),
                        format!("{s:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)."),
                    )
                })
            }
            Validator::Arn { service: Some(service) } => {
                let s = value.as_str()?;
                (!s.starts_with("arn:") || s.split(':').nth(2) != Some(service))
                    .then(|| ("Invalid ARN".to_string(), format!("{s:?} is not a {service} ARN.")))
            }
            Validator::Text(rule) => {
                let s = value.as_str()?;
                (rule.check)(s).err().map(|detail| (rule.summary.to_string(), detail))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_name_the_setting_and_the_value() {
        let v = Validator::WholeNumber { min: 2, max: 10, label: Some("max_nodes (the limit)") };
        assert_eq!(v.check("max_nodes", &Value::int(5)), None);
        let (summary, detail) = v.check("max_nodes", &Value::int(11)).unwrap();
        assert_eq!(summary, "Invalid max_nodes");
        assert_eq!(detail, "max_nodes (the limit) must be a whole number from 2 to 10; got 11.");
        assert!(v.accepts(&Value::Null) && v.accepts(&Value::unknown()));
    }

    #[test]
    fn one_of_arn_and_text_rules() {
        let v = Validator::OneOf { allowed: &["A", "B"], summary: Some("Invalid kind") };
        assert_eq!(
            v.check("kind", &Value::string("C")),
            Some(("Invalid kind".into(), "\"C\" is not one of A, B.".into()))
        );
        let arn = Validator::Arn { service: None };
        assert!(arn.accepts(&Value::string("arn:aws:iam::1:role/x")));
        assert!(!arn.accepts(&Value::string("role/x")));
        let lambda = Validator::Arn { service: Some("lambda") };
        assert!(!lambda.accepts(&Value::string("arn:aws:batch:us-east-1:1:job-queue/q")));
        let text = Validator::Text(TextRule {
            summary: "Invalid word",
            check: |s| if s.contains(' ') { Err(format!("{s:?} has a space.")) } else { Ok(()) },
        });
        assert_eq!(
            text.check("w", &Value::string("a b")),
            Some(("Invalid word".into(), "\"a b\" has a space.".into()))
        );
    }
}
