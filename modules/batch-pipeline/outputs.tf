output "pipeline_name" {
  description = "The pipeline name (the batch_pipeline id)."
  value       = batch_pipeline.this.id
}

output "job_queue_arn" {
  description = "ARN of the AWS Batch job queue procurement is submitted to."
  value       = batch_pipeline.this.job_queue_arn
}

output "later_stages_job_queue_arn" {
  description = "ARN of the higher-priority AWS Batch job queue processing and egress are submitted to (same compute environment)."
  value       = batch_pipeline.this.later_stages_job_queue_arn
}

output "compute_environment_arn" {
  description = "ARN of the AWS Batch compute environment."
  value       = batch_pipeline.this.compute_environment_arn
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster AWS Batch manages for the compute environment."
  value       = batch_pipeline.this.ecs_cluster_arn
}

output "job_definition_arns" {
  description = "Map of stage (procurement, processing, egress) to job definition ARN with revision."
  value       = batch_pipeline.this.job_definition_arns
}

output "file_system_id" {
  description = "EFS file system id (kept on destroy unless force_destroy)."
  value       = batch_pipeline.this.efs[0].file_system_id
}

output "file_system_arn" {
  description = "EFS file system ARN."
  value       = batch_pipeline.this.file_system_arn
}

output "access_point_arn" {
  description = "ARN of the EFS access point every job and the prep Lambda mount through."
  value       = batch_pipeline.this.access_point_arn
}

output "egress_bucket_name" {
  description = "Name of the results bucket (kept on destroy unless force_destroy)."
  value       = local.egress_bucket_id
}

output "egress_bucket_arn" {
  description = "ARN of the results bucket."
  value       = batch_pipeline.this.egress_bucket_arn
}

output "source_bucket_name" {
  description = "Name of the source bucket (null with a synthetic source)."
  value       = local.source_bucket_id
}

output "access_logs_bucket_name" {
  description = "Bucket receiving the S3 server access logs."
  value       = local.log_bucket_name
}

output "run_config" {
  description = "The run configuration (JSON) every execution passes to the prep Lambda."
  value       = batch_pipeline.this.run_config
}

output "state_machine_arn" {
  description = "ARN of the Step Functions state machine; `aws stepfunctions start-execution --state-machine-arn <this> --input \"$(terraform output -raw start_execution_input)\"` starts a run."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the Step Functions state machine."
  value       = aws_sfn_state_machine.this.name
}

output "start_execution_input" {
  description = "Execution input (JSON) that starts a run by hand: the run configuration and empty overrides."
  value       = jsonencode(merge(local.execution_input, { overrides = { trigger = "manual" } }))
}

output "prep_function_arn" {
  description = "ARN of the prep Lambda function."
  value       = aws_lambda_function.prep.arn
}

output "watcher_function_arn" {
  description = "ARN of the watcher Lambda function."
  value       = aws_lambda_function.watcher.arn
}

output "role_arns" {
  description = "Map of the module's IAM roles: execution, job, prep, watcher, sfn, start, events_forward."
  value = {
    execution      = aws_iam_role.execution.arn
    job            = aws_iam_role.job.arn
    prep           = aws_iam_role.prep.arn
    watcher        = aws_iam_role.watcher.arn
    sfn            = aws_iam_role.sfn.arn
    start          = aws_iam_role.start.arn
    events_forward = aws_iam_role.events_forward.arn
  }
}

output "security_group_ids" {
  description = "Map of the module's security groups: jobs, prep, efs. Add rules to `jobs` if your jobs reach more than AWS APIs."
  value = {
    jobs = aws_security_group.jobs.id
    prep = aws_security_group.prep.id
    efs  = aws_security_group.efs.id
  }
}

output "kms_key_arn" {
  description = "KMS key encrypting the file system, buckets, logs, Lambda environments, executions, the event bus and the schedule. When the module created it (kms_key_arn null), destroy schedules it for deletion while the kept file system, results bucket and log groups still need it: note this ARN before destroying (README, \"What destroy keeps\")."
  value       = local.kms_key_arn
}

output "log_group_names" {
  description = "Map of the module's CloudWatch log groups: prep, watcher, sfn, jobs (the three stages' container output, streams <stage>/<container>/<task id>)."
  value = {
    jobs    = aws_cloudwatch_log_group.jobs.name
    prep    = aws_cloudwatch_log_group.lambda["prep"].name
    watcher = aws_cloudwatch_log_group.lambda["watcher"].name
    sfn     = aws_cloudwatch_log_group.sfn.name
  }
}

output "run_events_bus_arn" {
  description = "ARN of the pipeline's event bus, where every finished run publishes its `Step Functions Execution Status Change` event: detail.status; when SUCCEEDED, detail.output holds the run's final state (the watcher's verdict at watch.verdict; the run summary's totals and its S3 key at summary.totals); when FAILED it is null, and describe-execution of detail.executionArn gives the error and cause (the failed indices per stage, as ranges such as 0-9999, for PipelineRunFailed)."
  value       = aws_cloudwatch_event_bus.runs.arn
}

output "run_completed_event_pattern" {
  description = "Event pattern (JSON) matching this pipeline's finished runs, for rules on the run events bus."
  value       = jsonencode(local.completion_pattern)
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule (null without var.schedule)."
  value       = try(aws_scheduler_schedule.run[0].arn, null)
}

output "s3_trigger_rule_arn" {
  description = "ARN of the EventBridge rule that starts a run on objects under incoming/ (null when the trigger is off)."
  value       = try(aws_cloudwatch_event_rule.s3_incoming[0].arn, null)
}

output "tags" {
  description = "Tags on everything the module creates, including `batch-pipeline:name` (what cleanup-retained.sh searches for)."
  value       = local.tags
}

output "queue_url" {
  description = "queue_source: the work queue's URL (send S3 event notifications here; null without queue_source)."
  value       = local.queue_fed ? aws_sqs_queue.work[0].url : null
}

output "queue_arn" {
  description = "queue_source: the work queue's ARN (for a bucket notification you manage yourself)."
  value       = local.queue_fed ? aws_sqs_queue.work[0].arn : null
}

output "dead_letter_queue_url" {
  description = "queue_source: the dead-letter queue's URL (messages that failed max_receive_count receives)."
  value       = local.queue_fed ? aws_sqs_queue.dead_letter[0].url : null
}
