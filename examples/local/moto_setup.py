#!/usr/bin/env python3
"""Create (or find) what examples/local needs to exist beforehand in a moto
server: a VPC with two subnets and a security group, and the IAM roles (Batch
service role, job execution role, job role). Prints them as a tfvars JSON
file:

    python3 examples/local/moto_setup.py --endpoint http://127.0.0.1:5000 > moto.tfvars.json
    terraform test -var endpoint=http://127.0.0.1:5000 -var-file=moto.tfvars.json

moto checks that subnets, security groups and the compute environment's
service role exist (and, unlike AWS, has no default service-linked role);
our provider creates none of these, so this script does. It only talks to
the given endpoint (dummy credentials unless the environment has some).
Idempotent: a second call returns the same ids.
"""
import argparse
import json
import os
import sys

import boto3

TAG = "batch-pipeline-local"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = parser.parse_args()

    ec2 = boto3.client(
        "ec2",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    iam = boto3.client(
        "iam",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    tag_filter = [{"Name": "tag:Name", "Values": [TAG]}]

    vpcs = ec2.describe_vpcs(Filters=tag_filter)["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": TAG}])

    subnets = ec2.describe_subnets(Filters=tag_filter + [{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    subnet_ids = sorted(s["SubnetId"] for s in subnets)
    if not subnet_ids:
        for i, az in enumerate(["a", "b"]):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=f"{args.region}{az}")["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[sid], Tags=[{"Key": "Name", "Value": TAG}])
            subnet_ids.append(sid)

    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [TAG]}, {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    if groups:
        sg_id = groups[0]["GroupId"]
    else:
        sg_id = ec2.create_security_group(GroupName=TAG, Description="batch-pipeline local jobs and EFS", VpcId=vpc_id)["GroupId"]

    roles = {}
    for key, (role_name, service) in {
        "service_role_arn": (f"{TAG}-batch-service", "batch.amazonaws.com"),
        "execution_role_arn": (f"{TAG}-job-execution", "ecs-tasks.amazonaws.com"),
        "job_role_arn": (f"{TAG}-job", "ecs-tasks.amazonaws.com"),
    }.items():
        try:
            roles[key] = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            roles[key] = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    json.dump({"subnet_ids": subnet_ids, "security_group_ids": [sg_id], **roles}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
