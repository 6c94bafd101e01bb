variable "name" {
  description = <<-EOT
    Pipeline name: 1 to 49 letters, digits, `-` and `_`, starting with a letter. Every object is named after it
    (`<name>-prep`, `<name>-queue`, ...). 49 is what the longest derived names leave: the IAM role
    `<name>-events-forward` (64 characters at most) and the EFS creation token `batch-pipeline-<name>` (64). The bucket
    names the module derives are shorter still: at most 38 characters when it names the access-log bucket
    (`<name>-access-logs-<account id>`, access_logs_bucket null) and 42 when it names the results bucket
    (`<name>-results-<account id>`, egress.bucket_name null), as S3 bucket names have at most 63; plan checks both.
  EOT
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,48}$", var.name))
    error_message = "name must be 1 to 49 letters, digits, '-' or '_', starting with a letter (49: the IAM role <name>-events-forward and the EFS creation token batch-pipeline-<name> have at most 64 characters). With the module's own bucket names it must be shorter still: 38 for <name>-access-logs-<account id>, 42 for <name>-results-<account id> (S3: 63)."
  }
}

variable "tags" {
  description = "Tags for every object the module creates (the batch_pipeline resource included). The module adds `batch-pipeline:name = <name>`, which `cleanup-retained.sh` searches for."
  type        = map(string)
  default     = {}
}

variable "network" {
  description = <<-EOT
    Where the jobs, the EFS mount targets and the prep Lambda run.
    `subnet_ids`: private subnets (one EFS mount target each; use one per AZ).
    `egress_cidr_blocks`: where the jobs and the prep Lambda may open HTTPS (443) connections: ECR, S3, CloudWatch Logs, STS. Keep `0.0.0.0/0` behind a NAT gateway, or narrow it to the VPC CIDR when interface endpoints serve these APIs (modules/network).
    `s3_prefix_list_id`: the S3 gateway endpoint's prefix list, if any; HTTPS to it is allowed too.
  EOT
  type = object({
    vpc_id             = string
    subnet_ids         = list(string)
    egress_cidr_blocks = optional(list(string), ["0.0.0.0/0"])
    s3_prefix_list_id  = optional(string)
  })

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.network.vpc_id))
    error_message = "network.vpc_id must be a VPC id (vpc-...)."
  }
  validation {
    condition     = length(var.network.subnet_ids) >= 1 && alltrue([for s in var.network.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "network.subnet_ids needs at least one subnet id (subnet-...)."
  }
  validation {
    condition     = alltrue([for c in var.network.egress_cidr_blocks : can(cidrnetmask(c))])
    error_message = "network.egress_cidr_blocks must be IPv4 CIDR blocks."
  }
}

variable "compute" {
  description = "The AWS Batch compute environment and its two job queues. `type` is FARGATE, FARGATE_SPOT, EC2 or SPOT; the EC2/SPOT-only fields are ignored on Fargate. `queue_priority` is the procurement queue's priority, `later_stages_queue_priority` (greater) the priority of the queue processing and egress go to."
  type = object({
    type                = optional(string, "FARGATE")
    max_vcpus           = optional(number, 256)
    min_vcpus           = optional(number, 0)
    instance_types      = optional(list(string), ["optimal"])
    instance_role       = optional(string)
    allocation_strategy = optional(string)
    bid_percentage      = optional(number)
    service_role_arn    = optional(string)
    queue_priority      = optional(number, 1)
    # Processing and egress go to a second queue on the same compute
    # environment at this higher priority, so a node whose procurement
    # finished is not queued behind the procurement nodes not yet started.
    later_stages_queue_priority = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"], var.compute.type)
    error_message = "compute.type must be FARGATE, FARGATE_SPOT, EC2 or SPOT."
  }
  validation {
    condition     = var.compute.max_vcpus > 0 && var.compute.min_vcpus >= 0 && var.compute.min_vcpus <= var.compute.max_vcpus
    error_message = "compute needs max_vcpus > 0 and 0 <= min_vcpus <= max_vcpus."
  }
  validation {
    condition     = !contains(["EC2", "SPOT"], var.compute.type) || var.compute.instance_role != null
    error_message = "compute.instance_role (an instance profile ARN) is required for EC2 and SPOT."
  }
  validation {
    condition     = !(var.compute.type == "SPOT" && var.compute.allocation_strategy == "BEST_FIT")
    error_message = "compute.allocation_strategy BEST_FIT on SPOT needs a Spot Fleet role, which AWS Batch requires and this module does not take: use BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED."
  }
  validation {
    condition     = var.compute.queue_priority >= 0 && var.compute.later_stages_queue_priority <= 1000 && var.compute.later_stages_queue_priority > var.compute.queue_priority
    error_message = "compute.later_stages_queue_priority must be greater than compute.queue_priority (both 0-1000): otherwise processing and egress nodes wait behind procurement nodes not yet started."
  }
  validation {
    condition     = var.compute.bid_percentage == null ? true : (var.compute.bid_percentage >= 1 && var.compute.bid_percentage <= 100)
    error_message = "compute.bid_percentage must be between 1 and 100."
  }
}

variable "retention" {
  description = <<-EOT
    Old run directories (runs/<run_id>/ on EFS) the state machine's Summarize step removes after each run; null (the
    default) removes none. `keep_runs`: keep the directories of this many newest successful runs (the current one
    included; failed runs are kept for a rerun and not counted). `max_age_days`: remove runs that ended more than this
    many days ago, failed ones included. Only runs that ended (have a run summary) are removed, never the current or a
    running one (docs/operations.md).
  EOT
  type = object({
    keep_runs    = optional(number)
    max_age_days = optional(number)
  })
  default = null

  validation {
    condition     = var.retention == null || try(var.retention.keep_runs != null || var.retention.max_age_days != null, false)
    error_message = "retention: set keep_runs, max_age_days or both, or leave retention null."
  }
  validation {
    condition     = try(var.retention.keep_runs == null, true) || try(var.retention.keep_runs >= 1 && var.retention.keep_runs <= 100000 && floor(var.retention.keep_runs) == var.retention.keep_runs, false)
    error_message = "retention.keep_runs must be a whole number from 1 to 100000."
  }
  validation {
    condition     = try(var.retention.max_age_days == null, true) || try(var.retention.max_age_days >= 1 && var.retention.max_age_days <= 3650 && floor(var.retention.max_age_days) == var.retention.max_age_days, false)
    error_message = "retention.max_age_days must be a whole number from 1 to 3650."
  }
}

variable "efs" {
  description = "The shared EFS volume. Leave `file_system_id` null to create an encrypted file system (with the module's KMS key); set it to use an existing one, which is never deleted."
  type = object({
    file_system_id               = optional(string)
    performance_mode             = optional(string, "generalPurpose")
    throughput_mode              = optional(string, "elastic")
    provisioned_throughput_mibps = optional(number)
    root_directory               = optional(string, "/pipeline")
    posix_uid                    = optional(number, 1000)
    posix_gid                    = optional(number, 1000)
    permissions                  = optional(string, "0750")
  })
  default = {}

  validation {
    condition     = contains(["generalPurpose", "maxIO"], var.efs.performance_mode)
    error_message = "efs.performance_mode must be generalPurpose or maxIO."
  }
  validation {
    condition     = contains(["elastic", "bursting", "provisioned"], var.efs.throughput_mode)
    error_message = "efs.throughput_mode must be elastic, bursting or provisioned."
  }
  validation {
    condition     = var.efs.throughput_mode != "provisioned" || var.efs.provisioned_throughput_mibps != null
    error_message = "efs.provisioned_throughput_mibps is required with throughput_mode = provisioned."
  }
  validation {
    # EFS's access point Path: "/" or 1 to 4 components, none empty or
    # starting with '.', at most 100 characters (CreateAccessPoint refuses
    # the rest); this module also keeps to letters, digits, '.', '_', '-'.
    condition     = can(regex("^(/|(/[A-Za-z0-9_-][A-Za-z0-9._-]*){1,4})$", var.efs.root_directory)) && length(var.efs.root_directory) <= 100
    error_message = "efs.root_directory must be \"/\" or an absolute path of 1 to 4 components (letters, digits, '.', '_', '-'; none empty or starting with '.'; no trailing '/'), at most 100 characters, as EFS access points require."
  }
  validation {
    condition     = !(var.efs.performance_mode == "maxIO" && var.efs.throughput_mode == "elastic" && var.efs.file_system_id == null)
    error_message = "efs.throughput_mode = \"elastic\" needs performance_mode = \"generalPurpose\" (EFS offers elastic throughput only there); with maxIO use bursting or provisioned."
  }
  validation {
    condition     = can(regex("^0?[0-7]{3}$", var.efs.permissions))
    error_message = "efs.permissions must be an octal mode such as 0750."
  }
}

variable "stages" {
  description = <<-EOT
    The three array jobs. `image` is required for each; everything else has the batch_pipeline defaults
    (1 vCPU, 2048 MiB, 3 attempts retried on exit code 75, 3600 s timeout). `transform` (processing only)
    is the JSON transform spec of docs/jobs.md (kinds `csv_validate`, `jsonl_calc`, `xml_to_json`, `image_resize`), e.g.
    `jsonencode({ kind = "csv_validate", rules = { builtin = "ghcn-daily" } })` or
    `jsonencode({ kind = "image_resize", sizes = ["224x224"] })`.
  EOT
  type = object({
    procurement = object({
      image               = string
      vcpus               = optional(number, 1)
      memory              = optional(number, 2048)
      command             = optional(list(string))
      environment         = optional(map(string), {})
      retry_attempts      = optional(number, 3)
      retry_on_exit_codes = optional(list(number), [75])
      timeout_seconds     = optional(number, 3600)
    })
    processing = object({
      image               = string
      vcpus               = optional(number, 1)
      memory              = optional(number, 2048)
      command             = optional(list(string))
      environment         = optional(map(string), {})
      retry_attempts      = optional(number, 3)
      retry_on_exit_codes = optional(list(number), [75])
      timeout_seconds     = optional(number, 3600)
      transform           = optional(string)
    })
    egress = object({
      image               = string
      vcpus               = optional(number, 1)
      memory              = optional(number, 2048)
      command             = optional(list(string))
      environment         = optional(map(string), {})
      retry_attempts      = optional(number, 3)
      retry_on_exit_codes = optional(list(number), [75])
      timeout_seconds     = optional(number, 3600)
    })
  })

  validation {
    condition = alltrue([
      for s in [var.stages.procurement, var.stages.processing, var.stages.egress] :
      s.retry_attempts >= 1 && s.retry_attempts <= 10 && s.timeout_seconds >= 60 && s.vcpus > 0 && s.memory >= 512
    ])
    error_message = "Each stage needs 1 <= retry_attempts <= 10, timeout_seconds >= 60, vcpus > 0 and memory >= 512 MiB."
  }
  validation {
    condition     = alltrue([for s in [var.stages.procurement, var.stages.processing, var.stages.egress] : length(trimspace(s.image)) > 0])
    error_message = "Each stage needs a container image."
  }
  validation {
    condition     = var.stages.processing.transform == null || can(jsondecode(var.stages.processing.transform))
    error_message = "stages.processing.transform must be a JSON document."
  }
}

variable "source_data" {
  description = <<-EOT
    Where a run's work items come from: either an S3 bucket and prefix (`s3_bucket`, `s3_prefix`, `s3_suffix`) or
    `synthetic_count` generated ids, whose records are `synthetic_format`: `yelp-jsonl` (the default; for
    `jsonl_calc`) or `ghcn-csv` (GHCN-Daily by_year rows; for `csv_validate` with `ghcn-daily`). `s3_prefix` is empty (the whole bucket) or a relative folder ending with `/`, as
    prep requires; the prep and job roles may list and read under it only (plus the S3 trigger's folders, see
    s3_trigger). `create_bucket = true` makes the module create `s3_bucket` (encrypted, versioned, TLS-only, logged,
    EventBridge notifications on); otherwise the bucket must exist.
    Or `sftp`: files in `directory` on an SFTP server whose names match `glob`, fetched as `user` with the private
    key held (as its string value) by the Secrets Manager secret `private_key_secret_arn`; `host_key` pins the
    server's key (a known_hosts line or a SHA256:... fingerprint; required, never trusted on first use). The prep and
    job roles may read that one secret; the jobs' and prep's security groups may open `port` to `egress_cidr_blocks`
    (the server's addresses) only. `sftp.archive` keeps the raw files as fetched (the seed's "store them in another
    S3 bucket"): procurement also uploads each one to `bucket` (null: the pipeline's egress bucket) under `prefix` and
    its path below `directory`, with the checksum S3 verifies; the job role may write under that prefix only, and may
    use `kms_key_arn` (the bucket's own KMS key, if it has one that is not this pipeline's).
    `incremental = true` (S3 listings and SFTP only; not with queue_source or synthetic_count): a run processes only
    inputs no earlier run finished (objects by key and ETag, files by path, size and mtime), recorded under
    `<egress.prefix>/_ledger/` in the egress bucket; claims held by a run last orchestration.timeout_seconds + 600 s.
    A failed run releases its claims in its Summarize step, so the next run takes its unfinished inputs at once.
    Prep may then list `_ledger/` and read, write and delete `_ledger/claims/`; the jobs may delete `_ledger/claims/`
    objects.
  EOT
  type = object({
    s3_bucket        = optional(string)
    s3_prefix        = optional(string, "incoming/")
    s3_suffix        = optional(string, "")
    synthetic_count  = optional(number)
    synthetic_format = optional(string)
    create_bucket    = optional(bool, false)
    # Process only inputs no earlier run finished (docs/incremental.md).
    incremental = optional(bool, false)
    sftp = optional(object({
      host                   = string
      port                   = optional(number, 22)
      user                   = string
      private_key_secret_arn = string
      host_key               = string
      directory              = string
      glob                   = optional(string, "*")
      recursive              = optional(bool, false)
      egress_cidr_blocks     = list(string)
      archive = optional(object({
        bucket      = optional(string)
        prefix      = optional(string, "raw/")
        kms_key_arn = optional(string)
      }))
    }))
  })

  validation {
    condition     = length([for set in [var.source_data.s3_bucket != null, var.source_data.synthetic_count != null, var.source_data.sftp != null] : set if set]) == 1
    error_message = "Set exactly one of source_data.s3_bucket, source_data.synthetic_count and source_data.sftp."
  }
  validation {
    condition     = var.source_data.sftp == null || can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", var.source_data.sftp.private_key_secret_arn))
    error_message = "source_data.sftp.private_key_secret_arn must be a Secrets Manager secret ARN."
  }
  validation {
    condition     = var.source_data.sftp == null || try(var.source_data.sftp.port >= 1 && var.source_data.sftp.port <= 65535 && floor(var.source_data.sftp.port) == var.source_data.sftp.port, false)
    error_message = "source_data.sftp.port must be a whole number in 1..65535."
  }
  validation {
    condition     = var.source_data.sftp == null || try(length(var.source_data.sftp.egress_cidr_blocks) > 0 && alltrue([for c in var.source_data.sftp.egress_cidr_blocks : can(cidrhost(c, 0))]), false)
    error_message = "source_data.sftp.egress_cidr_blocks must list the SFTP server's addresses as CIDR blocks (e.g. [\"203.0.113.10/32\"])."
  }
  validation {
    condition = try(var.source_data.sftp.archive, null) == null || try(
      var.source_data.sftp.archive.prefix == "" || (
        endswith(var.source_data.sftp.archive.prefix, "/") &&
        alltrue([for c in split("/", trimsuffix(var.source_data.sftp.archive.prefix, "/")) : !contains(["", ".", ".."], c)])
      ),
    false)
    error_message = "source_data.sftp.archive.prefix must be empty or a relative key prefix ending with '/', e.g. \"raw/\": no leading '/', no empty, '.' or '..' path components."
  }
  validation {
    condition     = try(var.source_data.sftp.archive.bucket, null) == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", try(var.source_data.sftp.archive.bucket, "x")))
    error_message = "source_data.sftp.archive.bucket must be a valid S3 bucket name (null: the egress bucket)."
  }
  validation {
    condition     = var.source_data.s3_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.source_data.s3_bucket, "x")))
    error_message = "source_data.s3_bucket must be a valid S3 bucket name."
  }
  validation {
    condition     = var.source_data.synthetic_count == null || try(var.source_data.synthetic_count >= 1, false)
    error_message = "source_data.synthetic_count must be at least 1."
  }
  validation {
    condition     = var.source_data.synthetic_format == null || contains(["yelp-jsonl", "ghcn-csv"], coalesce(var.source_data.synthetic_format, "x"))
    error_message = "source_data.synthetic_format must be yelp-jsonl or ghcn-csv."
  }
  validation {
    condition     = var.source_data.synthetic_format == null || var.source_data.synthetic_count != null
    error_message = "source_data.synthetic_format applies only with source_data.synthetic_count."
  }
  validation {
    condition     = !var.source_data.incremental || var.source_data.synthetic_count == null
    error_message = "source_data.incremental applies to an s3_bucket or sftp source: synthetic ids have nothing to remember."
  }
  validation {
    condition     = !var.source_data.create_bucket || var.source_data.s3_bucket != null
    error_message = "source_data.create_bucket needs source_data.s3_bucket."
  }
  validation {
    # What prep accepts (empty, or a safe relative folder ending with '/'); '*'
    # and '?' would widen the IAM grants built from it.
    condition = var.source_data.s3_prefix == "" || (
      endswith(var.source_data.s3_prefix, "/") &&
      !startswith(var.source_data.s3_prefix, "/") &&
      !can(regex("[*?\\\\]", var.source_data.s3_prefix)) &&
      alltrue([for c in split("/", trimsuffix(var.source_data.s3_prefix, "/")) : !contains(["", ".", ".."], c)])
    )
    error_message = "source_data.s3_prefix must be empty (the whole bucket) or a relative key prefix ending with '/', e.g. \"incoming/\" or \"noaa1/incoming/\": no leading '/', no empty, '.' or '..' path components, no '*', '?' or '\\'. prep refuses any other prefix."
  }
}

variable "sizing" {
  description = "Array sizing: `items_per_node` work items per array node, at most `max_nodes` nodes (2 to 10,000, the AWS Batch array limit)."
  type = object({
    items_per_node = optional(number, 40)
    max_nodes      = optional(number, 10000)
  })
  default = {}

  validation {
    condition     = var.sizing.items_per_node >= 1 && var.sizing.max_nodes >= 2 && var.sizing.max_nodes <= 10000
    error_message = "sizing needs items_per_node >= 1 and 2 <= max_nodes <= 10000."
  }
}

variable "egress" {
  description = <<-EOT
    The results bucket. `bucket_name` null: `<name>-results-<account id>`. `create = true` lets batch_pipeline create it
    (kept on destroy unless `force_destroy`); the module then adds versioning, SSE-KMS, a TLS-only policy, lifecycle rules and
    access logging. `create = false` uses an existing bucket and leaves its settings alone. `noncurrent_days`/`expire_days` drive the lifecycle (null `expire_days`: keep results).
    `ledger_done_expire_days` (with `create = true`): the incremental ledger's done records (`<prefix>/_ledger/done/`, one per input ever
    processed) expire after that many days, so the ledger does not grow without bound while the results are kept; an input whose record
    expired while its object still exists is processed once more, never lost. Set it to at least the days the source keeps its objects
    (docs/incremental.md). Null: the records are kept (or go with `expire_days`).
    `prefix`: results go to `<prefix>/<run_id>/<index>/`; a trailing `/` is ignored, as the egress job ignores it, and
    `""` puts runs at the bucket root. The job role may write under that prefix only.
  EOT
  type = object({
    bucket_name     = optional(string)
    create          = optional(bool, true)
    prefix          = optional(string, "results")
    noncurrent_days = optional(number, 30)
    expire_days     = optional(number)

    ledger_done_expire_days = optional(number)
  })
  default = {}

  validation {
    condition     = var.egress.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.egress.bucket_name, "x")))
    error_message = "egress.bucket_name must be a valid S3 bucket name."
  }
  validation {
    condition     = var.egress.noncurrent_days >= 1 && (var.egress.expire_days == null || try(var.egress.expire_days >= 1, false))
    error_message = "egress.noncurrent_days and egress.expire_days must be at least 1 day."
  }
  validation {
    condition     = var.egress.ledger_done_expire_days == null || try(var.egress.ledger_done_expire_days >= 1 && floor(var.egress.ledger_done_expire_days) == var.egress.ledger_done_expire_days && var.egress.create, false)
    error_message = "egress.ledger_done_expire_days must be a whole number of days, at least 1, and needs egress.create = true (the module sets lifecycle rules only on a bucket it creates)."
  }
  validation {
    # What the egress job accepts: empty, or a safe relative path once trailing
    # '/' are trimmed. '*' would widen the IAM grants built from it.
    condition = var.egress.prefix == "" || (
      can(regex("^[A-Za-z0-9!_.'()/-]*$", var.egress.prefix)) &&
      !startswith(var.egress.prefix, "/") &&
      alltrue([for c in split("/", replace(var.egress.prefix, "/\\/+$/", "")) : !contains(["", ".", ".."], c)])
    )
    error_message = "egress.prefix must be empty (results at the bucket root) or a relative S3 key prefix such as \"results\": letters, digits and !_.'()/- only, no leading '/', no empty, '.' or '..' path components (one trailing '/' or more is ignored)."
  }
}

variable "lambdas" {
  description = <<-EOT
    The prep and watcher Lambda functions: the zips `make build-lambdas` writes (target/lambda/prep/bootstrap.zip,
    target/lambda/watcher/bootstrap.zip; plan stops with a hint when one is missing), runtime `provided.al2023`, handler
    `bootstrap`. `memory_size` and `timeout_seconds` apply to prep only: the watcher, one DescribeJobs round per call,
    always gets 256 MiB and 60 s. `prep_reserved_concurrency` / `watcher_reserved_concur`: reserved concurrency of each
    function, or -1 for none (the function shares the account's unreserved pool). Use -1 in accounts with a small
    concurrency quota (new accounts): Lambda refuses a reservation that would leave less than the account's minimum
    unreserved concurrency, and the function is then not created.
  EOT
  type = object({
    prep_zip                  = string
    watcher_zip               = string
    architecture              = optional(string, "x86_64")
    memory_size               = optional(number, 512)
    timeout_seconds           = optional(number, 300)
    prep_reserved_concurrency = optional(number, 5)
    watcher_reserved_concur   = optional(number, 10)
    log_level                 = optional(string, "info")
  })

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambdas.architecture)
    error_message = "lambdas.architecture must be x86_64 or arm64."
  }
  validation {
    condition     = var.lambdas.timeout_seconds >= 1 && var.lambdas.timeout_seconds <= 900 && var.lambdas.memory_size >= 128 && var.lambdas.memory_size <= 10240
    error_message = "lambdas.timeout_seconds must be 1-900 and memory_size 128-10240."
  }
  validation {
    condition     = endswith(var.lambdas.prep_zip, ".zip") && endswith(var.lambdas.watcher_zip, ".zip")
    error_message = "lambdas.prep_zip and lambdas.watcher_zip must be .zip files."
  }
  validation {
    condition = alltrue([
      for c in [var.lambdas.prep_reserved_concurrency, var.lambdas.watcher_reserved_concur] : c == -1 || (c >= 1 && floor(c) == c)
    ])
    error_message = "lambdas.prep_reserved_concurrency and lambdas.watcher_reserved_concur must be -1 (no reservation) or a whole number of at least 1 (0 would stop the function from running)."
  }
}

variable "orchestration" {
  description = <<-EOT
    The Step Functions state machine: seconds between watcher polls and the run's deadline (passed to
    data.batch_state_machine_definition): the first watcher call past `timeout_seconds` ends the run as
    PipelineRunTimedOut and terminates its jobs. Each watcher round (Wait, Watch, Finished) adds 9 events to the execution
    history and a standard execution fails at 25,000 events, so `timeout_seconds / poll_seconds` may be at most 2,600
    (the provider refuses more: e.g. poll 60 s allows up to 43.3 h, 3,600 s polls up to 108 days).
  EOT
  type = object({
    poll_seconds    = optional(number, 60)
    timeout_seconds = optional(number, 86400)
  })
  default = {}

  validation {
    condition     = var.orchestration.poll_seconds >= 5 && var.orchestration.poll_seconds <= 3600 && var.orchestration.timeout_seconds >= 60 && var.orchestration.timeout_seconds <= 31536000
    error_message = "orchestration needs 5 <= poll_seconds <= 3600 and 60 <= timeout_seconds <= 31536000 (one year, the Step Functions limit)."
  }
  validation {
    # The provider's own check (data.batch_state_machine_definition):
    # 2,600 rounds x 9 events = 23,400, plus 52 for prep, the submits and
    # the cancellation, leaves room for six retries of every other task
    # and ~470 retried watcher calls below the 25,000-event history limit.
    condition     = var.orchestration.timeout_seconds <= 2600 * var.orchestration.poll_seconds
    error_message = "orchestration.timeout_seconds / orchestration.poll_seconds must be at most 2600: each watcher round (Wait, Watch, Finished) adds 9 events to the execution history, and a standard Step Functions execution fails once it reaches 25,000 events. Raise poll_seconds to at least timeout_seconds / 2600 or shorten timeout_seconds."
  }
}

variable "schedule" {
  description = "An EventBridge Scheduler schedule that starts a run: `expression` is `cron(...)`, `rate(...)` or `at(...)`; null for no schedule."
  type = object({
    expression = string
    timezone   = optional(string, "UTC")
    enabled    = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.schedule == null || can(regex("^(cron|rate|at)\\(.+\\)$", try(var.schedule.expression, "")))
    error_message = "schedule.expression must be cron(...), rate(...) or at(...)."
  }
}

variable "s3_trigger" {
  description = <<-EOT
    Start a run when an object is created under an `incoming_path` folder of the source bucket, at its root or below
    any folder (as in the reference samples: `<prefix>/incoming/<file>`); the run lists that folder (the key up to and
    including its last `incoming_path`), so with the trigger on the prep and job roles may also list and read every
    `incoming_path` folder of the bucket, wherever source_data.s3_prefix points. `key_suffix` narrows it to marker
    objects (e.g. `_READY`) so that uploading a batch of files starts one run, not one per file. Needs
    source_data.s3_bucket; turns on EventBridge notifications when the module creates the bucket (for an existing
    bucket, enable them yourself).
  EOT
  type = object({
    enabled       = optional(bool, false)
    incoming_path = optional(string, "incoming/")
    key_suffix    = optional(string, "")
  })
  default = {}

  validation {
    condition     = endswith(var.s3_trigger.incoming_path, "/") && !startswith(var.s3_trigger.incoming_path, "/") && !can(regex("[*?]", var.s3_trigger.incoming_path))
    error_message = "s3_trigger.incoming_path must be a relative folder ending with '/' (e.g. \"incoming/\"), without '*' or '?'."
  }
  validation {
    condition     = !strcontains(var.s3_trigger.key_suffix, "*")
    error_message = "s3_trigger.key_suffix must not contain '*'."
  }
}

variable "completion" {
  description = "The run-completed event: a rule on the state machine's terminal status changes forwards them to an event bus `<name>-runs` the module creates (consumers subscribe there). `extra_bus_arns`: more buses that get the same events."
  type = object({
    extra_bus_arns = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = alltrue([for a in var.completion.extra_bus_arns : can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$", a))])
    error_message = "completion.extra_bus_arns must be EventBridge event bus ARNs."
  }
}

variable "notifications" {
  description = <<-EOT
    Who hears about failures. `enabled` makes an SNS topic `<name>-alerts` (encrypted with the pipeline's KMS key; only
    this pipeline's rule and alarms may publish) that gets one message per run that fails, times out or is aborted
    (`notify_on_success`: successes too) with the run, its status, the error and cause (for a failed run, the failed
    indices per stage), and console links; the module's alarms (failed / timed-out / aborted executions, Lambda errors
    and throttles, schedule ticks that could not start a run, events no trigger could deliver, the queue source's
    dead letters) notify it as well. `email_addresses` and `https_endpoints` subscribe to it (each address confirms
    its subscription); `extra_alarm_actions` are more ARNs (e.g. an existing on-call topic) every alarm notifies, also
    with `enabled = false`. `alarm_period_seconds` is the alarms' evaluation period.
  EOT
  type = object({
    enabled              = optional(bool, true)
    notify_on_success    = optional(bool, false)
    email_addresses      = optional(list(string), [])
    https_endpoints      = optional(list(string), [])
    extra_alarm_actions  = optional(list(string), [])
    alarm_period_seconds = optional(number, 300)
  })
  default = {}

  validation {
    condition     = alltrue([for a in var.notifications.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "notifications.email_addresses must be e-mail addresses."
  }
  validation {
    condition     = alltrue([for e in var.notifications.https_endpoints : startswith(e, "https://")])
    error_message = "notifications.https_endpoints must be https:// URLs."
  }
  validation {
    condition     = alltrue([for a in var.notifications.extra_alarm_actions : can(regex("^arn:aws[a-z-]*:", a))])
    error_message = "notifications.extra_alarm_actions must be ARNs (SNS topics, Auto Scaling or Systems Manager actions)."
  }
  validation {
    condition     = contains([10, 30, 60], var.notifications.alarm_period_seconds) || (var.notifications.alarm_period_seconds >= 60 && var.notifications.alarm_period_seconds % 60 == 0)
    error_message = "notifications.alarm_period_seconds must be 10, 30, or a multiple of 60 (CloudWatch alarm periods)."
  }
}

variable "logging" {
  description = "CloudWatch log groups of the jobs (`/aws/batch/<name>`, instead of the account-wide `/aws/batch/job`), the Lambdas and the state machine: retention in days (one of CloudWatch's allowed values) and whether destroy keeps them (`retain_on_destroy`; `cleanup-retained.sh` lists them afterwards)."
  type = object({
    retention_days    = optional(number, 365)
    retain_on_destroy = optional(bool, false)
    sfn_level         = optional(string, "ALL")
  })
  default = {}

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logging.retention_days)
    error_message = "logging.retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, ... 365, 400, ... 3653)."
  }
  validation {
    condition     = contains(["ALL", "ERROR", "FATAL"], var.logging.sfn_level)
    error_message = "logging.sfn_level must be ALL, ERROR or FATAL."
  }
}

variable "kms_key_arn" {
  description = "KMS key for EFS, S3, CloudWatch Logs, Lambda environments, Step Functions, the event bus and the schedule. Null: the module creates one (rotation on), which `terraform destroy` schedules for deletion (30 days) even when it keeps the data the key encrypts: see \"What destroy keeps\" in the README."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "ecr_repository_arns" {
  description = "ECR repositories the job execution role may pull from. Null: derived from the stage images that are ECR URIs (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`)."
  type        = list(string)
  default     = null
}

variable "force_destroy" {
  description = "Also delete the EFS file system, the egress bucket and the module-created buckets with their data on destroy. Default false: the file system and the egress bucket are kept (see `cleanup-retained.sh`), and destroy stops at a module-created source or access-log bucket that still holds objects. The module's KMS key is scheduled for deletion either way (README, \"What destroy keeps\")."
  type        = bool
  default     = false
}

variable "create_batch_service_linked_role" {
  description = "Create the AWS Batch service-linked role (AWSServiceRoleForBatch). Only once per account: leave false if it exists."
  type        = bool
  default     = false
}

variable "access_logs_bucket" {
  description = "Existing bucket that receives the S3 server access logs of the egress (and source) bucket, e.g. an organisation's central log bucket; it must allow `logging.s3.amazonaws.com` to write under `s3/`. Null: the module creates `<name>-access-logs-<account id>` (SSE-S3, versioned, expiring after logging.retention_days)."
  type        = string
  default     = null
}

variable "queue_source" {
  description = <<-EOT
    Queue-fed runs (null: off). The source bucket's (source_data.s3_bucket) Object Created notifications under
    source_data.s3_prefix ending with source_data.s3_suffix go to an SSE-KMS SQS queue that only that bucket may send to,
    with a dead-letter queue after `max_receive_count` receives and an alarm on its depth. A schedule
    (`schedule_expression`, every 2 minutes by default) starts a run; its prep takes up to `max_messages` messages (none:
    the execution ends at prep, nothing is submitted), processes each object once, and a message is deleted only once
    the node holding its object has uploaded its results. `enabled = false` is the pause switch: the schedule is
    disabled, runs in flight finish, new notifications stay queued (for up to `message_retention_seconds`) until it is
    switched back. `visibility_timeout_seconds` (null: orchestration.timeout_seconds + 600, at most 43200) must be longer
    than a run may take. `manage_bucket_notification = false` leaves an existing bucket's notification configuration to
    you (add the output queue_arn); a bucket the module creates always gets it.
  EOT
  type = object({
    enabled                     = optional(bool, true)
    schedule_expression         = optional(string, "rate(2 minutes)")
    max_messages                = optional(number, 1000)
    visibility_timeout_seconds  = optional(number)
    max_receive_count           = optional(number, 5)
    message_retention_seconds   = optional(number, 1209600)
    dead_letter_alarm_threshold = optional(number, 1)
    alarm_actions               = optional(list(string), [])
    manage_bucket_notification  = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.queue_source == null || can(regex("^(cron|rate)\\(.+\\)$", try(var.queue_source.schedule_expression, "")))
    error_message = "queue_source.schedule_expression must be cron(...) or rate(...)."
  }
  validation {
    condition     = var.queue_source == null || try(var.queue_source.max_messages >= 1 && var.queue_source.max_messages <= 100000, false)
    error_message = "queue_source.max_messages must be 1 to 100000."
  }
  validation {
    condition     = var.queue_source == null || try(var.queue_source.visibility_timeout_seconds == null, false) || try(var.queue_source.visibility_timeout_seconds >= 1 && var.queue_source.visibility_timeout_seconds <= 43200, false)
    error_message = "queue_source.visibility_timeout_seconds must be 1 to 43200 (SQS's 12 hours)."
  }
  validation {
    condition     = var.queue_source == null || try(var.queue_source.max_receive_count >= 1 && var.queue_source.max_receive_count <= 1000, false)
    error_message = "queue_source.max_receive_count must be 1 to 1000 (SQS's redrive policy)."
  }
  validation {
    condition     = var.queue_source == null || try(var.queue_source.message_retention_seconds >= 60 && var.queue_source.message_retention_seconds <= 1209600, false)
    error_message = "queue_source.message_retention_seconds must be 60 to 1209600 (14 days)."
  }
}
