# ECR repositories for the three job images, one per stage, encrypted with a
# key of their own, immutable tags, scanned on push, and a lifecycle rule so
# that a scheduled build does not grow the registry without bound.

data "aws_caller_identity" "current" {}

locals {
  stages = toset(["procurement", "processing", "egress"])
}

resource "aws_kms_key" "ecr" {
  description             = "${var.name}: ECR repositories of the job images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.ecr_key.json
  tags                    = var.tags
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
  for_each = local.stages

  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  # A repository that still holds images is not deleted by destroy: images
  # are build artifacts someone may still deploy.
  force_delete = false
  tags         = var.tags

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
      description  = "Keep the last ${var.keep_images} images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.keep_images }
      action       = { type = "expire" }
    }]
  })
}
