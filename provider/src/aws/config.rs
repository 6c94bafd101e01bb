//! The provider block: its schema, its validation, and how it becomes an
//! AWS SDK configuration. The standard AWS environment variables
//! (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, credentials...) work as with
//! any AWS tool; what the block sets wins over them.

use std::collections::BTreeMap;

use crate::tfplugin::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Schema, Type, Value,
};

/// Services whose endpoint can be overridden one by one.
pub const SERVICES: [&str; 5] = ["batch", "ecs", "efs", "s3", "sts"];

pub fn schema() -> Schema {
    let mut endpoints =
        Block::new("Per-service endpoint URLs; each wins over `endpoint_url` for its service.");
    for service in SERVICES {
        endpoints = endpoints.attr(Attribute::optional(
            service,
            Type::String,
            &format!("Endpoint URL for {service}."),
        ));
    }
    Schema::new(
        0,
        Block::new("Configures how the provider reaches AWS.")
            .attr(Attribute::optional(
                "region",
                Type::String,
                "AWS region. Defaults to AWS_REGION or the profile's region.",
            ))
            .attr(Attribute::optional(
                "profile",
                Type::String,
                "Named profile from the shared AWS config files.",
            ))
            .attr(Attribute::optional(
                "endpoint_url",
                Type::String,
                "One endpoint URL for every service (moto, LocalStack). Defaults to AWS_ENDPOINT_URL.",
            ))
            .attr(Attribute::optional(
                "max_retries",
                Type::Number,
                "Retries of a throttled or failed AWS call (0-25; default 3).",
            ))
            .attr(Attribute::optional(
                "assume_role_arn",
                Type::String,
                "ARN of an IAM role to assume for every call.",
            ))
            .attr(Attribute::optional(
                "default_tags",
                Type::map(Type::String),
                "Tags added to everything the provider creates; a resource's own `tags` win on conflict.",
            ))
            .block(NestedBlock::new("endpoints", Nesting::Single, endpoints)),
    )
}

/// The provider block, checked and typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub endpoints: BTreeMap<String, String>,
    pub max_retries: Option<u32>,
    pub assume_role_arn: Option<String>,
    pub default_tags: BTreeMap<String, String>,
}

impl ProviderConfig {
    /// Reads and checks the block; every problem names its attribute.
    /// Unknown values are reported only when `require_known` (configure time).
    pub fn parse(value: &Value, require_known: bool) -> Result<ProviderConfig, Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut config = ProviderConfig::default();
        let string = |name: &str, diags: &mut Diagnostics| -> Option<String> {
            let v = value.get(name);
            if v.is_unknown() {
                if require_known {
                    diags.push(unknown_error(AttributePath::attr(name)));
                }
                return None;
            }
            v.as_str().map(str::to_string)
        };
        config.region = string("region", &mut diags);
        config.profile = string("profile", &mut diags);
        config.endpoint_url = string("endpoint_url", &mut diags);
        config.assume_role_arn = string("assume_role_arn", &mut diags);

        if let Some(region) = &config.region
            && !valid_region(region)
        {
            diags.push(Diagnostic::attribute_error(
                AttributePath::attr("region"),
                "Invalid region",
                format!("{region:?} is not an AWS region name (like \"eu-west-1\")."),
            ));
        }
        if let Some(url) = &config.endpoint_url {
            check_url(url, AttributePath::attr("endpoint_url"), &mut diags);
        }
        if let Some(arn) = &config.assume_role_arn
            && !(arn.starts_with("arn:") && arn.contains(":role/"))
        {
            diags.push(Diagnostic::attribute_error(
                AttributePath::attr("assume_role_arn"),
                "Invalid role ARN",
                format!("{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)."),
            ));
        }
        match value.get("max_retries") {
            Value::Null => {}
            Value::Unknown(_) if require_known => {
                diags.push(unknown_error(AttributePath::attr("max_retries")))
            }
            Value::Unknown(_) => {}
            v => match v.as_i64().filter(|n| (0..=25).contains(n)) {
                Some(n) => config.max_retries = Some(n as u32),
                None => diags.push(Diagnostic::attribute_error(
                    AttributePath::attr("max_retries"),
                    "Invalid max_retries",
                    "max_retries must be a whole number from 0 to 25.",
                )),
            },
        }
        if let Some(tags) = value.get("default_tags").entries() {
            for (k, v) in tags {
                match v {
                    Value::String(s) => {
                        config.default_tags.insert(k.clone(), s.clone());
                    }
                    Value::Unknown(_) if require_known => {
                        diags.push(unknown_error(AttributePath::attr("default_tags").then_key(k)))
                    }
                    _ => {}
                }
            }
        }
        let endpoints = value.get("endpoints");
        for service in SERVICES {
            let path = AttributePath::attr("endpoints").then_attr(service);
            match endpoints.get(service) {
                Value::String(url) => {
                    check_url(url, path, &mut diags);
                    config.endpoints.insert(service.to_string(), url.clone());
                }
                Value::Unknown(_) if require_known => diags.push(unknown_error(path)),
                _ => {}
            }
        }
        if diags.has_errors() { Err(diags) } else { Ok(config) }
    }

    /// The endpoint for one service: its own override, else the shared one.
    pub fn endpoint_for(&self, service: &str) -> Option<&str> {
        self.endpoints.get(service).or(self.endpoint_url.as_ref()).map(String::as_str)
    }
}

fn unknown_error(path: AttributePath) -> Diagnostic {
    Diagnostic::attribute_error(
        path,
        "Provider configuration is not known yet",
        "This value depends on a resource that is not created yet; the provider needs it to reach AWS. Set it from values known at plan time.",
    )
}

fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_url(url: &str, path: AttributePath, diags: &mut Diagnostics) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !ok {
        diags.push(Diagnostic::attribute_error(
            path,
            "Invalid endpoint URL",
            format!("{url:?} is not an http:// or https:// URL."),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(attrs: Vec<(&str, Value)>) -> Value {
        let mut v = Value::null_object(&schema().value_type());
        for (k, x) in attrs {
            v.set_attr(k, x);
        }
        v
    }

    #[test]
    fn schema_is_valid() {
        assert!(schema().block.check("provider").is_empty());
    }

    #[test]
    fn parses_a_full_block() {
        let v = config(vec![
            ("region", Value::string("eu-west-1")),
            ("endpoint_url", Value::string("http://127.0.0.1:5000")),
            ("max_retries", Value::int(5)),
            ("default_tags", Value::Map([("team".to_string(), Value::string("data"))].into())),
            (
                "endpoints",
                Value::object([
                    ("batch", Value::Null),
                    ("ecs", Value::Null),
                    ("efs", Value::Null),
                    ("s3", Value::string("http://127.0.0.1:9000")),
                    ("sts", Value::Null),
                ]),
            ),
        ]);
        let c = ProviderConfig::parse(&v, true).unwrap();
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.max_retries, Some(5));
        assert_eq!(c.endpoint_for("s3"), Some("http://127.0.0.1:9000"));
        assert_eq!(c.endpoint_for("batch"), Some("http://127.0.0.1:5000"));
        assert_eq!(c.default_tags["team"], "data");
    }

    #[test]
    fn bad_values_name_their_attribute() {
        let v = config(vec![
            ("region", Value::string("Mars")),
            ("endpoint_url", Value::string("ftp://x")),
            ("max_retries", Value::int(99)),
            ("assume_role_arn", Value::string("role")),
        ]);
        let diags = ProviderConfig::parse(&v, true).unwrap_err();
        let paths: Vec<String> = diags.0.iter().map(|d| d.path.clone().unwrap().to_string()).collect();
        assert_eq!(paths, vec!["region", "endpoint_url", "assume_role_arn", "max_retries"]);
    }

    #[test]
    fn unknowns_fail_only_at_configure() {
        let v = config(vec![("region", Value::unknown())]);
        assert!(ProviderConfig::parse(&v, false).is_ok());
        assert!(ProviderConfig::parse(&v, true).is_err());
    }
}
