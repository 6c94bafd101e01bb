output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "VPC CIDR block (a tight `egress_cidr_blocks` for the batch-pipeline module when interface endpoints serve ECR, logs and STS)."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet ids, one per AZ: the batch-pipeline module's `network.subnet_ids`."
  value       = aws_subnet.private[*].id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint: the batch-pipeline module's `network.s3_prefix_list_id`."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "nat_gateway_id" {
  description = "NAT gateway id (null without vpc.nat_gateway)."
  value       = try(aws_nat_gateway.this[0].id, null)
}

output "batch_pipeline_network" {
  description = "The batch-pipeline module's `network` input, ready to pass: jobs reach only the VPC (endpoints) and S3, or anywhere on 443 with the NAT."
  value = {
    vpc_id             = aws_vpc.this.id
    subnet_ids         = aws_subnet.private[*].id
    egress_cidr_blocks = var.vpc.nat_gateway ? ["0.0.0.0/0"] : [aws_vpc.this.cidr_block]
    s3_prefix_list_id  = aws_vpc_endpoint.s3.prefix_list_id
  }
}
