output "images" {
  description = "The three job images, stage -> <repository URL>:<image_tag>: give each to the batch-pipeline module's stages.<stage>.image."
  value       = { for stage, repo in aws_ecr_repository.jobs : stage => "${repo.repository_url}:${var.image_tag}" }
}

output "repository_urls" {
  description = "Where to push the three job images (stage -> repository URL)."
  value       = { for stage, repo in aws_ecr_repository.jobs : stage => repo.repository_url }
}

output "repository_arns" {
  description = "ARNs of the three repositories: the batch-pipeline module's ecr_repository_arns (the job execution role may pull from these only)."
  value       = [for repo in aws_ecr_repository.jobs : repo.arn]
}

output "registry" {
  description = "Registry of the three repositories: REGISTRY for `make push-images`."
  value       = split("/", aws_ecr_repository.jobs["procurement"].repository_url)[0]
}

output "image_repository_prefix" {
  description = "IMAGE_REPOSITORY for `make push-images`: the repositories are <this><stage>."
  value       = "${var.name}/"
}
