# A complete deployment: a private VPC (endpoints, no NAT), ECR repositories
# for the three job images, and the pipeline module validating NOAA
# GHCN-Daily CSV files that land under <prefix>/incoming/ in the source bucket.

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

module "images" {
  source = "../../modules/job-images"

  name      = var.name
  image_tag = var.image_tag
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
      image = module.images.images["procurement"]
    }
    processing = {
      image     = module.images.images["processing"]
      memory    = 4096
      transform = jsonencode({ kind = "csv_validate", rules = { builtin = "ghcn-daily" } })
    }
    egress = {
      image = module.images.images["egress"]
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
