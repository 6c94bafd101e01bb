terraform {
  required_version = ">= 1.5"

  required_providers {
    batch = {
      source = "batch-pipeline/batch"
    }
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = var.tags
  }
}

provider "batch" {
  region       = var.region
  default_tags = var.tags
}
