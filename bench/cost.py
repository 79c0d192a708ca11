"""What a month of a given load would cost on AWS, from the requests the benchmark counted.

Pure arithmetic. The prices are AWS's public on-demand list prices for us-east-1 as the author
knew them (AWS pricing pages for Lambda, DynamoDB, S3, SNS, SQS and CloudWatch, as of 2025,
after DynamoDB's November 2024 on-demand price cut), without free tiers. They were not fetched
at run time: check them before quoting a figure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Prices:
    """US dollars, us-east-1, on demand."""

    as_of: str = "2025 (AWS's public pricing pages; DynamoDB on demand since 2024-11-01)"
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667  # x86
    dynamodb_per_million_write_units: float = 0.625  # on-demand, since Nov 2024
    dynamodb_per_million_read_units: float = 0.125  # on-demand; a strongly consistent read
    s3_per_thousand_puts: float = 0.005  # PUT, COPY, POST, LIST (Standard)
    s3_per_thousand_gets: float = 0.0004  # GET, SELECT and all others (HEAD too)
    sns_per_million_publishes: float = 0.50  # each 64 KB chunk of a request counts as one
    sqs_per_million_requests: float = 0.40  # standard queue; SNS deliveries into it count
    logs_per_gb_ingested: float = 0.50  # CloudWatch Logs, standard class

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


@dataclass(frozen=True)
class PerFile:
    """What one uploaded file causes, in billable units."""

    s3_puts: float
    s3_gets: float
    write_units: float
    read_units: float
    lambda_requests: float
    lambda_gb_seconds: float
    sns_publishes: float
    sqs_requests: float
    log_bytes: float

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 6) for key, value in asdict(self).items()}


def gb_seconds(billed_ms: list[int], memory_mb: int) -> float:
    """Lambda's duration charge units for these invocations: billed time times memory."""
    return sum(billed_ms) / 1000 * memory_mb / 1024


def publish_requests(alerts: int, batched: bool) -> int:
    """SNS requests for `alerts` messages: ten a PublishBatch (well under 64 KB), or one each."""
    return math.ceil(alerts / 10) if batched else alerts


def monthly(
    per_file: PerFile, files_per_day: int, prices: Prices, days: int = 30
) -> dict[str, float]:
    """Dollars a month by service, and the total."""
    files = files_per_day * days
    lines = {
        "lambda": files
        * (
            per_file.lambda_requests * prices.lambda_per_million_requests / 1e6
            + per_file.lambda_gb_seconds * prices.lambda_per_gb_second
        ),
        "dynamodb": files
        * (
            per_file.write_units * prices.dynamodb_per_million_write_units / 1e6
            + per_file.read_units * prices.dynamodb_per_million_read_units / 1e6
        ),
        "s3": files
        * (
            per_file.s3_puts * prices.s3_per_thousand_puts / 1e3
            + per_file.s3_gets * prices.s3_per_thousand_gets / 1e3
        ),
        "sns": files * per_file.sns_publishes * prices.sns_per_million_publishes / 1e6,
        "sqs": files * per_file.sqs_requests * prices.sqs_per_million_requests / 1e6,
        "logs": files * per_file.log_bytes / 1e9 * prices.logs_per_gb_ingested,
    }
    lines["total"] = sum(lines.values())
    return {key: round(value, 2) for key, value in lines.items()}
