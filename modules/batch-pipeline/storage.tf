# Buckets. The egress bucket is created (or referenced) by batch_pipeline and
# kept on destroy unless force_destroy; the module hardens it here when it
# is created for this pipeline (an existing bucket's settings are left alone). The
# source bucket (optional) and the access-log bucket are plain aws_s3_bucket.

locals {
  create_log_bucket   = var.access_logs_bucket == null
  log_bucket_name     = local.create_log_bucket ? "${replace(lower(var.name), "_", "-")}-access-logs-${local.account_id}" : var.access_logs_bucket
  egress_bucket_id    = trimprefix(batch_pipeline.this.egress_bucket_arn, "arn:${local.partition}:s3:::")
  source_bucket_id    = local.create_source ? aws_s3_bucket.source[0].id : var.source_data.s3_bucket
  tls_only_bucket_ids = merge(var.egress.create ? { egress = local.egress_bucket_id } : {}, local.create_source ? { source = aws_s3_bucket.source[0].id } : {})
}

# -------------------------------------------------------------- egress ----
resource "aws_s3_bucket_versioning" "egress" {
  count = var.egress.create ? 1 : 0

  bucket = local.egress_bucket_id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "egress" {
  count = var.egress.create ? 1 : 0

  bucket = local.egress_bucket_id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "egress" {
  count = var.egress.create ? 1 : 0

  bucket = local.egress_bucket_id

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.egress.noncurrent_days
    }
    # The delete markers expired objects leave (expire_days and the
    # ledger's done records) once no version is left behind them: listings
    # would otherwise step over one marker per object ever written.
    expiration {
      expired_object_delete_marker = true
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = var.egress.expire_days == null ? [] : [var.egress.expire_days]
    content {
      id     = "expire-results"
      status = "Enabled"
      filter {
        prefix = local.egress_key_prefix
      }
      expiration {
        days = rule.value
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # The incremental ledger's done records, one per input ever processed
  # (docs/incremental.md): bounded without expiring the results.
  dynamic "rule" {
    for_each = var.egress.ledger_done_expire_days == null ? [] : [var.egress.ledger_done_expire_days]
    content {
      id     = "expire-ledger-done"
      status = "Enabled"
      filter {
        prefix = "${local.ledger_key_prefix}done/"
      }
      expiration {
        days = rule.value
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.egress]
}

resource "aws_s3_bucket_logging" "egress" {
  count = var.egress.create ? 1 : 0

  bucket        = local.egress_bucket_id
  target_bucket = local.log_bucket_name
  target_prefix = "s3/${local.egress_bucket_name}/"

  depends_on = [aws_s3_bucket_policy.access_logs]
}

# -------------------------------------------------------------- source ----
resource "aws_s3_bucket" "source" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the deployment (a second region and bucket); the inputs can be re-uploaded from their origin.
  count = local.create_source ? 1 : 0

  bucket        = var.source_data.s3_bucket
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "source" {
  count = local.create_source ? 1 : 0

  bucket                  = aws_s3_bucket.source[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "source" {
  count = local.create_source ? 1 : 0

  bucket = aws_s3_bucket.source[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "source" {
  count = local.create_source ? 1 : 0

  bucket = aws_s3_bucket.source[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "source" {
  count = local.create_source ? 1 : 0

  bucket = aws_s3_bucket.source[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "source" {
  count = local.create_source ? 1 : 0

  bucket = aws_s3_bucket.source[0].id

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.egress.noncurrent_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.source]
}

resource "aws_s3_bucket_logging" "source" {
  count = local.create_source ? 1 : 0

  bucket        = aws_s3_bucket.source[0].id
  target_bucket = local.log_bucket_name
  target_prefix = "s3/${var.source_data.s3_bucket}/"

  depends_on = [aws_s3_bucket_policy.access_logs]
}

# Object Created events go to EventBridge (the S3 trigger's rule listens there).
resource "aws_s3_bucket_notification" "source" {
  count = local.create_source ? 1 : 0

  bucket      = aws_s3_bucket.source[0].id
  eventbridge = true

  # Queue-fed runs (queue.tf): Object Created under the source prefix and
  # suffix goes to the work queue too.
  dynamic "queue" {
    for_each = local.queue_fed ? [1] : []
    content {
      id            = "${var.name}-queue"
      queue_arn     = aws_sqs_queue.work[0].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.source_data.s3_prefix == "" ? null : var.source_data.s3_prefix
      filter_suffix = var.source_data.s3_suffix == "" ? null : var.source_data.s3_suffix
    }
  }

  # S3 checks that it may send (its s3:TestEvent) when the notification is set.
  depends_on = [aws_sqs_queue_policy.work]
}

# ------------------------------------------- TLS-only bucket policies ----
data "aws_iam_policy_document" "tls_only" {
  for_each = local.tls_only_bucket_ids

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${each.value}", "arn:${local.partition}:s3:::${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOldTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${each.value}", "arn:${local.partition}:s3:::${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.tls_only_bucket_ids

  bucket = each.value
  policy = data.aws_iam_policy_document.tls_only[each.key].json
}

# --------------------------------------------------------- access logs ----
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would log its own log writes forever.
  #checkov:skip=CKV_AWS_144:Cross-region replication of access logs is an organisation-wide choice (central log archive), not this module's.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery only supports SSE-S3 (AES256) on the target bucket, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the access-log bucket; notifications would only add cost.
  count = local.create_log_bucket ? 1 : 0

  bucket        = local.log_bucket_name
  force_destroy = var.force_destroy
  tags          = local.tags

  lifecycle {
    precondition {
      condition     = length(local.log_bucket_name) <= 63
      error_message = "The access-log bucket name ${local.log_bucket_name} has ${length(local.log_bucket_name)} characters; S3 allows 63. With access_logs_bucket null the module names it <name>-access-logs-<account id>, so name may have at most 38 characters: shorten name or pass access_logs_bucket."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.access_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.logging.retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs[0].arn, "${aws_s3_bucket.access_logs[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = data.aws_iam_policy_document.access_logs[0].json
}
