# Failures reach a person: a KMS-encrypted SNS topic that gets a readable
# message when a run fails, times out or is aborted (optionally when it
# succeeds), and CloudWatch alarms on what goes wrong outside a run: failed
# executions, Lambda errors and throttles, triggers that could not start a
# run (dead-letter queues), a schedule whose invocations fail.
#
# No trigger is dropped silently: every EventBridge target and schedule of
# the module has a retry policy and sends what it finally cannot deliver to
# the dead-letter queue below, which has an alarm of its own.

locals {
  alerts           = var.notifications.enabled
  alert_actions    = local.alerts ? concat([aws_sns_topic.alerts[0].arn], var.notifications.extra_alarm_actions) : var.notifications.extra_alarm_actions
  alarm_name_start = "${var.name}-"
  alert_statuses   = concat(["FAILED", "TIMED_OUT", "ABORTED"], var.notifications.notify_on_success ? ["SUCCEEDED"] : [])
  console          = "https://${local.region}.console.aws.amazon.com"
}

# ---------------------------------------------------------------- topic ----
resource "aws_sns_topic" "alerts" {
  count = local.alerts ? 1 : 0

  name              = "${var.name}-alerts"
  display_name      = "${var.name} pipeline"
  kms_master_key_id = local.kms_key_arn
  tags              = local.tags
}

# Only this pipeline's rule and alarms may publish, from this account.
data "aws_iam_policy_document" "alerts_topic" {
  count = local.alerts ? 1 : 0

  statement {
    sid       = "RunEventsOfThisPipeline"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.run_alert[0].arn]
    }
  }

  statement {
    sid       = "AlarmsOfThisPipeline"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.alarm_name_start}*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  count = local.alerts ? 1 : 0

  arn    = aws_sns_topic.alerts[0].arn
  policy = data.aws_iam_policy_document.alerts_topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = local.alerts ? toset(var.notifications.email_addresses) : toset([])

  topic_arn = aws_sns_topic.alerts[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "https" {
  for_each = local.alerts ? toset(var.notifications.https_endpoints) : toset([])

  topic_arn              = aws_sns_topic.alerts[0].arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = false
}

# ------------------------------------------------------- run finished ----
# Step Functions' status change event carries the execution's name (the run
# id's source), status, and for a failed run its error and cause (for
# PipelineRunFailed, the failed indices per stage as ranges).
resource "aws_cloudwatch_event_rule" "run_alert" {
  count = local.alerts ? 1 : 0

  name        = "${var.name}-run-alert"
  description = "A ${var.name} run ended ${join(", ", local.alert_statuses)}: tell the alerts topic."
  event_pattern = jsonencode({
    source      = ["aws.states"]
    detail-type = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = [aws_sfn_state_machine.this.arn]
      status          = local.alert_statuses
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "run_alert" {
  count = local.alerts ? 1 : 0

  rule = aws_cloudwatch_event_rule.run_alert[0].name
  arn  = aws_sns_topic.alerts[0].arn

  input_transformer {
    input_paths = {
      NAME   = "$.detail.name"
      STATUS = "$.detail.status"
      ARN    = "$.detail.executionArn"
      ERROR  = "$.detail.error"
      CAUSE  = "$.detail.cause"
      START  = "$.detail.startDate"
      STOP   = "$.detail.stopDate"
    }
    # A plain-text message (a JSON string); EventBridge escapes the values.
    input_template = replace(jsonencode(join("\n", [
      "Pipeline ${var.name}: run __NAME__ __STATUS__.",
      "Error: __ERROR__",
      "Cause: __CAUSE__",
      "Started __START__, stopped __STOP__ (ms since 1970).",
      "Execution: ${local.console}/states/home?region=${local.region}#/v2/executions/details/__ARN__",
      "Jobs: ${local.console}/batch/home?region=${local.region}#jobs",
      "Results: s3://${local.egress_bucket_name}/${local.egress_key_prefix}",
      # Written by the run's Summarize step on failure too; the run id is
      # the execution name unless the execution gave overrides.run_id.
      "Summary: s3://${local.egress_bucket_name}/${local.egress_key_prefix}__NAME__/_run_summary.json",
      "Run events: ${aws_cloudwatch_event_bus.runs.name}",
    ])), "/__(NAME|STATUS|ERROR|CAUSE|START|STOP|ARN)__/", "<$1>")
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.triggers_dead_letter.arn
  }
}

# ------------------------------------------------ undeliverable events ----
# What a rule or schedule of this module could not deliver after its
# retries (a run that was not started, an alert that was not sent).
resource "aws_sqs_queue" "triggers_dead_letter" {
  name                      = "${var.name}-undelivered"
  kms_master_key_id         = local.kms_key_arn
  message_retention_seconds = 1209600
  tags                      = local.tags
}

data "aws_iam_policy_document" "triggers_dead_letter" {
  statement {
    sid       = "RulesOfThisPipeline"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.triggers_dead_letter.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*"]
    }
  }
}

resource "aws_sqs_queue_policy" "triggers_dead_letter" {
  queue_url = aws_sqs_queue.triggers_dead_letter.id
  policy    = data.aws_iam_policy_document.triggers_dead_letter.json
}

# ---------------------------------------------------------------- alarms ----
# Every alarm counts events of one metric over one period and fires at the
# first (treat_missing_data: no data is no event).
locals {
  alarms = merge(
    {
      undelivered-triggers = {
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        dimensions  = { QueueName = aws_sqs_queue.triggers_dead_letter.name }
        description = "A schedule or rule of ${var.name} could not deliver an event after its retries (a run not started, an alert not sent): the messages in ${aws_sqs_queue.triggers_dead_letter.name} say which, and why."
      }
      # A scheduled run that did not start: the schedule group's invocations
      # that the target refused (StartExecution failed) or that were dropped
      # after the retries. Schedules of this module are in their own group,
      # so the metric is this pipeline's.
      schedule-target-errors = {
        namespace   = "AWS/Scheduler"
        metric      = "TargetErrorCount"
        statistic   = "Sum"
        dimensions  = { ScheduleGroup = aws_scheduler_schedule_group.this.name }
        description = "${var.name}: a schedule tick could not start a run (StartExecution failed; it is retried)."
      }
      schedule-dropped = {
        namespace   = "AWS/Scheduler"
        metric      = "InvocationDroppedCount"
        statistic   = "Sum"
        dimensions  = { ScheduleGroup = aws_scheduler_schedule_group.this.name }
        description = "${var.name}: a schedule tick was given up after its retries: a run did not start (the event is in the undelivered queue)."
      }
    },
    {
      for key, run in {
        failed    = { metric = "ExecutionsFailed", what = "failed" }
        timed-out = { metric = "ExecutionsTimedOut", what = "timed out" }
        aborted   = { metric = "ExecutionsAborted", what = "were aborted" }
        } : "runs-${key}" => {
        namespace   = "AWS/States"
        metric      = run.metric
        statistic   = "Sum"
        dimensions  = { StateMachineArn = aws_sfn_state_machine.this.arn }
        description = "Runs of ${var.name} ${run.what} (Step Functions ${run.metric}); each one also sent its own message to the alerts topic."
      }
    },
    {
      for pair in setproduct(["prep", "watcher"], ["Errors", "Throttles"]) : "lambda-${pair[0]}-${lower(pair[1])}" => {
        namespace   = "AWS/Lambda"
        metric      = pair[1]
        statistic   = "Sum"
        dimensions  = { FunctionName = local.function_names[pair[0]] }
        description = "The ${local.function_names[pair[0]]} Lambda reported ${pair[1]}: Step Functions retries them, but a run may fail if they persist (its log group says why)."
      }
    },
  )
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name
  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "alerts" {
  for_each = local.alarms

  alarm_name          = "${local.alarm_name_start}${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = var.notifications.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alert_actions
  ok_actions          = local.alert_actions
  tags                = local.tags
}
