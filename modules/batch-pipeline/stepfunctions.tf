# The state machine that drives one run, with the definition our provider
# generates from this pipeline's queue, job definitions and functions.

resource "aws_cloudwatch_log_group" "sfn" {
  name              = local.sfn_log_group_name
  retention_in_days = var.logging.retention_days
  kms_key_id        = local.kms_key_arn
  skip_destroy      = var.logging.retain_on_destroy
  tags              = local.tags
}

resource "aws_sfn_state_machine" "this" {
  name       = var.name
  role_arn   = aws_iam_role.sfn.arn
  definition = data.batch_state_machine_definition.this.definition
  type       = "STANDARD"

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.sfn.arn}:*"
    include_execution_data = true
    level                  = var.logging.sfn_level
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = local.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.sfn]
}

locals {
  # Every execution gets the run configuration and what started it; the
  # definition hands both to the prep Lambda as {"config", "overrides"}.
  execution_input = {
    config    = local.run_config
    overrides = {}
  }
}
