variable "name" {
  description = "Repositories are <name>/procurement, <name>/processing and <name>/egress."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 200
    error_message = "name must be an ECR repository namespace: lowercase letters, digits, and . _ - / between them (at most 200 characters)."
  }
}

variable "image_tag" {
  description = "Tag of the three job images: the IMAGE_TAG given to `make push-images` (jobs/build-images.sh; its default is the 12-character git revision, e.g. `git rev-parse --short=12 HEAD`). Required: the repositories are IMMUTABLE, so each build gets its own tag and `latest` is refused."
  type        = string
  # No default: a tag that exists only once per repository cannot have a
  # sensible default, and `latest` would name an image nobody pushed.

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be an image tag: letters, digits, _ . - (not starting with . or -), at most 128."
  }

  validation {
    condition     = var.image_tag != "latest"
    error_message = "image_tag must not be latest: the repositories are immutable (one build per tag); push with IMAGE_TAG=$(git rev-parse --short=12 HEAD) and pass the same tag."
  }
}

variable "keep_images" {
  description = "How many images each repository keeps; older ones expire (ECR lifecycle policy)."
  type        = number
  default     = 20

  validation {
    condition     = var.keep_images >= 1 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number of at least 1."
  }
}

variable "tags" {
  description = "Tags for every object the module creates."
  type        = map(string)
  default     = {}
}
