variable "name" {
  description = "Name prefix of everything this module creates."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "name must be 1 to 40 letters, digits, '-' or '_', starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every object the module creates."
  type        = map(string)
  default     = {}
}

variable "vpc" {
  description = <<-EOT
    The VPC: `cidr_block`, the AZs that get a private subnet (`availability_zones`, named explicitly so that a new AZ
    in the region never moves a subnet; each subnet is a `subnet_newbits` slice of the VPC),
    and how the private subnets reach AWS: `interface_endpoints` (ECR, CloudWatch Logs, STS; S3 always has a free
    gateway endpoint) so Fargate needs no NAT, and/or `nat_gateway` (one NAT in the first AZ, for jobs that reach the
    internet). `extra_interface_endpoints` adds endpoints of other services by their short name, e.g. `["sqs"]` for a
    batch-pipeline with `queue_source` (prep and the egress job call SQS) when there is no NAT gateway.
    `flow_log_retention_days` keeps the VPC flow logs.
  EOT
  type = object({
    cidr_block                = optional(string, "10.42.0.0/16")
    availability_zones        = list(string)
    subnet_newbits            = optional(number, 4)
    interface_endpoints       = optional(bool, true)
    nat_gateway               = optional(bool, false)
    extra_interface_endpoints = optional(list(string), [])
    flow_log_retention_days   = optional(number, 365)
  })

  validation {
    condition     = can(cidrnetmask(var.vpc.cidr_block))
    error_message = "vpc.cidr_block must be an IPv4 CIDR block."
  }
  validation {
    condition     = length(var.vpc.availability_zones) >= 1 && length(var.vpc.availability_zones) < pow(2, var.vpc.subnet_newbits) && var.vpc.subnet_newbits >= 1 && var.vpc.subnet_newbits <= 12
    error_message = "vpc.availability_zones needs 1 or more AZs (fewer than 2^subnet_newbits) and vpc.subnet_newbits must be 1-12."
  }
  validation {
    condition     = alltrue([for s in var.vpc.extra_interface_endpoints : can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)*$", s))])
    error_message = "vpc.extra_interface_endpoints are service short names such as \"sqs\" or \"ecr.api\" (the part after com.amazonaws.<region>.)."
  }
  validation {
    condition     = var.vpc.interface_endpoints || var.vpc.nat_gateway
    error_message = "The private subnets need interface_endpoints, nat_gateway or both to reach ECR and CloudWatch Logs."
  }
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.vpc.flow_log_retention_days)
    error_message = "vpc.flow_log_retention_days must be a CloudWatch Logs retention value."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log group (its key policy must allow logs.<region>.amazonaws.com). Null: the log group uses CloudWatch's own encryption."
  type        = string
  default     = null
}
