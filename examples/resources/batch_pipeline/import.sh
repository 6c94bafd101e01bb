# A pipeline is imported by its name; the state is rebuilt from AWS by name and tags.
terraform import batch_pipeline.ghcn ghcn-validation
