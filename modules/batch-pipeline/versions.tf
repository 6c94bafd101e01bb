terraform {
  required_version = ">= 1.5"

  required_providers {
    batch = {
      source  = "batch-pipeline/batch"
      version = ">= 0.1"
    }
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
  }
}
