"""Publishing out-of-stock alerts to the SNS topic."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inventory.stock import Alert

PUBLISH_BATCH_SIZE = 10  # PublishBatch's limit
SUBJECT = "Out of stock"  # SNS subjects must be plain ASCII; store names may not be


class PublishFailed(Exception):
    """Not every alert was published. `published`: how many were, each handed to `on_sent`.
    The rest were refused, not yet tried, or (a request that errored) of unknown fate."""

    def __init__(self, reason: str, published: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.published = published


class AlertTopic:
    """The NoStock topic of one stack."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, alerts: Sequence[Alert], on_sent: Callable[[list[Alert]], None]) -> None:
        """Publish `alerts` in order, ten a request, handing each request's accepted alerts to
        `on_sent` before the next request goes out.

        Raises:
            PublishFailed: at the first request that failed, or had an entry refused; its
                accepted entries were handed to `on_sent` first.
        """
        published = 0
        for start in range(0, len(alerts), PUBLISH_BATCH_SIZE):
            chunk = alerts[start : start + PUBLISH_BATCH_SIZE]
            try:
                response = self._sns.publish_batch(
                    TopicArn=self._topic_arn,
                    PublishBatchRequestEntries=[
                        _entry(str(offset), alert) for offset, alert in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                raise PublishFailed(str(error), published) from error
            accepted = [chunk[int(entry["Id"])] for entry in response.get("Successful", [])]
            if accepted:
                on_sent(accepted)
                published += len(accepted)
            failed = response.get("Failed", [])
            if failed:
                first = min(failed, key=lambda entry: int(entry["Id"]))
                raise PublishFailed(f"{first.get('Code')}: {first.get('Message')}", published)


def _entry(entry_id: str, alert: Alert) -> dict[str, Any]:
    document = alert.document()
    sentence = alert.sentence()
    return {
        "Id": entry_id,
        "Subject": SUBJECT,
        # One message, a rendering per protocol: people read the sentence, programs the JSON.
        "MessageStructure": "json",
        "Message": json.dumps(
            {
                # Protocols not named here (sqs, lambda, email-json, http) get "default".
                "default": document,
                "email": sentence,
                "sms": sentence,
            },
            ensure_ascii=False,
        ),
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value}
            for name, value in alert.attributes().items()
        },
    }
