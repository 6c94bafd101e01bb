terraform {
  required_providers {
    batch = {
      source = "batch-pipeline/batch"
    }
  }
}

# Credentials come from the standard AWS chain (environment, shared config,
# SSO, web identity, instance/container roles), exactly as for the AWS CLI.
provider "batch" {
  region = "eu-west-1"

  default_tags = {
    project = "genomics"
  }
}

# Against a local AWS stand-in such as moto: one endpoint for every service.
provider "batch" {
  alias        = "local"
  region       = "us-east-1"
  endpoint_url = "http://127.0.0.1:5000"
}
