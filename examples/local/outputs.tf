output "pipeline_name" {
  description = "Pipeline name."
  value       = batch_pipeline.local.id
}

output "job_queue_arn" {
  description = "ARN of the job queue procurement is submitted to."
  value       = batch_pipeline.local.job_queue_arn
}

output "later_stages_job_queue_arn" {
  description = "ARN of the higher-priority job queue processing and egress are submitted to."
  value       = batch_pipeline.local.later_stages_job_queue_arn
}

output "compute_environment_arn" {
  description = "Compute environment ARN."
  value       = batch_pipeline.local.compute_environment_arn
}

output "job_definition_arns" {
  description = "Stage -> job definition ARN."
  value       = batch_pipeline.local.job_definition_arns
}

output "file_system_id" {
  description = "EFS file system id."
  value       = batch_pipeline.local.efs[0].file_system_id
}

output "access_point_arn" {
  description = "EFS access point ARN."
  value       = batch_pipeline.local.access_point_arn
}

output "mount_target_ids" {
  description = "EFS mount target ids (one per subnet)."
  value       = batch_pipeline.local.mount_target_ids
}

output "egress_bucket_arn" {
  description = "Results bucket ARN."
  value       = batch_pipeline.local.egress_bucket_arn
}

output "run_config" {
  description = "Run configuration (JSON) for the prep step."
  value       = batch_pipeline.local.run_config
}

output "state_machine_definition" {
  description = "The run's Step Functions definition (ASL JSON) the local runner executes."
  value       = data.batch_state_machine_definition.local.definition
}
