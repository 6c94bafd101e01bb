# terraform test against moto. Needs only our provider:
#   python3 examples/local/moto_setup.py --endpoint http://127.0.0.1:PORT > /tmp/moto.tfvars.json
#   terraform -chdir=examples/local test -var endpoint=http://127.0.0.1:PORT -var-file=/tmp/moto.tfvars.json
# (moto checks that subnets, security groups and the Batch service role
# exist; the script makes them. Credentials: any, e.g. AWS_ACCESS_KEY_ID=testing.)

variables {
  name            = "tftest-pipeline"
  egress_bucket   = "tftest-pipeline-results"
  synthetic_count = 95
  items_per_node  = 10
  poll_seconds    = 5
}

run "invalid_name_is_rejected" {
  command = plan

  variables {
    name = "1-starts-with-a-digit"
  }

  expect_failures = [var.name]
}

run "create" {
  command = apply

  assert {
    condition     = output.pipeline_name == var.name
    error_message = "The pipeline id is its name."
  }

  assert {
    condition     = can(regex("^arn:aws:batch:[a-z0-9-]+:[0-9]{12}:job-queue/tftest-pipeline-queue$", output.job_queue_arn))
    error_message = "job_queue_arn is not the <name>-queue job queue ARN: ${output.job_queue_arn}"
  }

  assert {
    condition     = can(regex("^arn:aws:batch:[a-z0-9-]+:[0-9]{12}:job-queue/tftest-pipeline-later-stages-queue$", output.later_stages_job_queue_arn))
    error_message = "later_stages_job_queue_arn is not the <name>-later-stages-queue job queue ARN: ${output.later_stages_job_queue_arn}"
  }

  assert {
    condition     = can(regex("^arn:aws:batch:[a-z0-9-]+:[0-9]{12}:compute-environment/tftest-pipeline-ce$", output.compute_environment_arn))
    error_message = "compute_environment_arn is not the <name>-ce compute environment ARN: ${output.compute_environment_arn}"
  }

  assert {
    condition     = toset(keys(output.job_definition_arns)) == toset(["procurement", "processing", "egress"])
    error_message = "job_definition_arns must have exactly procurement, processing and egress."
  }

  assert {
    condition = alltrue([
      for stage, arn in output.job_definition_arns :
      can(regex("^arn:aws:batch:[a-z0-9-]+:[0-9]{12}:job-definition/tftest-pipeline-${stage}:[0-9]+$", arn))
    ])
    error_message = "Each job definition ARN must be <name>-<stage> with a revision."
  }

  assert {
    condition     = startswith(output.file_system_id, "fs-")
    error_message = "file_system_id is not an EFS id."
  }

  assert {
    condition     = can(regex(":access-point/fsap-", output.access_point_arn))
    error_message = "access_point_arn is not an EFS access point ARN."
  }

  assert {
    condition     = length(output.mount_target_ids) == length(var.subnet_ids)
    error_message = "There must be one mount target per subnet."
  }

  assert {
    condition     = output.egress_bucket_arn == "arn:aws:s3:::${var.egress_bucket}"
    error_message = "egress_bucket_arn does not name the egress bucket."
  }

  assert {
    condition     = jsondecode(output.run_config).pipeline == var.name && jsondecode(output.run_config).source.type == "synthetic" && jsondecode(output.run_config).source.count == var.synthetic_count
    error_message = "run_config does not describe this pipeline and its synthetic source."
  }

  assert {
    condition     = jsondecode(output.run_config).items_per_node == var.items_per_node && jsondecode(output.run_config).egress.bucket == var.egress_bucket
    error_message = "run_config does not carry items_per_node and the egress bucket."
  }

  assert {
    condition     = can(jsondecode(output.state_machine_definition).StartAt) && length(jsondecode(output.state_machine_definition).States) > 0
    error_message = "state_machine_definition is not an ASL document with StartAt and States."
  }

  assert {
    condition = alltrue([
      for arn in concat([output.job_queue_arn, output.later_stages_job_queue_arn], values(output.job_definition_arns)) :
      strcontains(output.state_machine_definition, arn)
    ])
    error_message = "The state machine definition must submit to these queues with these job definitions."
  }
}

run "update_in_place" {
  command = apply

  variables {
    items_per_node = 20
  }

  assert {
    condition     = jsondecode(output.run_config).items_per_node == 20
    error_message = "items_per_node was not updated."
  }

  assert {
    condition     = output.job_queue_arn == run.create.job_queue_arn && output.file_system_id == run.create.file_system_id
    error_message = "Changing items_per_node must not replace the queue or the file system."
  }
}
