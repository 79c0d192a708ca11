"""IAM documents of the stack: each function may do exactly what its code calls, on its own
resources. Pure functions of the stack's names, so a unit test can read them."""

from __future__ import annotations

from typing import Any

from provision.stack import Stack

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _logs(stack: Stack, function_name: str) -> list[dict[str, Any]]:
    log_group = f"{stack.arn('logs')}:log-group:/aws/lambda/{function_name}"
    return [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": f"{log_group}:*"},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group}:log-stream:*",
        },
    ]


def load_inventory_policy(stack: Stack) -> dict[str, Any]:
    """Read uploads, write reports, write rows, and hand failed events to its failure queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_logs(stack, stack.load_function),
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"{stack.bucket_arn(stack.uploads_bucket)}/*",
            },
            {
                # Without it, GetObject on a deleted key is 403 AccessDenied, not 404 NoSuchKey,
                # and the "deleted before it was read" report becomes a retried failure.
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": stack.bucket_arn(stack.uploads_bucket),
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": f"{stack.bucket_arn(stack.reports_bucket)}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["dynamodb:BatchWriteItem"],
                "Resource": stack.table_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": stack.queue_arn(stack.load_failures_queue),
            },
        ],
    }


def check_stock_policy(stack: Stack) -> dict[str, Any]:
    """Read the table's stream, publish to the topic, hand exhausted batches to its queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_logs(stack, stack.check_function),
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                "Resource": f"{stack.table_arn}/stream/*",
            },
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": stack.topic_arn},
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": stack.queue_arn(stack.alert_failures_queue),
            },
        ],
    }


def alerts_queue_policy(stack: Stack) -> dict[str, Any]:
    """Let the stack's topic, and only it, deliver into the alerts queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicDelivers",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": stack.queue_arn(stack.alerts_queue),
                "Condition": {"ArnEquals": {"aws:SourceArn": stack.topic_arn}},
            }
        ],
    }
