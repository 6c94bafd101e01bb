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
  description = "Tag of the three job images in the ECR repositories this example creates: the IMAGE_TAG given to `make push-images` (jobs/build-images.sh; its default is the 12-character git revision, e.g. `git rev-parse --short=12 HEAD`). Required: the repositories are IMMUTABLE, so each build gets its own tag and `latest` is refused."
  type        = string
  # No default: a tag that exists only once per repository cannot have a
  # sensible default, and `latest` would name an image nobody pushed.

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be an image tag: letters, digits, _ . - (not starting with . or -), at most 128."
  }

  validation {
    condition     = var.image_tag != "latest"
    error_message = "image_tag must not be latest: this example's ECR repositories are immutable (one build per tag); push with IMAGE_TAG=$(git rev-parse --short=12 HEAD) and pass the same tag."
  }
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
