output "ecr_registry" {
  description = "Registry of the three repositories: REGISTRY for `make push-images`."
  value       = module.images.registry
}

output "image_repository_prefix" {
  description = "IMAGE_REPOSITORY for `make push-images`: the repositories are <this><stage>."
  value       = module.images.image_repository_prefix
}

output "source_bucket_name" {
  description = "Upload images to s3://<this>/incoming/; each one is queued and resized by the next run."
  value       = module.pipeline.source_bucket_name
}

output "egress_bucket_name" {
  description = "Results: s3://<this>/results/<run_id>/<index>/<image>/<W>x<H>.jpg, with <image>.stats.json (what was done) and <image>.rejects.jsonl (why not) beside each."
  value       = module.pipeline.egress_bucket_name
}

output "queue_url" {
  description = "The work queue (its depth is the backlog)."
  value       = module.pipeline.queue_url
}

output "dead_letter_queue_url" {
  description = "Messages that failed 5 receives land here; an alarm watches its depth."
  value       = module.pipeline.dead_letter_queue_url
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
