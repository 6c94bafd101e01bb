variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Pipeline name (prefix of every object)."
  type        = string
  default     = "sftp-xml"
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

variable "sftp" {
  description = <<-EOT
    The SFTP server: `host` and `port`, `user`, `private_key_secret_arn` (a Secrets Manager secret whose string value
    is the user's OpenSSH private key; create it outside Terraform so the key never enters the state), `host_key` (the
    server's key as a known_hosts line, e.g. from `ssh-keyscan -t ed25519 <host>` checked out of band, or its
    `SHA256:...` fingerprint), the remote `directory`, the `glob` of the files to fetch, `recursive`, and `cidr_blocks`
    (the server's addresses: the only place the jobs' and prep's SFTP egress may go).
  EOT
  type = object({
    host                   = string
    port                   = optional(number, 22)
    user                   = string
    private_key_secret_arn = string
    host_key               = string
    directory              = string
    glob                   = optional(string, "*.xml")
    recursive              = optional(bool, false)
    cidr_blocks            = list(string)
  })
}

variable "record_path" {
  description = "Elements written one JSON line each (e.g. /catalog/book). Null: each file becomes one JSON document (the seed's behaviour; files up to 64 MiB)."
  type        = string
  default     = null
}

variable "force_list" {
  description = "Element names that are always JSON arrays, even when they appear once (xmltodict's force_list)."
  type        = list(string)
  default     = []
}

variable "files_per_node" {
  description = "XML files per array node."
  type        = number
  default     = 20
}

variable "schedule_expression" {
  description = "When to pull (EventBridge Scheduler), e.g. nightly at 01:00 UTC."
  type        = string
  default     = "cron(0 1 * * ? *)"
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
    project = "sftp-xml"
  }
}
