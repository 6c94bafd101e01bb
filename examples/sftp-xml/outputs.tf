output "state_machine_arn" {
  description = "Start a run: aws stepfunctions start-execution --state-machine-arn <this> --input \"$(terraform output -raw start_execution_input)\"."
  value       = module.pipeline.state_machine_arn
}

output "start_execution_input" {
  description = "Execution input for a run started by hand."
  value       = module.pipeline.start_execution_input
}

output "ecr_registry" {
  description = "Registry of the three repositories: REGISTRY for `make push-images`."
  value       = module.images.registry
}

output "image_repository_prefix" {
  description = "IMAGE_REPOSITORY for `make push-images`: the repositories are <this><stage>."
  value       = module.images.image_repository_prefix
}

output "egress_bucket_name" {
  description = "Results: s3://<this>/results/<run_id>/<index>/<file>.jsonl (or .json), with <file>.rejects.jsonl and <file>.stats.json beside each."
  value       = module.pipeline.egress_bucket_name
}

output "run_events_bus_arn" {
  description = "Event bus where every finished run is published."
  value       = module.pipeline.run_events_bus_arn
}

output "retained_on_destroy" {
  description = "What `terraform destroy` keeps (delete with modules/batch-pipeline/scripts/cleanup-retained.sh)."
  value = {
    file_system_id = module.pipeline.file_system_id
    egress_bucket  = module.pipeline.egress_bucket_name
    tag            = "batch-pipeline:name=${var.name}"
  }
}
