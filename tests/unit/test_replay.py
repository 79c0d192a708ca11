"""`python -m provision replay-failed`: the failure queue on moto, the loader a fake that
records each invocation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from provision import replay
from provision.stack import Stack
from tests.unit.fakes import ACCOUNT, REGION, moto_account

STACK = Stack("unit", ACCOUNT, REGION)


def _failure_record(key: str, **extra: Any) -> str:
    """What Lambda puts in an on-failure destination after an event failed every retry."""
    record = {"s3": {"bucket": {"name": STACK.uploads_bucket}, "object": {"key": key}}, **extra}
    return json.dumps(
        {
            "version": "1.0",
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": {"Records": [record]},
            "responsePayload": {"errorMessage": "table unavailable"},
        }
    )


class FakeLambda:
    def __init__(self, fail: bool = False) -> None:
        self.invocations: list[dict[str, Any]] = []
        self.fail = fail

    def invoke(self, **params: Any) -> dict[str, Any]:
        if self.fail:
            raise ClientError({"Error": {"Code": "ServiceException"}}, "Invoke")
        self.invocations.append(params)
        return {"StatusCode": 202}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    with moto_account(monkeypatch) as clients:
        url = clients.sqs.create_queue(QueueName=STACK.load_failures_queue)["QueueUrl"]
        fake = FakeLambda()
        clients._clients["lambda"] = fake
        yield SimpleNamespace(clients=clients, queue_url=url, lambda_=fake)


def _depth(aws: SimpleNamespace) -> int:
    attributes = aws.clients.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_each_failed_event_is_invoked_again_as_it_was_and_leaves_the_queue(aws):
    # given two failed events, one of them a part of a long file, and something else
    first = _failure_record("stores/a.csv")
    second = _failure_record("stores/b.csv", inventoryContinuation={"part": 3, "recordsDone": 8})
    for body in (first, second, "not a failure record"):
        aws.clients.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
    said: list[str] = []

    # when
    replayed = replay.replay_failed_loads(aws.clients, STACK, said.append)

    # then: both original events, unchanged (the part resumes where it stopped), sent to the
    # loader asynchronously, as S3 and Lambda send them; the stranger stays for a person
    assert replayed == 2
    sent = sorted(json.dumps(json.loads(call["Payload"])) for call in aws.lambda_.invocations)
    failed = sorted(json.dumps(json.loads(body)["requestPayload"]) for body in (first, second))
    assert sent == failed
    assert {call["FunctionName"] for call in aws.lambda_.invocations} == {STACK.load_function}
    assert {call["InvocationType"] for call in aws.lambda_.invocations} == {"Event"}
    assert _depth(aws) == 1
    assert any(line.startswith("left in the queue, not a Lambda failure record") for line in said)


def test_an_event_that_cannot_be_invoked_again_stays_in_the_queue(aws):
    # given a failed event, and a loader that cannot be invoked
    aws.clients.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=_failure_record("a.csv"))
    aws.lambda_.fail = True

    # when
    with pytest.raises(ClientError):
        replay.replay_failed_loads(aws.clients, STACK, lambda _: None)

    # then: it is still there, for the next replay
    assert _depth(aws) == 1


def test_a_stack_without_its_failure_queue_is_an_error_naming_the_queue(aws):
    # given
    aws.clients.sqs.delete_queue(QueueUrl=aws.queue_url)

    # when / then
    with pytest.raises(LookupError, match=STACK.load_failures_queue):
        replay.replay_failed_loads(aws.clients, STACK, lambda _: None)


def test_an_event_the_uploads_queue_gave_up_on_is_replayed_as_it_was(aws):
    # given an S3 event whose queued invocations kept dying (the uploads queue's redrive moves
    # the message itself, with no invocation record around it)
    event = {
        "Records": [{"s3": {"bucket": {"name": STACK.uploads_bucket}, "object": {"key": "c"}}}]
    }
    aws.clients.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(event))

    # when
    replayed = replay.replay_failed_loads(aws.clients, STACK, lambda _: None)

    # then
    assert replayed == 1
    [call] = aws.lambda_.invocations
    assert json.loads(call["Payload"]) == event
    assert _depth(aws) == 0
