# A Fargate pipeline that validates the NOAA GHCN-Daily CSV files under
# s3://my-raw-data/incoming/ and writes clean rows and rejects to a new bucket.
resource "batch_pipeline" "ghcn" {
  name = "ghcn-validation"

  compute {
    type               = "FARGATE"
    max_vcpus          = 256
    subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    security_group_ids = ["sg-0123456789abcdef0"]
  }

  efs {
    root_directory = "/pipeline"
  }

  source {
    s3_bucket = "my-raw-data"
    s3_prefix = "incoming/"
    s3_suffix = ".csv"
  }
  items_per_node = 40

  procurement {
    image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batch-jobs-procurement:v1"
    execution_role_arn = "arn:aws:iam::123456789012:role/ghcn-job-execution"
    job_role_arn       = "arn:aws:iam::123456789012:role/ghcn-job"
  }

  processing {
    image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batch-jobs-processing:v1"
    vcpus              = 1
    memory             = 2048
    execution_role_arn = "arn:aws:iam::123456789012:role/ghcn-job-execution"
    job_role_arn       = "arn:aws:iam::123456789012:role/ghcn-job"
    transform          = jsonencode({ kind = "csv_validate", rules = { builtin = "ghcn-daily" } })
  }

  egress {
    image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batch-jobs-egress:v1"
    execution_role_arn = "arn:aws:iam::123456789012:role/ghcn-job-execution"
    job_role_arn       = "arn:aws:iam::123456789012:role/ghcn-job"
  }

  egress_bucket {
    name = "ghcn-validated-results"
  }

  tags = {
    project = "ghcn"
  }
}
