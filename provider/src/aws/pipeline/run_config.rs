//! The run configuration the prep Lambda reads (its event's `config`): what
//! a run needs to know that only the pipeline's configuration says. Derived
//! from the configuration alone, so it is known at plan time.

use serde_json::{Value as Json, json};

use super::names::Names;
use super::spec::{PipelineSpec, Source};

pub const RUN_CONFIG_VERSION: u32 = 1;

pub fn build(spec: &PipelineSpec) -> Json {
    let names = Names::new(&spec.name);
    let source = match &spec.source {
        Source::S3 { bucket, prefix, suffix } => {
            json!({ "type": "s3", "bucket": bucket, "prefix": prefix, "suffix": suffix })
        }
        Source::Synthetic { count, format } => {
            let mut source = json!({ "type": "synthetic", "count": count });
            // Only when set: an unset format keeps the run configuration
            // (and so prep's request fingerprint) of existing pipelines.
            if let Some(format) = format {
                source["format"] = json!(format);
            }
            source
        }
    };
    json!({
        "version": RUN_CONFIG_VERSION,
        "pipeline": spec.name,
        "efs_mount_path": spec.efs.mount_path,
        "source": source,
        "items_per_node": spec.items_per_node,
        "max_nodes": spec.max_nodes,
        "transform": spec.stage("processing").and_then(|s| s.transform.clone()),
        "egress": { "bucket": spec.egress_bucket.name, "prefix": spec.egress_bucket.prefix },
        "job_definitions": {
            "procurement": names.job_definition("procurement"),
            "processing": names.job_definition("processing"),
            "egress": names.job_definition("egress"),
        },
        "job_queue": names.job_queue(),
    })
}

/// The settings only this provider knows (not visible in any AWS object),
/// kept with the procurement job definition so import can restore them.
pub fn settings(spec: &PipelineSpec) -> Json {
    let source = match &spec.source {
        Source::S3 { bucket, prefix, suffix } => {
            json!({ "s3_bucket": bucket, "s3_prefix": prefix, "s3_suffix": suffix })
        }
        Source::Synthetic { count, format } => {
            let mut source = json!({ "synthetic_count": count });
            // Absent when unset, like in the run configuration: the stored
            // settings of existing pipelines stay byte for byte the same.
            if let Some(format) = format {
                source["synthetic_format"] = json!(format);
            }
            source
        }
    };
    json!({
        "source": source,
        "items_per_node": spec.items_per_node,
        "max_nodes": spec.max_nodes,
        "transform": spec.stage("processing").and_then(|s| s.transform.clone()),
        "egress_bucket": { "name": spec.egress_bucket.name, "create": spec.egress_bucket.create, "prefix": spec.egress_bucket.prefix },
    })
}
