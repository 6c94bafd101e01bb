data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # aws provider 6 renamed `name` to `region`; `id` is the region in both.
  region = data.aws_region.current.id

  tags = merge(var.tags, { "batch-pipeline:name" = var.name })

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn

  egress_bucket_name = coalesce(var.egress.bucket_name, "${replace(lower(var.name), "_", "-")}-results-${local.account_id}")
  egress_bucket_arn  = "arn:${local.partition}:s3:::${local.egress_bucket_name}"
  # The keys egress writes, as the job forms them: <prefix>/<run_id>/<index>/...
  # with trailing '/' of the prefix trimmed, or <run_id>/... for an empty one.
  egress_prefix     = replace(var.egress.prefix, "/\\/+$/", "")
  egress_key_prefix = local.egress_prefix == "" ? "" : "${local.egress_prefix}/"

  source_bucket_arn = var.source_data.s3_bucket == null ? null : "arn:${local.partition}:s3:::${var.source_data.s3_bucket}"
  create_source     = var.source_data.s3_bucket != null && var.source_data.create_bucket
  # The SFTP source's private key: the one secret prep and the jobs may read.
  sftp_secret_arn = try(var.source_data.sftp.private_key_secret_arn, null)
  # The SFTP archive: procurement writes the raw files there (null: none).
  sftp_archive        = try(var.source_data.sftp.archive, null)
  sftp_archive_bucket = local.sftp_archive == null ? null : coalesce(local.sftp_archive.bucket, local.egress_bucket_name)
  # What prep lists (s3:prefix) and the jobs then read: the configured prefix
  # and, with the S3 trigger, the incoming_path folder holding the object that
  # started the run (prep lists the key up to and including its last
  # incoming_path, which starts the key or follows a '/'; events.tf matches
  # exactly those keys).
  source_list_prefixes = distinct(concat(
    ["${var.source_data.s3_prefix}*"],
    local.s3_trigger ? [var.s3_trigger.incoming_path, "*/${var.s3_trigger.incoming_path}"] : [],
  ))
  source_object_keys = distinct(concat(
    ["${var.source_data.s3_prefix}*"],
    local.s3_trigger ? ["${var.s3_trigger.incoming_path}*", "*/${var.s3_trigger.incoming_path}*"] : [],
  ))

  efs_mount_path = "/mnt/efs"

  # The incremental ledger (docs/incremental.md): <egress prefix>/_ledger/ in
  # the egress bucket, as the jobs' layout library names it. A run's claims
  # outlive its deadline, after which the watcher has stopped its jobs.
  incremental       = var.source_data.incremental
  ledger_key_prefix = "${local.egress_key_prefix}_ledger/"
  claim_ttl_seconds = var.orchestration.timeout_seconds + 600

  stage_names = ["procurement", "processing", "egress"]
  stage_images = {
    procurement = var.stages.procurement.image
    processing  = var.stages.processing.image
    egress      = var.stages.egress.image
  }
  # <account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest] -> repository ARN.
  ecr_from_images = distinct(compact([
    for image in values(local.stage_images) :
    try(format("arn:%s:ecr:%s:%s:repository/%s",
      local.partition,
      regex("^[0-9]{12}\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com", image)[0],
      regex("^([0-9]{12})\\.dkr\\.ecr\\.", image)[0],
      regex("^[^/]+/([^:@]+)", image)[0],
    ), null)
  ]))
  ecr_repository_arns = var.ecr_repository_arns != null ? var.ecr_repository_arns : local.ecr_from_images

  function_names = {
    prep    = "${var.name}-prep"
    watcher = "${var.name}-watcher"
  }
  sfn_log_group_name = "/aws/vendedlogs/states/${var.name}"
  # The jobs log here (awslogs, stream prefix = stage), not to the
  # account-wide /aws/batch/job: retention and KMS are the pipeline's.
  job_log_group_name = "/aws/batch/${var.name}"

  run_config = jsondecode(batch_pipeline.this.run_config)
}

# ---------------------------------------------------------------------------
# The pipeline itself: compute environment, queue, EFS + access point, the
# three job definitions and the egress bucket, owned by our provider.
# ---------------------------------------------------------------------------
resource "batch_pipeline" "this" {
  name           = var.name
  items_per_node = var.sizing.items_per_node
  max_nodes      = var.sizing.max_nodes
  force_destroy  = var.force_destroy

  compute {
    type                = var.compute.type
    max_vcpus           = var.compute.max_vcpus
    min_vcpus           = contains(["EC2", "SPOT"], var.compute.type) ? var.compute.min_vcpus : null
    subnet_ids          = var.network.subnet_ids
    security_group_ids  = [aws_security_group.jobs.id]
    instance_types      = contains(["EC2", "SPOT"], var.compute.type) ? var.compute.instance_types : null
    instance_role       = var.compute.instance_role
    allocation_strategy = var.compute.allocation_strategy
    bid_percentage      = var.compute.bid_percentage
    service_role_arn    = var.compute.service_role_arn
  }

  queue {
    priority              = var.compute.queue_priority
    later_stages_priority = var.compute.later_stages_queue_priority
  }

  efs {
    file_system_id               = var.efs.file_system_id
    performance_mode             = var.efs.performance_mode
    throughput_mode              = var.efs.throughput_mode
    provisioned_throughput_mibps = var.efs.provisioned_throughput_mibps
    kms_key_id                   = var.efs.file_system_id == null ? local.kms_key_arn : null
    security_group_ids           = [aws_security_group.efs.id]
    root_directory               = var.efs.root_directory
    posix_uid                    = var.efs.posix_uid
    posix_gid                    = var.efs.posix_gid
    permissions                  = var.efs.permissions
    mount_path                   = local.efs_mount_path
  }

  source {
    s3_bucket        = var.source_data.s3_bucket
    s3_prefix        = var.source_data.s3_bucket != null ? var.source_data.s3_prefix : null
    s3_suffix        = var.source_data.s3_bucket != null ? var.source_data.s3_suffix : null
    synthetic_count  = var.source_data.synthetic_count
    synthetic_format = var.source_data.synthetic_format
    # Queue-fed (queue.tf): the run takes the bucket's notifications from
    # the queue instead of listing s3_prefix.
    sqs_queue_url                  = local.queue_fed ? aws_sqs_queue.work[0].url : null
    sqs_max_messages               = local.queue_fed ? var.queue_source.max_messages : null
    sqs_visibility_timeout_seconds = local.queue_visibility_timeout

    sftp_host                   = try(var.source_data.sftp.host, null)
    sftp_port                   = try(var.source_data.sftp.port, null)
    sftp_user                   = try(var.source_data.sftp.user, null)
    sftp_private_key_secret_arn = try(var.source_data.sftp.private_key_secret_arn, null)
    sftp_host_key               = try(var.source_data.sftp.host_key, null)
    sftp_directory              = try(var.source_data.sftp.directory, null)
    sftp_glob                   = try(var.source_data.sftp.glob, null)
    sftp_recursive              = try(var.source_data.sftp.recursive, null)
    sftp_archive_bucket         = local.sftp_archive_bucket
    sftp_archive_prefix         = try(local.sftp_archive.prefix, null)

    incremental       = local.incremental ? true : null
    claim_ttl_seconds = local.incremental ? local.claim_ttl_seconds : null
  }

  procurement {
    image               = var.stages.procurement.image
    vcpus               = var.stages.procurement.vcpus
    memory              = var.stages.procurement.memory
    command             = var.stages.procurement.command
    environment         = var.stages.procurement.environment
    retry_attempts      = var.stages.procurement.retry_attempts
    retry_on_exit_codes = var.stages.procurement.retry_on_exit_codes
    timeout_seconds     = var.stages.procurement.timeout_seconds
    log_group_name      = aws_cloudwatch_log_group.jobs.name
    execution_role_arn  = aws_iam_role.execution.arn
    job_role_arn        = aws_iam_role.job.arn
  }

  processing {
    image               = var.stages.processing.image
    vcpus               = var.stages.processing.vcpus
    memory              = var.stages.processing.memory
    command             = var.stages.processing.command
    environment         = var.stages.processing.environment
    retry_attempts      = var.stages.processing.retry_attempts
    retry_on_exit_codes = var.stages.processing.retry_on_exit_codes
    timeout_seconds     = var.stages.processing.timeout_seconds
    log_group_name      = aws_cloudwatch_log_group.jobs.name
    execution_role_arn  = aws_iam_role.execution.arn
    job_role_arn        = aws_iam_role.job.arn
    transform           = var.stages.processing.transform
  }

  egress {
    image               = var.stages.egress.image
    vcpus               = var.stages.egress.vcpus
    memory              = var.stages.egress.memory
    command             = var.stages.egress.command
    environment         = var.stages.egress.environment
    retry_attempts      = var.stages.egress.retry_attempts
    retry_on_exit_codes = var.stages.egress.retry_on_exit_codes
    timeout_seconds     = var.stages.egress.timeout_seconds
    log_group_name      = aws_cloudwatch_log_group.jobs.name
    execution_role_arn  = aws_iam_role.execution.arn
    job_role_arn        = aws_iam_role.job.arn
  }

  # Old run directories the Summarize step removes (null: none).
  dynamic "retention" {
    for_each = var.retention == null ? [] : [var.retention]
    content {
      keep_runs    = retention.value.keep_runs
      max_age_days = retention.value.max_age_days
    }
  }

  egress_bucket {
    name   = local.egress_bucket_name
    create = var.egress.create
    prefix = var.egress.prefix
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.egress_bucket_name) <= 63
      error_message = "The results bucket name ${local.egress_bucket_name} has ${length(local.egress_bucket_name)} characters; S3 allows 63. With egress.bucket_name null the module names it <name>-results-<account id>, so name may have at most 42 characters: shorten name or set egress.bucket_name."
    }
  }

  # The execution role must be usable before a job starts and the
  # service-linked role must exist before the compute environment. (The job
  # role's policy names this resource's file system and access point, so it
  # follows it; no job runs before a state machine execution.)
  depends_on = [
    aws_iam_role_policy.execution,
    aws_iam_service_linked_role.batch,
  ]
}

# The ASL of one run: prep -> three array jobs (N_TO_N) -> watcher loop.
data "batch_state_machine_definition" "this" {
  job_queue_arn              = batch_pipeline.this.job_queue_arn
  later_stages_job_queue_arn = batch_pipeline.this.later_stages_job_queue_arn
  job_definition_arns        = batch_pipeline.this.job_definition_arns
  prep_function_arn          = aws_lambda_function.prep.arn
  watcher_function_arn       = aws_lambda_function.watcher.arn
  poll_seconds               = var.orchestration.poll_seconds
  timeout_seconds            = var.orchestration.timeout_seconds
  # An execution started without `config` (the console's Start execution
  # default input, or `{}`) runs this pipeline's run configuration.
  default_config = batch_pipeline.this.run_config
}

resource "aws_iam_service_linked_role" "batch" {
  count            = var.create_batch_service_linked_role ? 1 : 0
  aws_service_name = "batch.amazonaws.com"
  description      = "AWS Batch service-linked role (created by the batch-pipeline module ${var.name})."
  tags             = local.tags
}
