# The whole pipeline's AWS side on this machine: only our provider, pointed
# at moto. Used by `make demo` (the local runner executes the state machine
# definition below with the jobs as local processes) and by the tests.

terraform {
  required_version = ">= 1.5"

  required_providers {
    batch = {
      source = "batch-pipeline/batch"
    }
  }
}

provider "batch" {
  region       = var.region
  endpoint_url = var.endpoint
  default_tags = {
    environment = "local"
  }
}

locals {
  account_id = "123456789012" # moto's default account
  images = {
    for stage in ["procurement", "processing", "egress"] :
    stage => "${var.image_prefix}-${stage}:local"
  }
  execution_role_arn = coalesce(var.execution_role_arn, "arn:aws:iam::${local.account_id}:role/${var.name}-job-execution")
  job_role_arn       = coalesce(var.job_role_arn, "arn:aws:iam::${local.account_id}:role/${var.name}-job")
}

resource "batch_pipeline" "local" {
  name           = var.name
  items_per_node = var.items_per_node
  max_nodes      = var.max_nodes
  force_destroy  = var.force_destroy # default true: tests leave nothing behind in moto

  compute {
    type               = "FARGATE"
    max_vcpus          = 16
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
    service_role_arn   = var.service_role_arn
  }

  efs {
    root_directory = "/pipeline"
  }

  # One kind of source: S3 listing (source_bucket), queue-fed S3
  # (source_bucket + sqs_queue_url), SFTP (sftp_host), else synthetic ids.
  source {
    s3_bucket       = var.source_bucket
    s3_prefix       = var.source_bucket == null ? null : var.source_prefix
    s3_suffix       = var.source_bucket == null ? null : var.source_suffix
    synthetic_count = var.source_bucket == null && var.sftp_host == null ? var.synthetic_count : null

    sqs_queue_url                  = var.sqs_queue_url
    sqs_max_messages               = var.sqs_queue_url == null ? null : var.sqs_max_messages
    sqs_visibility_timeout_seconds = var.sqs_queue_url == null ? null : var.sqs_visibility_timeout_seconds

    sftp_host                   = var.sftp_host
    sftp_port                   = var.sftp_host == null ? null : var.sftp_port
    sftp_user                   = var.sftp_host == null ? null : var.sftp_user
    sftp_private_key_secret_arn = var.sftp_host == null ? null : var.sftp_private_key_secret_arn
    sftp_host_key               = var.sftp_host == null ? null : var.sftp_host_key
    sftp_directory              = var.sftp_host == null ? null : var.sftp_directory
    sftp_glob                   = var.sftp_host == null ? null : var.sftp_glob
  }

  procurement {
    image              = local.images.procurement
    execution_role_arn = local.execution_role_arn
    job_role_arn       = local.job_role_arn
    timeout_seconds    = 600
  }

  processing {
    image              = local.images.processing
    execution_role_arn = local.execution_role_arn
    job_role_arn       = local.job_role_arn
    timeout_seconds    = 600
    transform          = var.transform
  }

  egress {
    image              = local.images.egress
    execution_role_arn = local.execution_role_arn
    job_role_arn       = local.job_role_arn
    timeout_seconds    = 600
  }

  egress_bucket {
    name = var.egress_bucket
  }

  tags = {
    example = "local"
  }
}

# The same definition Step Functions would run; the local runner executes it.
data "batch_state_machine_definition" "local" {
  job_queue_arn              = batch_pipeline.local.job_queue_arn
  later_stages_job_queue_arn = batch_pipeline.local.later_stages_job_queue_arn
  job_definition_arns        = batch_pipeline.local.job_definition_arns
  prep_function_arn          = "arn:aws:lambda:${var.region}:${local.account_id}:function:${var.name}-prep"
  watcher_function_arn       = "arn:aws:lambda:${var.region}:${local.account_id}:function:${var.name}-watcher"
  poll_seconds               = var.poll_seconds
}
