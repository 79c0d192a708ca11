"""Upload the files in sample-data/ to a stack and print their reports and the alerts.

python -m provision.demo [--stack NAME]   (endpoint from AWS_ENDPOINT_URL, as provisioning)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from provision import deploy
from provision.stack import DEFAULT_STACK
from provision.uploads import upload_and_wait_for_report

SAMPLES = Path(__file__).resolve().parent.parent / "sample-data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision.demo")
    parser.add_argument("--stack", default=DEFAULT_STACK)
    args = parser.parse_args(argv)
    aws = deploy.connect()
    try:
        out = deploy.outputs(aws, deploy.locate(aws, args.stack))
    except deploy.StackNotFound as error:
        print(f"error: {error}; run `make up` first", file=sys.stderr)
        return 1
    sqs = aws.sqs
    for path in sorted(SAMPLES.iterdir()):
        report = upload_and_wait_for_report(aws, out, f"demo/{path.name}", path.read_bytes())
        print(
            f"{path.name:24} {report['status']:24} loaded {report['rows_loaded']}, "
            f"rejected {report['rows_rejected']}"
        )
        for row in report["rejected_rows"]:
            print(f"    line {row['line']}: {row['reason']}")
        for row in report["duplicate_rows"]:
            print(
                f"    line {row['line']}: repeats line {row['replaces_line']}; the later row wins"
            )
        if report["file_error"]:
            print(f"    {report['file_error']['reason']}")
    print("\nalerts (waiting until none arrives for 3 s):")
    received = 0
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 3:
        response = sqs.receive_message(
            QueueUrl=out["alerts_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            alert = json.loads(message["Body"])
            print(f"    {alert['store']} is out of stock of {alert['item']}")
            sqs.delete_message(
                QueueUrl=out["alerts_queue_url"], ReceiptHandle=message["ReceiptHandle"]
            )
            received += 1
            quiet_since = time.monotonic()
    if not received:
        print("    none: items already at 0 alert only once (upload a count above 0 first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
