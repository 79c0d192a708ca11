"""IAM documents of the stack: each function may do exactly what its code calls, on its own
resources. Pure functions of the stack's names, so a unit test can read them."""

from __future__ import annotations

from typing import Any

from provision.stack import LEVEL_INDEX, Stack

# Not an action in AWS's IAM catalogue (so linters call it unknown); see check_stock_policy.
EMULATOR_ONLY_PUBLISH_BATCH = "sns:PublishBatch"

# A traced function's segments reach X-Ray through the daemon Lambda runs, with the function's
# role. X-Ray's actions name no resource, so "*" is the narrowest there is (AWS's managed
# AWSXRayDaemonWriteAccess grants these two on "*" alike).
TRACE_WRITE = {
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}

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
            TRACE_WRITE,
            {
                "Effect": "Allow",
                # GetObjectVersion: the bucket is versioned and an event names its version.
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
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
                # GetObject (HeadObject): whose report is at the key, before writing over it.
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"{stack.bucket_arn(stack.reports_bucket)}/*",
            },
            {
                # HeadObject of a report not yet written must be 404, not 403.
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": stack.bucket_arn(stack.reports_bucket),
            },
            {
                "Effect": "Allow",
                # PutItem: rows of a file older than the newest loaded, written conditionally.
                "Action": ["dynamodb:BatchWriteItem", "dynamodb:PutItem"],
                "Resource": stack.table_arn,
            },
            {
                "Effect": "Allow",
                # Claim a store for a file, and read the claims back when it is loaded.
                "Action": ["dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
                "Resource": stack.snapshots_table_arn,
            },
            {
                "Effect": "Allow",
                # Load again a newer snapshot that this file's batches may have overtaken.
                "Action": ["lambda:InvokeFunction"],
                "Resource": f"{stack.arn('lambda')}:function:{stack.load_function}",
            },
            {
                "Effect": "Allow",
                # The uploads queue's mapping takes S3 events off it for the function.
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": stack.queue_arn(stack.uploads_queue),
            },
            {
                "Effect": "Allow",
                # The next part of a long file goes back to the uploads queue.
                "Action": ["sqs:SendMessage"],
                "Resource": [
                    stack.queue_arn(stack.uploads_queue),
                    stack.queue_arn(stack.load_failures_queue),
                ],
            },
        ],
    }


def uploads_queue_policy(stack: Stack) -> dict[str, Any]:
    """S3 may send the uploads bucket's events to the uploads queue, and only those."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BucketDelivers",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": stack.queue_arn(stack.uploads_queue),
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": stack.bucket_arn(stack.uploads_bucket)},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            }
        ],
    }


def check_stock_policy(stack: Stack) -> dict[str, Any]:
    """Read the table's stream, publish to the topic and note what it sent, hand exhausted
    batches to its queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_logs(stack, stack.check_function),
            TRACE_WRITE,
            *_read_stream(stack),
            {
                "Effect": "Allow",
                # AWS authorises PublishBatch as sns:Publish; MiniStack, enforcing IAM, checks
                # the operation's own name. Naming both keeps one policy for every target.
                "Action": ["sns:Publish", EMULATOR_ONLY_PUBLISH_BATCH],
                "Resource": stack.topic_arn,
            },
            {
                "Effect": "Allow",
                # Look up which alerts an earlier delivery of the batch sent; note new ones.
                "Action": ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
                "Resource": stack.sent_alerts_table_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": stack.queue_arn(stack.alert_failures_queue),
            },
        ],
    }


def _read_stream(stack: Stack) -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            "Resource": f"{stack.table_arn}/stream/*",
        },
        {
            "Effect": "Allow",
            # The event source mapping lists the table's streams; IAM accepts no resource
            # narrower than "*" for ListStreams (it names no stream until it has listed).
            "Action": ["dynamodb:ListStreams"],
            "Resource": "*",
        },
    ]


def track_stock_policy(stack: Stack) -> dict[str, Any]:
    """Read the table's stream, keep the summary and the history (a transaction a store),
    hand exhausted batches to its queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_logs(stack, stack.track_function),
            TRACE_WRITE,
            *_read_stream(stack),
            {
                "Effect": "Allow",
                # TransactWriteItems is authorised as the writes it holds; BatchGetItem reads
                # a store's `~latest` items and BatchWriteItem puts their history points.
                "Action": [
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                "Resource": stack.history_table_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": stack.summary_table_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": stack.queue_arn(stack.track_failures_queue),
            },
        ],
    }


def stock_tracking_read_statements(stack: Stack) -> list[dict[str, Any]]:
    """What a reader of the dashboard's figures needs: the summary (Scan), the history
    (Query; BatchGetItem for a page's forecasts), and the inventory table's `by_level` index
    (Query)."""
    return [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Scan", "dynamodb:GetItem"],
            "Resource": stack.summary_table_arn,
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
            "Resource": stack.history_table_arn,
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": f"{stack.table_arn}/index/{LEVEL_INDEX}",
        },
    ]


def tls_only_bucket_policy(stack: Stack, bucket: str) -> dict[str, Any]:
    """Refuse any request to the bucket that does not come over TLS."""
    arn = stack.bucket_arn(bucket)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def alerts_queue_policy(stack: Stack) -> dict[str, Any]:
    """Let the stack's topic, and only it, deliver into the alerts queue."""
    return topic_delivery_policy(stack, stack.alerts_queue)


def topic_delivery_policy(stack: Stack, queue: str) -> dict[str, Any]:
    """Let the stack's topic, and only it, deliver into `queue`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicDelivers",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": stack.queue_arn(queue),
                "Condition": {"ArnEquals": {"aws:SourceArn": stack.topic_arn}},
            }
        ],
    }
