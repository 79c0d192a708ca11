"""Publishing out-of-stock alerts to the SNS topic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inventory.stock import Alert

PUBLISH_BATCH_SIZE = 10  # PublishBatch's limit
SUBJECT = "Out of stock"  # SNS subjects must be plain ASCII; store names may not be


class PublishFailed(Exception):
    """Alert `first_failed` was not published (those before it were); the caller has it and
    the rest retried. `published`: how many alerts went out in all (entries after a refused
    one in the same request may have)."""

    def __init__(self, first_failed: int, reason: str, published: int) -> None:
        super().__init__(reason)
        self.first_failed = first_failed
        self.reason = reason
        self.published = published

    @property
    def published_any(self) -> bool:
        return self.published > 0


class AlertTopic:
    """The NoStock topic of one stack."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, alerts: Sequence[Alert]) -> None:
        """Publish `alerts` in order, ten a request.

        Raises:
            PublishFailed: with the index of the first alert not published; the ones before
                it were, the ones after it may or may not have been.
        """
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
                raise PublishFailed(start, str(error), published=start) from error
            failed = response.get("Failed", [])
            if failed:
                first = min(failed, key=lambda entry: int(entry["Id"]))
                raise PublishFailed(
                    start + int(first["Id"]),
                    f"{first.get('Code')}: {first.get('Message')}",
                    published=start + len(response.get("Successful", [])),
                )


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
