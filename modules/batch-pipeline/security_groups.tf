# Three groups: the jobs, the prep Lambda and the EFS mount targets. Only the
# first two may reach NFS (2049) on the third; both may open HTTPS to the AWS
# APIs they use (through NAT or VPC endpoints, var.network), and, with an SFTP
# source, its port on the server's addresses. Nothing else.

resource "aws_security_group" "jobs" {
  #checkov:skip=CKV2_AWS_5:Attached to the Batch compute environment through batch_pipeline.compute.security_group_ids, a resource checkov does not model.
  name_prefix = "${var.name}-jobs-"
  description = "Batch jobs of the ${var.name} pipeline"
  vpc_id      = var.network.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-jobs" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "prep" {
  name_prefix = "${var.name}-prep-"
  description = "Prep Lambda of the ${var.name} pipeline"
  vpc_id      = var.network.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-prep" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "efs" {
  #checkov:skip=CKV2_AWS_5:Attached to the EFS mount targets through batch_pipeline.efs.security_group_ids, a resource checkov does not model.
  name_prefix = "${var.name}-efs-"
  description = "EFS mount targets of the ${var.name} pipeline: NFS from its jobs and prep Lambda only"
  vpc_id      = var.network.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-efs" })

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  efs_clients = {
    jobs = aws_security_group.jobs.id
    prep = aws_security_group.prep.id
  }
  # (client, destination) pairs of HTTPS egress.
  https_egress = {
    for pair in setproduct(keys(local.efs_clients), var.network.egress_cidr_blocks) :
    "${pair[0]}-${pair[1]}" => { client = pair[0], cidr = pair[1] }
  }
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_clients" {
  for_each = local.efs_clients

  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the ${each.key} of ${var.name}"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = each.value
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "clients_to_efs" {
  for_each = local.efs_clients

  security_group_id            = each.value
  description                  = "NFS to the ${var.name} EFS mount targets"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "clients_https" {
  for_each = local.https_egress

  security_group_id = local.efs_clients[each.value.client]
  description       = "HTTPS to AWS APIs (ECR, S3, logs, STS, Batch)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value.cidr
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "clients_https_s3_gateway" {
  for_each = var.network.s3_prefix_list_id == null ? {} : local.efs_clients

  security_group_id = each.value
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.network.s3_prefix_list_id
  tags              = local.tags
}

# An SFTP source: prep lists the server, procurement downloads from it.
resource "aws_vpc_security_group_egress_rule" "clients_sftp" {
  for_each = var.source_data.sftp == null ? {} : {
    for pair in setproduct(keys(local.efs_clients), var.source_data.sftp.egress_cidr_blocks) :
    "${pair[0]}-${pair[1]}" => { client = pair[0], cidr = pair[1] }
  }

  security_group_id = local.efs_clients[each.value.client]
  description       = "SFTP to the ${var.name} source server"
  ip_protocol       = "tcp"
  from_port         = var.source_data.sftp.port
  to_port           = var.source_data.sftp.port
  cidr_ipv4         = each.value.cidr
  tags              = local.tags
}
