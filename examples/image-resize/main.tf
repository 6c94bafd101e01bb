# Seed 003's system as one pipeline: images written under incoming/ in the
# source bucket notify an SQS queue (with a dead-letter queue); every two
# minutes a run takes up to max_messages of them, resizes each image to the
# configured sizes (224x224, centre-cropped, by default) and publishes them
# with a per-image record of what happened. A message is deleted only once
# its image's results are in S3. No queue, no run: the schedule's execution
# ends at prep and Batch stays at 0 vCPUs. `pipeline_enabled = false`
# pauses (the seed's PIPELINE_ENABLED): messages stay queued.

module "network" {
  source = "../../modules/network"

  name = var.name
  tags = var.tags
  vpc = {
    cidr_block          = "10.44.0.0/16"
    availability_zones  = var.availability_zones
    interface_endpoints = true
    nat_gateway         = false
    # prep receives the messages and egress deletes them, without a NAT.
    extra_interface_endpoints = ["sqs"]
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
    max_vcpus = var.max_vcpus
  }

  stages = {
    procurement = {
      image = module.images.images["procurement"]
    }
    processing = {
      image  = module.images.images["processing"]
      memory = 4096
      transform = jsonencode({
        kind    = "image_resize"
        sizes   = var.sizes
        mode    = var.resize_mode
        format  = "jpeg"
        quality = 90
      })
    }
    egress = {
      image = module.images.images["egress"]
    }
  }

  source_data = {
    s3_bucket     = var.source_bucket
    s3_prefix     = "incoming/"
    s3_suffix     = var.key_suffix
    create_bucket = true
  }

  sizing = {
    items_per_node = var.images_per_node
  }

  lambdas = {
    prep_zip    = "${path.module}/${var.lambda_zip_dir}/prep/bootstrap.zip"
    watcher_zip = "${path.module}/${var.lambda_zip_dir}/watcher/bootstrap.zip"
  }

  queue_source = {
    enabled             = var.pipeline_enabled
    schedule_expression = "rate(2 minutes)"
    max_messages        = var.max_messages
    max_receive_count   = 5
  }

  egress = {
    noncurrent_days = 30
  }
}
