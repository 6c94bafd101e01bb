# Least-privilege roles. Every statement names this pipeline's own objects;
# the few actions that AWS does not scope to a resource (ecr:GetAuthorizationToken,
# batch:DescribeJobs/ListJobs, ec2:Describe*, X-Ray, CloudWatch Logs delivery)
# are the only `*` resources, each commented.

locals {
  assume = {
    ecs_tasks = "ecs-tasks.amazonaws.com"
    lambda    = "lambda.amazonaws.com"
    states    = "states.amazonaws.com"
    scheduler = "scheduler.amazonaws.com"
    events    = "events.amazonaws.com"
  }
  # EFS through the pipeline's access point only, with the IAM authorization
  # the job definitions and the prep Lambda mount with.
  efs_client_actions = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
}

data "aws_iam_policy_document" "assume" {
  for_each = local.assume

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
    # Confused-deputy guard: only this account's services may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---------------------------------------------------------------- jobs ----
# Execution role: what ECS needs to start a job's container (pull the
# image, write its logs). Not what the job's code may do.
resource "aws_iam_role" "execution" {
  name                 = "${var.name}-job-execution"
  description          = "ECS task execution role of the ${var.name} pipeline's jobs (image pull, logs)."
  assume_role_policy   = data.aws_iam_policy_document.assume["ecs_tasks"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "EcrToken"
    # GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(local.ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "EcrPullStageImages"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = local.ecr_repository_arns
    }
  }

  statement {
    sid       = "JobLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.jobs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Job role: what the procurement/processing/egress code may do: read the
# source prefix (and the S3 trigger's incoming folders), write results under
# the egress prefix, use the access point.
resource "aws_iam_role" "job" {
  name                 = "${var.name}-job"
  description          = "Role the ${var.name} pipeline's jobs run as (source read, egress write, EFS via the access point)."
  assume_role_policy   = data.aws_iam_policy_document.assume["ecs_tasks"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "EfsThroughAccessPoint"
    actions   = local.efs_client_actions
    resources = [batch_pipeline.this.file_system_arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [batch_pipeline.this.access_point_arn]
    }
  }

  dynamic "statement" {
    for_each = local.source_bucket_arn != null ? [1] : []
    content {
      sid       = "ListSourcePrefix"
      actions   = ["s3:ListBucket"]
      resources = [local.source_bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = local.source_list_prefixes
      }
    }
  }

  dynamic "statement" {
    for_each = local.source_bucket_arn != null ? [1] : []
    content {
      sid       = "ReadSourceObjects"
      actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"]
      resources = [for key in local.source_object_keys : "${local.source_bucket_arn}/${key}"]
    }
  }

  dynamic "statement" {
    for_each = local.sftp_secret_arn != null ? [1] : []
    content {
      sid       = "ReadSftpPrivateKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [local.sftp_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = local.sftp_archive_bucket != null ? [1] : []
    content {
      sid = "WriteSftpArchive"
      # procurement uploads the raw files (in parts when large) and reads
      # nothing back.
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = ["arn:${local.partition}:s3:::${local.sftp_archive_bucket}/${local.sftp_archive.prefix}*"]
    }
  }

  statement {
    sid = "ListEgressPrefix"
    # ListBucketMultipartUploads has no s3:prefix key, so it cannot share
    # this condition (and egress lists no uploads).
    actions   = ["s3:ListBucket"]
    resources = [local.egress_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.egress_key_prefix}*"]
    }
  }

  statement {
    sid = "WriteEgressObjects"
    # GetObject: egress skips objects already uploaded with the same checksum.
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.egress_bucket_arn}/${local.egress_key_prefix}*"]
  }

  # Incremental runs: egress writes done records (under the egress prefix,
  # so WriteEgressObjects covers them) and then deletes the input's claim.
  dynamic "statement" {
    for_each = local.incremental ? [1] : []
    content {
      sid       = "ReleaseLedgerClaims"
      actions   = ["s3:DeleteObject"]
      resources = ["${local.egress_bucket_arn}/${local.ledger_key_prefix}claims/*"]
    }
  }

  statement {
    sid       = "BucketKeysViaS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = compact([local.kms_key_arn, try(local.sftp_archive.kms_key_arn, null)])
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# ------------------------------------------------------------- lambdas ----
resource "aws_iam_role" "prep" {
  name                 = "${var.name}-prep"
  description          = "Role of the ${var.name} prep Lambda (lists the source, writes the run layout on EFS, writes the run summary)."
  assume_role_policy   = data.aws_iam_policy_document.assume["lambda"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "prep" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["prep"].arn}:*"]
  }

  statement {
    sid       = "EfsThroughAccessPoint"
    actions   = local.efs_client_actions
    resources = [batch_pipeline.this.file_system_arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [batch_pipeline.this.access_point_arn]
    }
  }

  dynamic "statement" {
    for_each = local.source_bucket_arn != null ? [1] : []
    content {
      sid       = "ListSourcePrefix"
      actions   = ["s3:ListBucket"]
      resources = [local.source_bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = local.source_list_prefixes
      }
    }
  }

  dynamic "statement" {
    for_each = local.sftp_secret_arn != null ? [1] : []
    content {
      sid       = "ReadSftpPrivateKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [local.sftp_secret_arn]
    }
  }

  # Incremental runs: prep lists the ledger's done records and claims (one
  # listing, not a request per input) and creates or takes over claims with
  # conditional writes; it never writes done records.
  dynamic "statement" {
    for_each = local.incremental ? [1] : []
    content {
      sid       = "ListLedger"
      actions   = ["s3:ListBucket"]
      resources = [local.egress_bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.ledger_key_prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.incremental ? [1] : []
    content {
      sid = "ClaimLedgerInputs"
      # DeleteObject: the Summarize step (prep's second mode) of a failed
      # run deletes its own claims, each conditionally on the ETag it read.
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${local.egress_bucket_arn}/${local.ledger_key_prefix}claims/*"]
    }
  }

  dynamic "statement" {
    for_each = local.incremental ? [1] : []
    content {
      sid       = "LedgerBucketKeysViaS3"
      actions   = ["kms:GenerateDataKey"]
      resources = [local.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid = "VpcNetworkInterfacesDescribe"
    # Describe* calls have no resource-level permissions.
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"]
    resources = ["*"]
  }

  statement {
    sid     = "VpcNetworkInterfaces"
    actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = concat(
      ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
      [for s in var.network.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${s}"],
      ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${aws_security_group.prep.id}"],
    )
  }

  statement {
    sid = "WriteRunSummary"
    # Summarize (prep's second mode, the run's last step) PUTs one object
    # per run beside its results, <prefix>/<run_id>/_run_summary.json, and
    # nothing else: no read, no list, no other name.
    actions   = ["s3:PutObject"]
    resources = ["${local.egress_bucket_arn}/${local.egress_key_prefix}*/_run_summary.json"]
  }

  statement {
    sid = "RunSummaryKeyViaS3"
    # The egress bucket's default encryption (SSE-KMS with the module key):
    # S3 asks for a data key on the PUT, only on prep's behalf through S3.
    actions   = ["kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid = "Tracing"
    # X-Ray has no resource-level permissions.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "prep" {
  name   = "prep"
  role   = aws_iam_role.prep.id
  policy = data.aws_iam_policy_document.prep.json
}

resource "aws_iam_role" "watcher" {
  name                 = "${var.name}-watcher"
  description          = "Role of the ${var.name} watcher Lambda (reads the status of the run's array jobs)."
  assume_role_policy   = data.aws_iam_policy_document.assume["lambda"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "watcher" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["watcher"].arn}:*"]
  }

  statement {
    sid = "BatchJobStatus"
    # DescribeJobs and ListJobs (the failed children of an array job) have no
    # resource-level permissions; both are read-only.
    actions   = ["batch:DescribeJobs", "batch:ListJobs"]
    resources = ["*"]
  }

  statement {
    sid = "FailedTaskReasons"
    # The stopped reason ECS recorded for a failed node's task (an image
    # pull or EFS mount failure Batch's own reason hides): the tasks of
    # this pipeline's compute environment's cluster only.
    actions   = ["ecs:DescribeTasks"]
    resources = ["${replace(batch_pipeline.this.ecs_cluster_arn, ":cluster/", ":task/")}/*"]
  }

  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid = "Tracing"
    # X-Ray has no resource-level permissions.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "watcher" {
  name   = "watcher"
  role   = aws_iam_role.watcher.id
  policy = data.aws_iam_policy_document.watcher.json
}

# ------------------------------------------------------- step functions ----
resource "aws_iam_role" "sfn" {
  name                 = "${var.name}-sfn"
  description          = "Role of the ${var.name} state machine: submit this pipeline's jobs (and terminate them when a run fails), invoke its two Lambdas, log."
  assume_role_policy   = data.aws_iam_policy_document.assume["states"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "sfn" {
  statement {
    sid     = "SubmitThisPipelinesJobs"
    actions = ["batch:SubmitJob"]
    # SubmitJob is authorized on the queue and on the job definition: the
    # pipeline's two queues (procurement's, and the later stages') and
    # exactly the revisions batch_pipeline registered (a new revision
    # updates this).
    resources = concat(
      [batch_pipeline.this.job_queue_arn, batch_pipeline.this.later_stages_job_queue_arn],
      [for stage in local.stage_names : batch_pipeline.this.job_definition_arns[stage]],
    )
  }

  statement {
    sid = "TerminateThisRunsJobs"
    # A run that fails while its jobs may still run (a submit or the watcher
    # failed for good, or the run's deadline passed) terminates the jobs it
    # submitted. Job ids are made by AWS at submit time, so the grant names
    # this account's jobs in this region, not single ids.
    actions   = ["batch:TerminateJob"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"]
  }

  statement {
    sid = "DescribeJobs"
    # No resource-level permissions; read-only.
    actions   = ["batch:DescribeJobs"]
    resources = ["*"]
  }

  statement {
    sid     = "InvokeThisPipelinesFunctions"
    actions = ["lambda:InvokeFunction"]
    resources = [
      aws_lambda_function.prep.arn,
      "${aws_lambda_function.prep.arn}:*",
      aws_lambda_function.watcher.arn,
      "${aws_lambda_function.watcher.arn}:*",
    ]
  }

  statement {
    sid = "LogDelivery"
    # CloudWatch Logs vended-log delivery APIs have no resource-level permissions.
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ExecutionDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid = "Tracing"
    # X-Ray has no resource-level permissions.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "sfn" {
  name   = "sfn"
  role   = aws_iam_role.sfn.id
  policy = data.aws_iam_policy_document.sfn.json
}

# ------------------------------------------------ triggers: start a run ----
resource "aws_iam_role" "start" {
  name                 = "${var.name}-start"
  description          = "Role EventBridge Scheduler and the S3-event rule use to start ${var.name} runs."
  assume_role_policy   = data.aws_iam_policy_document.start_assume.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "start_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [local.assume.scheduler, local.assume.events]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "start" {
  statement {
    sid       = "StartThisStateMachine"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }

  statement {
    sid = "ScheduleKey"
    # Decrypt: the schedule's input; GenerateDataKey: a tick sent to the
    # (encrypted) undelivered queue.
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid       = "UndeliveredTicks"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.triggers_dead_letter.arn]
  }
}

resource "aws_iam_role_policy" "start" {
  name   = "start"
  role   = aws_iam_role.start.id
  policy = data.aws_iam_policy_document.start.json
}

# ------------------------------------------ completion event forwarding ----
resource "aws_iam_role" "events_forward" {
  name                 = "${var.name}-events-forward"
  description          = "Role the ${var.name} completion rule uses to put run events on the pipeline's bus."
  assume_role_policy   = data.aws_iam_policy_document.assume["events"].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "events_forward" {
  statement {
    sid       = "PutOnPipelineBuses"
    actions   = ["events:PutEvents"]
    resources = concat([aws_cloudwatch_event_bus.runs.arn], var.completion.extra_bus_arns)
  }
}

resource "aws_iam_role_policy" "events_forward" {
  name   = "events-forward"
  role   = aws_iam_role.events_forward.id
  policy = data.aws_iam_policy_document.events_forward.json
}
