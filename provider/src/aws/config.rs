//! The provider block: its schema, its validation, and how it becomes an
//! AWS SDK configuration. The standard AWS environment variables
//! (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, credentials...) work as with
//! any AWS tool; what the block sets wins over them.

use std::collections::BTreeMap;

use crate::tfplugin::validate::check_values;
use crate::tfplugin::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, Findings, NestedBlock, Nesting, Schema,
    SettingsReader, Type, Validator, Value,
};

/// Services whose endpoint can be overridden one by one.
pub const SERVICES: [&str; 5] = ["batch", "ecs", "efs", "s3", "sts"];

pub fn schema() -> Schema {
    let mut endpoints =
        Block::new("Per-service endpoint URLs; each wins over `endpoint_url` for its service.");
    for service in SERVICES {
        let mut attribute =
            Attribute::optional(service, Type::String, &format!("Endpoint URL for {service}."));
        if service == "ecs" {
            // Kept so that configurations setting it still validate; the
            // provider makes no ECS call (the watcher Lambda does).
            attribute.description =
                "Deprecated and ignored: the provider makes no ECS calls. Accepted so that existing configurations keep working."
                    .into();
            attribute.deprecated = true;
        }
        endpoints = endpoints.attr(attribute);
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
            // Its default is the AWS SDK's, not declared: the attribute is
            // not computed, so a plan shows it null when left out.
            .attr(
                Attribute::optional(
                    "max_retries",
                    Type::Number,
                    "Retries of a throttled or failed AWS call (0-25; default 3).",
                )
                .validate(Validator::whole_number(0, 25)),
            )
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
    /// Unknown values are reported only when `require_known` (configure
    /// time). The declared validators (max_retries's range) run after the
    /// provider's own checks: Terraform has run them at validation already.
    pub fn parse(value: &Value, require_known: bool) -> Result<ProviderConfig, Diagnostics> {
        let schema = schema();
        let mut findings = Findings::default();
        let config = read(&mut SettingsReader::root(value, Some(&schema.block), &mut findings));
        let mut diags = findings.diagnostics;
        diags.extend(check_values(&schema.block, value, &AttributePath::root()));
        if require_known {
            for path in findings.unknown {
                diags.push(unknown_error(path));
            }
        }
        if diags.has_errors() { Err(diags) } else { Ok(config) }
    }

    /// The endpoint for one service: its own override, else the shared one.
    pub fn endpoint_for(&self, service: &str) -> Option<&str> {
        self.endpoints.get(service).or(self.endpoint_url.as_ref()).map(String::as_str)
    }
}

fn read(r: &mut SettingsReader<'_>) -> ProviderConfig {
    let mut config = ProviderConfig {
        region: r.string("region"),
        profile: r.string("profile"),
        endpoint_url: r.string("endpoint_url"),
        assume_role_arn: r.string("assume_role_arn"),
        ..Default::default()
    };
    if let Some(region) = &config.region
        && !valid_region(region)
    {
        r.fail(
            "region",
            "Invalid region",
            format!("{region:?} is not an AWS region name (like \"eu-west-1\")."),
        );
    }
    if let Some(problem) = config.endpoint_url.as_deref().and_then(url_problem) {
        r.fail("endpoint_url", "Invalid endpoint URL", problem);
    }
    if let Some(arn) = &config.assume_role_arn
        && !(arn.starts_with("arn:") && arn.contains(":role/"))
    {
        r.fail(
            "assume_role_arn",
            "Invalid role ARN",
            format!("{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)."),
        );
    }
    // Out of its declared range, none: the declared validator reports it.
    config.max_retries = r.int("max_retries").and_then(|n| u32::try_from(n).ok());
    // A map or block not known at all has always been left out rather
    // than refused (only an unknown entry in it is).
    if !r.peek("default_tags").is_unknown() {
        config.default_tags = r.string_map("default_tags");
    }
    if r.peek("endpoints").is_unknown() {
        return config;
    }
    let mut endpoints = r.block_or_defaults("endpoints");
    for service in SERVICES {
        let Some(url) = endpoints.string(service) else { continue };
        if let Some(problem) = url_problem(&url) {
            endpoints.fail(service, "Invalid endpoint URL", problem);
        }
        config.endpoints.insert(service.to_string(), url);
    }
    config
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

/// Why `url` is not an endpoint URL, if it is not.
fn url_problem(url: &str) -> Option<String> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    (!ok).then(|| format!("{url:?} is not an http:// or https:// URL."))
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

    /// An unknown tag value is refused on its key; a map not known at all
    /// is left out, as it always was.
    #[test]
    fn unknown_default_tags_are_refused_by_key() {
        let tags = Value::Map([("team".to_string(), Value::unknown())].into());
        let diags = ProviderConfig::parse(&config(vec![("default_tags", tags)]), true).unwrap_err();
        let paths: Vec<String> = diags.0.iter().map(|d| d.path.clone().unwrap().to_string()).collect();
        assert_eq!(paths, vec!["default_tags[\"team\"]"]);
        let whole = config(vec![("default_tags", Value::unknown())]);
        assert_eq!(ProviderConfig::parse(&whole, true).map(|c| c.default_tags.len()), Ok(0));
    }
}
