# The prep and watcher functions, from the zips `make build-lambdas` writes.

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.logging.retention_days
  kms_key_id        = local.kms_key_arn
  skip_destroy      = var.logging.retain_on_destroy
  tags              = local.tags
}

# The three stages' container output (the job definitions' awslogs group).
resource "aws_cloudwatch_log_group" "jobs" {
  name              = local.job_log_group_name
  retention_in_days = var.logging.retention_days
  kms_key_id        = local.kms_key_arn
  skip_destroy      = var.logging.retain_on_destroy
  tags              = local.tags
}

# prep: writes runs/<run_id>/... on EFS through the access point, so it runs
# in the VPC next to the mount targets.
resource "aws_lambda_function" "prep" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and records failures; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:The bootstrap zip is built locally by cargo-lambda; code signing needs an AWS Signer profile the deployment chooses (add code_signing_config_arn in a wrapper).
  function_name                  = local.function_names.prep
  description                    = "Prepares one ${var.name} run: lists the work, writes the run layout on EFS, returns the array size."
  role                           = aws_iam_role.prep.arn
  filename                       = var.lambdas.prep_zip
  source_code_hash               = filebase64sha256(var.lambdas.prep_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambdas.architecture]
  memory_size                    = var.lambdas.memory_size
  timeout                        = var.lambdas.timeout_seconds
  reserved_concurrent_executions = var.lambdas.prep_reserved_concurrency
  kms_key_arn                    = local.kms_key_arn

  environment {
    variables = {
      PIPELINE_NAME     = var.name
      PIPELINE_EFS_ROOT = local.efs_mount_path
      RUST_LOG          = var.lambdas.log_level
    }
  }

  vpc_config {
    subnet_ids         = var.network.subnet_ids
    security_group_ids = [aws_security_group.prep.id]
  }

  file_system_config {
    arn              = batch_pipeline.this.access_point_arn
    local_mount_path = local.efs_mount_path
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda["prep"].name
  }

  tags = local.tags

  # Checked before filebase64sha256 above is evaluated, so a missing zip
  # says how to make it.
  lifecycle {
    precondition {
      condition     = fileexists(var.lambdas.prep_zip)
      error_message = "lambdas.prep_zip: ${var.lambdas.prep_zip} does not exist. Run `make build-lambdas` in the repository root (it writes target/lambda/prep/bootstrap.zip and target/lambda/watcher/bootstrap.zip), or fix the path."
    }
  }

  # The mount targets (made by batch_pipeline) must be available and the role
  # allowed to mount before Lambda can attach the file system.
  depends_on = [aws_iam_role_policy.prep]
}

# watcher: reads job status from the Batch API only; no VPC resources. One
# DescribeJobs round per call: 256 MiB and 60 s, whatever var.lambdas
# memory_size and timeout_seconds (prep's) say.
resource "aws_lambda_function" "watcher" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and records failures; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls only the AWS Batch API and touches no VPC resource; in a VPC it would need a NAT gateway or a Batch interface endpoint for nothing.
  #checkov:skip=CKV_AWS_272:The bootstrap zip is built locally by cargo-lambda; code signing needs an AWS Signer profile the deployment chooses (add code_signing_config_arn in a wrapper).
  function_name                  = local.function_names.watcher
  description                    = "Reports whether the three array jobs of a ${var.name} run are finished, and which indices failed."
  role                           = aws_iam_role.watcher.arn
  filename                       = var.lambdas.watcher_zip
  source_code_hash               = filebase64sha256(var.lambdas.watcher_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambdas.architecture]
  memory_size                    = 256
  timeout                        = 60
  reserved_concurrent_executions = var.lambdas.watcher_reserved_concur
  kms_key_arn                    = local.kms_key_arn

  environment {
    variables = {
      PIPELINE_NAME = var.name
      RUST_LOG      = var.lambdas.log_level
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda["watcher"].name
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = fileexists(var.lambdas.watcher_zip)
      error_message = "lambdas.watcher_zip: ${var.lambdas.watcher_zip} does not exist. Run `make build-lambdas` in the repository root (it writes target/lambda/prep/bootstrap.zip and target/lambda/watcher/bootstrap.zip), or fix the path."
    }
  }

  depends_on = [aws_iam_role_policy.watcher]
}
