//! `batch_test_bucket`: a plain S3 bucket, compiled only with the
//! `test-resources` feature. It exercises every protocol path against real
//! AWS calls (moto in tests) independently of the pipeline resource:
//! create/read/update/delete, drift, import, a forced replacement and a real
//! state upgrade (version 0 called the name `bucket`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tag, Tagging};

use super::clients::{AwsClients, ClientSlot};
use super::errors::aws_error;
use super::tags_all;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, Attribute, Block, DataSource, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, ReadResponse, Resource, Schema, Type, Value,
};

pub struct TestBucket {
    clients: ClientSlot,
}

impl TestBucket {
    pub fn new(clients: ClientSlot) -> Self {
        TestBucket { clients }
    }
}

fn state(name: &str, own_tags: &Value, remote: &BTreeMap<String, String>, region: &str) -> Value {
    Value::object([
        ("id", Value::string(name)),
        ("name", Value::string(name)),
        ("arn", Value::string(format!("arn:aws:s3:::{name}"))),
        ("region", Value::string(region)),
        ("tags", own_tags.clone()),
        ("tags_all", tags_all::to_value(remote)),
    ])
}

async fn remote_tags(clients: &AwsClients, name: &str) -> Result<BTreeMap<String, String>, Diagnostics> {
    match clients.s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(BTreeMap::new()),
        Err(e) => Err(aws_error("GetBucketTagging", e)),
    }
}

async fn put_tags(
    clients: &AwsClients,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), Diagnostics> {
    if tags.is_empty() {
        clients
            .s3
            .delete_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map_err(|e| aws_error("DeleteBucketTagging", e))?;
        return Ok(());
    }
    let tag_set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| aws_error("Tag", e))?;
    let tagging =
        Tagging::builder().set_tag_set(Some(tag_set)).build().map_err(|e| aws_error("Tagging", e))?;
    clients
        .s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| aws_error("PutBucketTagging", e))?;
    Ok(())
}

#[async_trait]
impl Resource for TestBucket {
    fn type_name(&self) -> &'static str {
        "batch_test_bucket"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            1,
            Block::new("An S3 bucket (test fixture for the protocol layer).")
                .attr(Attribute::computed("id", Type::String, "The bucket name."))
                .attr(Attribute::required("name", Type::String, "Bucket name.").force_new())
                .attr(Attribute::computed("arn", Type::String, "Bucket ARN."))
                .attr(Attribute::computed("region", Type::String, "Region of the bucket."))
                .attr(Attribute::optional("tags", Type::map(Type::String), "Tags."))
                .attr(Attribute::computed(
                    "tags_all",
                    Type::map(Type::String),
                    "Tags including the provider's defaults.",
                )),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(name) = config.get("name").as_str() {
            let ok = (3..=63).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
            if !ok {
                d.push(Diagnostic::attribute_error(
                    crate::tfplugin::AttributePath::attr("name"),
                    "Invalid bucket name",
                    format!("{name:?}: 3 to 63 lowercase letters, digits, dots and hyphens."),
                ));
            }
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        // The protocol layer has marked computed values unknown on create
        // and works out replacement from force_new.
        let mut planned = req.proposed.clone();
        // tags_all follows tags and the provider's defaults, both known now.
        if let Ok(clients) = self.clients.get() {
            if planned.get("tags").is_wholly_known() {
                planned.set_attr(
                    "tags_all",
                    tags_all::to_value(&tags_all::merged(&clients.default_tags, planned.get("tags"))),
                );
            } else {
                planned.set_attr("tags_all", Value::unknown());
            }
        }
        PlanResponse { planned, ..Default::default() }
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.clients.get() {
            Ok(c) => c,
            Err(diagnostics) => {
                return ApplyResponse { new_state: req.prior, diagnostics, ..Default::default() };
            }
        };
        let result: Result<Value, Diagnostics> = async {
            if req.planned.is_null() {
                let name = req.prior.get("name").as_str().unwrap_or_default().to_string();
                clients
                    .s3
                    .delete_bucket()
                    .bucket(&name)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeleteBucket", e))?;
                return Ok(Value::Null);
            }
            let name = req.planned.get("name").as_str().unwrap_or_default().to_string();
            let wanted = tags_all::merged(&clients.default_tags, req.planned.get("tags"));
            if req.prior.is_null() {
                let mut create = clients.s3.create_bucket().bucket(&name);
                if clients.region != "us-east-1" {
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(clients.region.as_str()))
                            .build(),
                    );
                }
                create.send().await.map_err(|e| aws_error("CreateBucket", e))?;
            }
            put_tags(&clients, &name, &wanted).await?;
            Ok(state(&name, req.planned.get("tags"), &wanted, &clients.region))
        }
        .await;
        match result {
            Ok(new_state) => ApplyResponse { new_state, ..Default::default() },
            Err(diagnostics) => ApplyResponse { new_state: req.prior, diagnostics, ..Default::default() },
        }
    }

    async fn read(&self, current: Value, private: Vec<u8>) -> ReadResponse {
        let clients = match self.clients.get() {
            Ok(c) => c,
            Err(diagnostics) => return ReadResponse { new_state: current, private, diagnostics },
        };
        let name = current.get("name").as_str().unwrap_or_default().to_string();
        match clients.s3.head_bucket().bucket(&name).send().await {
            Ok(_) => {}
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return ReadResponse { new_state: Value::Null, private, ..Default::default() };
            }
            Err(e) => {
                return ReadResponse { new_state: current, private, diagnostics: aws_error("HeadBucket", e) };
            }
        }
        match remote_tags(&clients, &name).await {
            Ok(remote) => {
                // `tags` shows what differs from the defaults, so drift in
                // either shows up in the plan.
                let own: BTreeMap<String, String> = remote
                    .iter()
                    .filter(|(k, v)| {
                        clients.default_tags.get(*k) != Some(*v)
                            || current.get("tags").get(k).as_str().is_some()
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let own_tags = if own.is_empty() && current.get("tags").is_null() {
                    Value::Null
                } else {
                    tags_all::to_value(&own)
                };
                ReadResponse {
                    new_state: state(&name, &own_tags, &remote, &clients.region),
                    private,
                    ..Default::default()
                }
            }
            Err(diagnostics) => ReadResponse { new_state: current, private, diagnostics },
        }
    }

    async fn import(&self, id: &str) -> Result<Value, Diagnostics> {
        let mut v = Value::null_object(&self.schema().value_type());
        v.set_attr("name", Value::string(id));
        v.set_attr("id", Value::string(id));
        Ok(v)
    }

    fn upgrade_state(
        &self,
        from_version: i64,
        mut state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostic> {
        match from_version {
            0 => {
                // Version 0 called the bucket name `bucket`.
                if let Some(obj) = state.as_object_mut()
                    && let Some(name) = obj.remove("bucket")
                {
                    obj.insert("name".into(), name);
                }
                Ok(state)
            }
            1 => Ok(state),
            v => Err(Diagnostic::error(
                "Unsupported state version",
                format!("batch_test_bucket has no schema version {v}."),
            )),
        }
    }
}

/// `data "batch_test_bucket"`: looks a bucket up by name.
pub struct TestBucketData {
    clients: ClientSlot,
}

impl TestBucketData {
    pub fn new(clients: ClientSlot) -> Self {
        TestBucketData { clients }
    }
}

#[async_trait]
impl DataSource for TestBucketData {
    fn type_name(&self) -> &'static str {
        "batch_test_bucket"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("Reads an S3 bucket (test fixture).")
                .attr(Attribute::required("name", Type::String, "Bucket name."))
                .attr(Attribute::computed("arn", Type::String, "Bucket ARN."))
                .attr(Attribute::computed("tags", Type::map(Type::String), "Bucket tags.")),
        )
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let clients = self.clients.get()?;
        let name = config.get("name").as_str().unwrap_or_default().to_string();
        clients
            .s3
            .head_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("HeadBucket {name}"), e))?;
        let remote = remote_tags(&clients, &name).await?;
        Ok(Value::object([
            ("name", Value::string(&name)),
            ("arn", Value::string(format!("arn:aws:s3:::{name}"))),
            ("tags", tags_all::to_value(&remote)),
        ]))
    }
}
