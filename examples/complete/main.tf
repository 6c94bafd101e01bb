# A complete deployment: a private VPC (endpoints, no NAT), ECR repositories
# for the three job images, and the pipeline module validating NOAA
# GHCN-Daily CSV files that land under <prefix>/incoming/ in the source bucket.

data "aws_caller_identity" "current" {}

module "network" {
  source = "../../modules/network"

  name = var.name
  tags = var.tags
  vpc = {
    cidr_block          = "10.42.0.0/16"
    availability_zones  = var.availability_zones
    interface_endpoints = true
    nat_gateway         = false
  }
}

resource "aws_kms_key" "ecr" {
  description             = "${var.name}: ECR repositories of the job images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.ecr_key.json
}

data "aws_iam_policy_document" "ecr_key" {
  #checkov:skip=CKV_AWS_109:KMS key policy: Resource "*" means this key; the account-root statement is AWS's default key policy.
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key; the account-root statement is AWS's default key policy.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" is the only valid value and means this key.
  statement {
    sid       = "AccountIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_ecr_repository" "jobs" {
  for_each = toset(["procurement", "processing", "egress"])

  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

resource "aws_ecr_lifecycle_policy" "jobs" {
  for_each = aws_ecr_repository.jobs

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 20 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

module "pipeline" {
  source = "../../modules/batch-pipeline"

  name    = var.name
  tags    = var.tags
  network = module.network.batch_pipeline_network

  compute = {
    type      = "FARGATE_SPOT"
    max_vcpus = 256
  }

  stages = {
    procurement = {
      image = "${aws_ecr_repository.jobs["procurement"].repository_url}:${var.image_tag}"
    }
    processing = {
      image     = "${aws_ecr_repository.jobs["processing"].repository_url}:${var.image_tag}"
      memory    = 4096
      transform = jsonencode({ kind = "csv_validate", rules = { builtin = "ghcn-daily" } })
    }
    egress = {
      image = "${aws_ecr_repository.jobs["egress"].repository_url}:${var.image_tag}"
    }
  }

  source_data = {
    s3_bucket     = var.source_bucket
    s3_prefix     = ""
    s3_suffix     = ".csv"
    create_bucket = true
  }

  sizing = {
    items_per_node = 4
  }

  lambdas = {
    prep_zip    = "${path.module}/${var.lambda_zip_dir}/prep/bootstrap.zip"
    watcher_zip = "${path.module}/${var.lambda_zip_dir}/watcher/bootstrap.zip"
  }

  schedule = {
    expression = var.schedule_expression
  }

  s3_trigger = {
    enabled    = true
    key_suffix = "_READY"
  }

  egress = {
    noncurrent_days = 30
  }
}
