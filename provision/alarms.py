"""CloudWatch alarms on what an operator must hear about: a function's errors, an event parked
in a failure queue, the stream's alerts falling behind, and the dashboard API's 5xx.

`alarm_specs` describes them as data (tested without AWS), which provision.description makes
resources of: the planner finds each by name and compares it, an alarm the stack no longer
has is deleted, and destroy removes them all. With `--alarm-email`, each alarm also notifies
the operators' topic `<stack>-alarms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provision.aws import Aws, Changes
from provision.stack import Stack

# Alerts more than this far behind the table's changes: the stream consumer is falling behind.
ITERATOR_AGE_LIMIT_MS = 60_000


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, Any], ...]  # a value may be a reference (description.Ref)
    statistic: str  # Sum or Maximum
    threshold: float
    period_seconds: int = 60
    evaluation_periods: int = 1

    def request(self, actions: list[str]) -> dict[str, Any]:
        """PutMetricAlarm's parameters: above the threshold for every evaluated period;
        no data (nothing happened) is fine."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period_seconds,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": actions,
            "OKActions": actions,
        }


def alarms_topic(stack: Stack) -> str:
    return f"{stack.name}-alarms"


def alarm_specs(
    stack: Stack, functions: list[str], stream_function: str, api_id: Any
) -> list[AlarmSpec]:
    """The stack's alarms: `functions` (Lambda names) erring, any message in a failure queue,
    `stream_function`'s iterator age, and the HTTP API `api_id`'s 5xx (if it has one)."""
    specs = [
        AlarmSpec(
            name=f"{function}-errors",
            description=f"{function} failed an invocation: see `make logs FN=...`",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=(("FunctionName", function),),
            statistic="Sum",
            threshold=0,
        )
        for function in functions
    ]
    specs += [
        AlarmSpec(
            name=f"{queue}-waiting",
            description=f"an event gave up its retries and waits in {queue}: fix the cause, "
            "then replay it",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions=(("QueueName", queue),),
            statistic="Maximum",
            threshold=0,
            period_seconds=300,
        )
        for queue in (
            stack.load_failures_queue,
            stack.alert_failures_queue,
            stack.track_failures_queue,
        )
    ]
    specs.append(
        AlarmSpec(
            name=f"{stream_function}-falling-behind",
            description="alerts are more than a minute behind the table's changes",
            namespace="AWS/Lambda",
            metric="IteratorAge",
            dimensions=(("FunctionName", stream_function),),
            statistic="Maximum",
            threshold=ITERATOR_AGE_LIMIT_MS,
            evaluation_periods=5,
        )
    )
    if api_id is not None:
        specs.append(
            AlarmSpec(
                name=f"{stack.name}-dashboard-5xx",
                description="the dashboard's API answered with server errors",
                namespace="AWS/ApiGateway",
                metric="5xx",
                dimensions=(("ApiId", api_id), ("Stage", "$default")),
                statistic="Sum",
                threshold=0,
            )
        )
    return specs


def delete_alarm(aws: Aws, name: str, changes: Changes) -> None:
    aws.client("cloudwatch").delete_alarms(AlarmNames=[name])
    changes.record("deleted", "alarm", name)


def possible_alarm_names(stack: Stack, functions: list[str], dashboard: bool = True) -> list[str]:
    """Every alarm name the stack can have (`functions`: all it may deploy; the API's if
    `dashboard`). Looked up by name, not by prefix: another stack's name may begin with this
    one's."""
    api_id = "any" if dashboard else None
    return [spec.name for spec in alarm_specs(stack, functions, stack.check_function, api_id)]


def stack_alarms(aws: Aws, names: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
        response = aws.client("cloudwatch").describe_alarms(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"]
        )
        found += response.get("MetricAlarms", [])
    return found
