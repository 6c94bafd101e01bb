# Queue-fed runs (var.queue_source): the source bucket's Object Created
# notifications go to an SQS queue (with a dead-letter queue); a schedule
# starts a run every few minutes; each run's prep takes up to max_messages of
# them (an empty queue ends the execution at prep with NO_WORK, before any
# job is submitted), and egress deletes a node's messages once its results
# are uploaded. `enabled = false` is the pause switch: the schedule stops,
# runs in flight finish, and new notifications wait in the queue.
#
# Runs that overlap (a schedule tick while a long run is going) take
# different messages: the messages of a run in flight are invisible for
# visibility_timeout_seconds, which is longer than a run may take
# (orchestration.timeout_seconds). So an overlapping run is not a double
# run but more capacity for a deep queue, bounded by the compute
# environment's max_vcpus.

locals {
  queue_fed = var.queue_source != null
  # Longer than the run's deadline, so a message is never visible again
  # while the run that holds it may still finish it.
  queue_visibility_timeout = local.queue_fed ? coalesce(
    var.queue_source.visibility_timeout_seconds,
    min(43200, var.orchestration.timeout_seconds + 600),
  ) : null
  queue_name = "${var.name}-work"
}

resource "aws_sqs_queue" "dead_letter" {
  count = local.queue_fed ? 1 : 0

  name                              = "${local.queue_name}-dlq"
  message_retention_seconds         = 1209600 # 14 days, SQS's longest: time to look at a poisoned message
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = local.tags
}

resource "aws_sqs_queue" "work" {
  count = local.queue_fed ? 1 : 0

  name                              = local.queue_name
  visibility_timeout_seconds        = local.queue_visibility_timeout
  message_retention_seconds         = var.queue_source.message_retention_seconds
  receive_wait_time_seconds         = 0
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[0].arn
    maxReceiveCount     = var.queue_source.max_receive_count
  })
  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.source_data.s3_bucket != null
      error_message = "queue_source needs source_data.s3_bucket: the bucket whose Object Created notifications feed the queue."
    }
    precondition {
      condition     = !var.s3_trigger.enabled
      error_message = "Set queue_source or s3_trigger.enabled, not both: each starts runs over the same objects."
    }
    precondition {
      condition     = !var.source_data.incremental
      error_message = "source_data.incremental does not apply with queue_source: the queue already hands each notification to one run and forgets it once done."
    }
    precondition {
      condition     = local.queue_visibility_timeout >= var.orchestration.timeout_seconds
      error_message = "queue_source.visibility_timeout_seconds (${local.queue_visibility_timeout}) must be at least orchestration.timeout_seconds (${var.orchestration.timeout_seconds}): a run's messages must stay invisible while it may still finish them."
    }
  }
}

# Only the dead-letter queue's own source queue may redrive into it.
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  count = local.queue_fed ? 1 : 0

  queue_url = aws_sqs_queue.dead_letter[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work[0].arn]
  })
}

# Only the source bucket, in this account, may send: S3 signs its
# deliveries with the bucket's ARN and owner account (aws:SourceArn,
# aws:SourceAccount), so no other bucket can fill the queue.
data "aws_iam_policy_document" "queue" {
  count = local.queue_fed ? 1 : 0

  statement {
    sid       = "SourceBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work[0].arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.source_bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.work[0].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "work" {
  count = local.queue_fed ? 1 : 0

  queue_url = aws_sqs_queue.work[0].id
  policy    = data.aws_iam_policy_document.queue[0].json
}

# The notification of a bucket the module does not create (one the module
# creates gets the queue in storage.tf's notification). S3 keeps one
# notification configuration per bucket and this resource owns all of it:
# with other notifications on the bucket, set manage_bucket_notification =
# false and add the queue (output queue_arn) to yours.
resource "aws_s3_bucket_notification" "queue" {
  count = local.queue_fed && !local.create_source && var.queue_source.manage_bucket_notification ? 1 : 0

  bucket = var.source_data.s3_bucket

  queue {
    id            = "${var.name}-queue"
    queue_arn     = aws_sqs_queue.work[0].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.source_data.s3_prefix == "" ? null : var.source_data.s3_prefix
    filter_suffix = var.source_data.s3_suffix == "" ? null : var.source_data.s3_suffix
  }

  # S3 checks that it may send (its s3:TestEvent) when the notification is set.
  depends_on = [aws_sqs_queue_policy.work]
}

resource "aws_scheduler_schedule" "queue" {
  count = local.queue_fed ? 1 : 0

  name                = "${var.name}-queue"
  group_name          = aws_scheduler_schedule_group.this.name
  description         = "Starts a ${var.name} run over what the queue holds (prep ends it at once when the queue is empty)."
  schedule_expression = var.queue_source.schedule_expression
  state               = var.queue_source.enabled ? "ENABLED" : "DISABLED"
  kms_key_arn         = local.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.start.arn
    input = jsonencode(merge(local.execution_input, {
      overrides = { trigger = "queue" }
    }))

    retry_policy {
      # A missed tick is made up by the next one.
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 1
    }

    dead_letter_config {
      arn = aws_sqs_queue.triggers_dead_letter.arn
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  count = local.queue_fed ? 1 : 0

  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Messages of ${local.queue_name} that failed ${var.queue_source.max_receive_count} receives are in ${local.queue_name}-dlq: a malformed notification, an object the jobs refuse, or a node failing for good. Look at them, fix, and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.queue_source.dead_letter_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = distinct(concat(var.queue_source.alarm_actions, local.alert_actions))
  ok_actions          = distinct(concat(var.queue_source.alarm_actions, local.alert_actions))
  tags                = local.tags
}

# ------------------------------------------------------------------ IAM ----
# prep receives (with the run's visibility timeout) and deletes what needs
# no work (test events, objects deleted since); it reads each announced
# object's size with HeadObject (s3:GetObject). SSE-KMS on the queue: the
# prep role's kms:Decrypt on the module key (iam.tf) covers ReceiveMessage.
data "aws_iam_policy_document" "prep_queue" {
  count = local.queue_fed ? 1 : 0

  statement {
    sid = "ReceiveWork"
    # ChangeMessageVisibility: a message no run can process (malformed,
    # another bucket, an unsafe key) is made visible again at once, so it
    # reaches the dead-letter queue after max_receive_count ticks, not
    # after max_receive_count run-long visibility timeouts.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.work[0].arn]
  }

  statement {
    sid       = "HeadAnnouncedObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.source_bucket_arn}/${var.source_data.s3_prefix}*"]
  }
}

resource "aws_iam_role_policy" "prep_queue" {
  count = local.queue_fed ? 1 : 0

  name   = "queue"
  role   = aws_iam_role.prep.id
  policy = data.aws_iam_policy_document.prep_queue[0].json
}

# egress deletes its node's messages once the node's results are uploaded;
# the jobs do nothing else with the queue.
data "aws_iam_policy_document" "job_queue" {
  count = local.queue_fed ? 1 : 0

  statement {
    sid       = "DeleteFinishedMessages"
    actions   = ["sqs:DeleteMessage"]
    resources = [aws_sqs_queue.work[0].arn]
  }
}

resource "aws_iam_role_policy" "job_queue" {
  count = local.queue_fed ? 1 : 0

  name   = "queue"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job_queue[0].json
}
