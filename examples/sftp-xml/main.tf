# Seed 002's system as one pipeline: every night, prep lists the XML files on
# an SFTP server (key in Secrets Manager, host key pinned), procurement
# downloads each node's share to EFS, processing converts each file to JSON
# lines (one line per record at record_path) and egress publishes them to S3.
# The jobs reach the server through one NAT gateway; AWS services through
# the VPC's endpoints.

module "network" {
  source = "../../modules/network"

  name = var.name
  tags = var.tags
  vpc = {
    cidr_block          = "10.43.0.0/16"
    availability_zones  = var.availability_zones
    interface_endpoints = true
    # The SFTP server is outside the VPC.
    nat_gateway = true
    # prep and procurement read the private key from Secrets Manager.
    extra_interface_endpoints = ["secretsmanager"]
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
    max_vcpus = 64
  }

  stages = {
    procurement = {
      image = module.images.images["procurement"]
    }
    processing = {
      image = module.images.images["processing"]
      transform = jsonencode({
        kind        = "xml_to_json"
        record_path = var.record_path
        force_list  = var.force_list
      })
    }
    egress = {
      image = module.images.images["egress"]
    }
  }

  source_data = {
    sftp = {
      host                   = var.sftp.host
      port                   = var.sftp.port
      user                   = var.sftp.user
      private_key_secret_arn = var.sftp.private_key_secret_arn
      host_key               = var.sftp.host_key
      directory              = var.sftp.directory
      glob                   = var.sftp.glob
      recursive              = var.sftp.recursive
      egress_cidr_blocks     = var.sftp.cidr_blocks
      # The raw files as fetched, in the results bucket under raw/ (the
      # seed's "store them in another S3 bucket").
      archive = { prefix = "raw/" }
    }
  }

  sizing = {
    items_per_node = var.files_per_node
  }

  lambdas = {
    prep_zip    = "${path.module}/${var.lambda_zip_dir}/prep/bootstrap.zip"
    watcher_zip = "${path.module}/${var.lambda_zip_dir}/watcher/bootstrap.zip"
  }

  schedule = {
    expression = var.schedule_expression
  }

  egress = {
    noncurrent_days = 30
  }
}
