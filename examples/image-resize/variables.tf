variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Pipeline name (prefix of every object)."
  type        = string
  default     = "image-resize"
}

variable "availability_zones" {
  description = "AZs of the private subnets (one EFS mount target each)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "image_tag" {
  description = "Tag of the three job images in the ECR repositories this example creates: the IMAGE_TAG given to `make push-images` (its default is the 12-character git revision, e.g. `git rev-parse --short=12 HEAD`). Required and not `latest`: the repositories are IMMUTABLE (modules/job-images checks it)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket the module creates for the images; upload them under `incoming/`. Must be globally unique."
  type        = string
}

variable "key_suffix" {
  description = "Only objects whose keys end with this are queued (the seed's suffix filter), e.g. \".jpg\"; empty: every object under incoming/. The transform recognises JPEG, PNG, WebP and GIF by content and rejects anything else with its reason."
  type        = string
  default     = ""
}

variable "sizes" {
  description = "Output sizes, \"WIDTHxHEIGHT\" (224x224 for most image classifiers, 299x299 for Inception)."
  type        = list(string)
  default     = ["224x224"]
}

variable "resize_mode" {
  description = "fill (cover and centre-crop: the deep-learning default), fit (inside the box) or pad (letterbox)."
  type        = string
  default     = "fill"

  validation {
    condition     = contains(["fill", "fit", "pad"], var.resize_mode)
    error_message = "resize_mode must be fill, fit or pad."
  }
}

variable "pipeline_enabled" {
  description = "The pause switch: false stops new runs (runs in flight finish) and leaves notifications queued, for up to 14 days, until it is true again."
  type        = bool
  default     = true
}

variable "max_messages" {
  description = "Most images one run takes from the queue."
  type        = number
  default     = 1000
}

variable "images_per_node" {
  description = "Images per array node."
  type        = number
  default     = 50
}

variable "max_vcpus" {
  description = "Most vCPUs the compute environment scales to (it scales to 0 between runs)."
  type        = number
  default     = 64
}

variable "lambda_zip_dir" {
  description = "Where `make build-lambdas` wrote the zips (target/lambda, relative to this directory)."
  type        = string
  default     = "../../target/lambda"
}

variable "tags" {
  description = "Tags on everything."
  type        = map(string)
  default = {
    project = "image-resize"
  }
}
