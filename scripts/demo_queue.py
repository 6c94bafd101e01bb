"""Sets up what make demo DEMO=queue feeds the pipeline from, in moto: the
source bucket, an SQS queue with a dead-letter queue (redrive after
--max-receives receives), and the bucket's event notification sending
ObjectCreated events under --prefix to the queue. That is what
modules/batch-pipeline's `queue_source` makes in AWS (plus its encryption,
queue policy and alarm, which moto does not enforce); examples/local uses
only the provider, which makes none of it.

moto's S3 delivers the notifications to its SQS itself, as S3 does
(runner/tests/queue_run.rs tests that path), including the s3:TestEvent a
new notification configuration sends.

Prints {"queue_url", "queue_arn", "dlq_url"} as JSON.

Usage: demo_queue.py --endpoint URL --bucket B --queue NAME [--prefix incoming/]
                     [--max-receives 3]
"""

import argparse
import json
import os
import sys

import boto3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--queue", required=True, help="queue name; its dead-letter queue is <queue>-dlq")
    p.add_argument("--prefix", default="incoming/")
    p.add_argument("--max-receives", type=int, default=3)
    p.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    a = p.parse_args()
    if not a.endpoint.startswith("http://127.0.0.1:"):
        sys.exit("demo_queue: --endpoint must be a loopback moto server (http://127.0.0.1:PORT)")
    s3 = boto3.client("s3", endpoint_url=a.endpoint, region_name=a.region)
    sqs = boto3.client("sqs", endpoint_url=a.endpoint, region_name=a.region)

    dlq_url = sqs.create_queue(QueueName=f"{a.queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(a.max_receives)}
    queue_url = sqs.create_queue(QueueName=a.queue, Attributes={"RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    s3.create_bucket(Bucket=a.bucket)
    s3.put_bucket_notification_configuration(
        Bucket=a.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{
                "Id": "batch-pipeline-demo",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": a.prefix}]}},
            }]
        },
    )
    print(json.dumps({"queue_url": queue_url, "queue_arn": queue_arn, "dlq_url": dlq_url}))


if __name__ == "__main__":
    main()
