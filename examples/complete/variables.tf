variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Pipeline name (prefix of every object)."
  type        = string
  default     = "ghcn-validation"
}

variable "availability_zones" {
  description = "AZs of the private subnets (one EFS mount target each)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "image_tag" {
  description = "Tag of the three job images in the ECR repositories this example creates: the IMAGE_TAG given to `make push-images` (its default is the 12-character git revision, e.g. `git rev-parse --short=12 HEAD`). Required and not `latest`: the repositories are IMMUTABLE (modules/job-images checks it)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket the module creates for the raw data; CSV files go under `<prefix>/incoming/`. Must be globally unique."
  type        = string
}

variable "schedule_expression" {
  description = "When to start a run (EventBridge Scheduler), e.g. 10 PM UTC daily as in the reference sample."
  type        = string
  default     = "cron(0 22 * * ? *)"
}

variable "lambda_zip_dir" {
  description = "Where `make build-lambdas` wrote the zips (target/lambda, relative to this directory)."
  type        = string
  default     = "../../target/lambda"
}

variable "tags" {
  description = "Tags on everything."
  type        = map(string)
  default = {
    project = "ghcn-validation"
  }
}
