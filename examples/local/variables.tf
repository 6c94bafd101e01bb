variable "endpoint" {
  description = "URL of the AWS stand-in (moto server on a loopback port), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.endpoint))
    error_message = "endpoint must be an http:// or https:// URL."
  }
}

variable "region" {
  description = "Region the stand-in answers for."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Pipeline name."
  type        = string
  default     = "local-demo"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,63}$", var.name))
    error_message = "name must be 1 to 64 letters, digits, '-' or '_', starting with a letter."
  }
}

variable "subnet_ids" {
  description = "Subnets that exist in the stand-in (moto checks them): `python3 examples/local/moto_setup.py --endpoint URL` creates a VPC, subnets, a security group and the IAM roles and prints them as a tfvars JSON file."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one subnet id is required."
  }
}

variable "security_group_ids" {
  description = "Security groups that exist in the stand-in, for the jobs and the mount targets."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "At least one security group id is required."
  }
}

variable "image_prefix" {
  description = "Job images are `<image_prefix>-<stage>:local` (what jobs/build-images.sh tags, minus the revision)."
  type        = string
  default     = "batch-jobs"
}

variable "source_bucket" {
  description = "Bucket whose objects are the work items; null: `synthetic_count` generated ids instead."
  type        = string
  default     = null
}

variable "source_prefix" {
  description = "Key prefix listed in source_bucket."
  type        = string
  default     = "incoming/"
}

variable "source_suffix" {
  description = "Key suffix filter in source_bucket."
  type        = string
  default     = ""
}

variable "synthetic_count" {
  description = "Generated ids when there is no source bucket."
  type        = number
  default     = 400

  validation {
    condition     = var.synthetic_count >= 1
    error_message = "synthetic_count must be at least 1."
  }
}

variable "sqs_queue_url" {
  description = "With source_bucket: a queue-fed pipeline, a run takes the bucket's S3 event notifications from this SQS queue (in the stand-in) instead of listing the prefix. `make demo DEMO=queue` makes the queue, its dead-letter queue and the bucket notification."
  type        = string
  default     = null
}

variable "sqs_max_messages" {
  description = "With sqs_queue_url: most messages one run takes (null: prep's default, 1000)."
  type        = number
  default     = null
}

variable "sqs_visibility_timeout_seconds" {
  description = "With sqs_queue_url: how long a run's messages stay invisible to other runs (null: prep's default, 3600)."
  type        = number
  default     = null
}

variable "sftp_host" {
  description = "Fetch the work items from this SFTP server instead of S3 (leave source_bucket null). `make demo DEMO=sftp` runs a local OpenSSH server."
  type        = string
  default     = null
}

variable "sftp_port" {
  description = "With sftp_host: the server's port (null: 22)."
  type        = number
  default     = null
}

variable "sftp_user" {
  description = "With sftp_host: the user to log in as."
  type        = string
  default     = null
}

variable "sftp_private_key_secret_arn" {
  description = "With sftp_host: the Secrets Manager secret (in the stand-in) holding the user's private key."
  type        = string
  default     = null
}

variable "sftp_host_key" {
  description = "With sftp_host: the server's host key, a known_hosts line or a SHA256: fingerprint (pinned: any other key is refused)."
  type        = string
  default     = null
}

variable "sftp_directory" {
  description = "With sftp_host: the absolute directory to fetch from."
  type        = string
  default     = null
}

variable "sftp_glob" {
  description = "With sftp_host: file name pattern (null: every file)."
  type        = string
  default     = null
}

variable "items_per_node" {
  description = "Work items per array node."
  type        = number
  default     = 40
}

variable "max_nodes" {
  description = "Upper bound on the array size prep may choose (AWS Batch allows 2..10000)."
  type        = number
  default     = 100
}

variable "force_destroy" {
  description = "Delete the EFS file system and the egress bucket on destroy. false: destroy keeps them and names them in a warning, as a production pipeline would (make demo shows this)."
  type        = bool
  default     = true
}

variable "transform" {
  description = "Processing transform spec (JSON, docs/jobs.md). Default: validate GHCN-Daily CSV with the shipped rule set."
  type        = string
  default     = "{\"kind\":\"csv_validate\",\"rules\":{\"builtin\":\"ghcn-daily\"}}"
}

variable "egress_bucket" {
  description = "Results bucket the pipeline creates in the stand-in."
  type        = string
  default     = "local-demo-results"
}

variable "poll_seconds" {
  description = "Seconds between watcher polls in the state machine."
  type        = number
  default     = 5
}

variable "service_role_arn" {
  description = "Batch service role of the compute environment. moto requires one that exists in its IAM (AWS would use the service-linked role); moto_setup.py prints it."
  type        = string
  default     = null
}

variable "execution_role_arn" {
  description = "Job execution role (required on Fargate). Null: an ARN in moto's default account named after the pipeline."
  type        = string
  default     = null
}

variable "job_role_arn" {
  description = "Role the jobs run as. Null: an ARN in moto's default account named after the pipeline."
  type        = string
  default     = null
}
