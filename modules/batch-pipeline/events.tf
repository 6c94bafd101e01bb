# What starts a run (a schedule, an object under incoming/) and the event a
# finished run publishes.

# ------------------------------------------------------------ schedule ----
resource "aws_scheduler_schedule" "run" {
  count = var.schedule == null ? 0 : 1

  name                         = "${var.name}-run"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "Starts a ${var.name} pipeline run."
  schedule_expression          = var.schedule.expression
  schedule_expression_timezone = var.schedule.timezone
  state                        = var.schedule.enabled ? "ENABLED" : "DISABLED"
  kms_key_arn                  = local.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.start.arn
    input = jsonencode(merge(local.execution_input, {
      overrides = { trigger = "schedule" }
    }))

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.triggers_dead_letter.arn
    }
  }
}

# ------------------------------------------------- S3 object created ----
# S3 -> EventBridge (bucket notifications) -> this rule -> StartExecution with
# the bucket and key; prep runs over the `<prefix>/incoming/` folder that
# holds the key. The rule matches only keys with an incoming_path folder at
# the root or after a '/', the folders prep accepts and the roles may read
# (local.source_list_prefixes).
resource "aws_cloudwatch_event_rule" "s3_incoming" {
  count = local.s3_trigger ? 1 : 0

  name        = "${var.name}-s3-incoming"
  description = "An object created under ${var.s3_trigger.incoming_path} in ${coalesce(var.source_data.s3_bucket, "-")} starts a ${var.name} run."
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [var.source_data.s3_bucket] }
      object = { key = [
        { wildcard = "${var.s3_trigger.incoming_path}*${var.s3_trigger.key_suffix}" },
        { wildcard = "*/${var.s3_trigger.incoming_path}*${var.s3_trigger.key_suffix}" },
      ] }
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "s3_incoming" {
  count = local.s3_trigger ? 1 : 0

  rule     = aws_cloudwatch_event_rule.s3_incoming[0].name
  arn      = aws_sfn_state_machine.this.arn
  role_arn = aws_iam_role.start.arn

  input_transformer {
    input_paths = {
      BUCKET = "$.detail.bucket.name"
      KEY    = "$.detail.object.key"
      EVENT  = "$.id"
    }
    # jsonencode escapes < and >, so the <BUCKET>, <KEY>, <EVENT> placeholders
    # go in after it; inside quotes EventBridge inserts the raw string.
    input_template = replace(
      jsonencode(merge(local.execution_input, {
        overrides = {
          trigger       = "s3"
          s3_bucket     = "__BUCKET__"
          s3_key        = "__KEY__"
          incoming_path = var.s3_trigger.incoming_path
          event_id      = "__EVENT__"
        }
      })),
      "/__(BUCKET|KEY|EVENT)__/", "<$1>"
    )
  }

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }

  dead_letter_config {
    arn = aws_sqs_queue.triggers_dead_letter.arn
  }
}

locals {
  s3_trigger = var.s3_trigger.enabled && var.source_data.s3_bucket != null
}

# ------------------------------------------------------ run completed ----
# Step Functions publishes "Step Functions Execution Status Change" on the
# default bus: a SUCCEEDED run has its final state (the watcher's verdict at
# watch.verdict) in detail.output; a FAILED one ends in a Fail state, so its
# detail.output is null and DescribeExecution of detail.executionArn gives the
# error and cause (for PipelineRunFailed, the failed indices per stage as ranges). This
# rule forwards the terminal ones of this state machine to the pipeline's own
# bus, where consumers subscribe without seeing anything else.
resource "aws_cloudwatch_event_bus" "runs" {
  name               = "${var.name}-runs"
  kms_key_identifier = local.kms_key_arn
  tags               = local.tags
}

resource "aws_cloudwatch_event_rule" "run_completed" {
  name          = "${var.name}-run-completed"
  description   = "A ${var.name} run finished (SUCCEEDED, FAILED, TIMED_OUT or ABORTED)."
  event_pattern = jsonencode(local.completion_pattern)
  tags          = local.tags
}

locals {
  completion_pattern = {
    source      = ["aws.states"]
    detail-type = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = [aws_sfn_state_machine.this.arn]
      status          = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    }
  }
  completion_buses = concat([aws_cloudwatch_event_bus.runs.arn], var.completion.extra_bus_arns)
}

resource "aws_cloudwatch_event_target" "run_completed" {
  count = length(local.completion_buses)

  rule     = aws_cloudwatch_event_rule.run_completed.name
  arn      = local.completion_buses[count.index]
  role_arn = aws_iam_role.events_forward.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.triggers_dead_letter.arn
  }
}
