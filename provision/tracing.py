"""X-Ray tracing of the functions: active everywhere, recorded only where there is an X-Ray.

With `TracingConfig` Active, Lambda samples invocations and hands each function a trace id and
an X-Ray daemon; the handlers' Powertools Tracer records the invocation and every AWS call in
it (it patches botocore). Its role may send segments (policies.TRACE_WRITE).

An emulator has no X-Ray (neither MiniStack nor LocalStack's community image). MiniStack
1.5.33 accepts the setting and sets `LAMBDA_TASK_ROOT` and a trace id, so Powertools takes it
for Lambda: the functions run fine, patching botocore and sending each segment over UDP to a
daemon nobody runs; where no trace id is set (its Docker executor), the X-Ray SDK prints a
"discarded" line per call instead. So there the functions get POWERTOOLS_TRACE_DISABLED and
Tracer is a no-op: no patching, no segments. The setting itself stays, so the emulator is given
the configuration AWS is (and keeps it: provisioning twice changes nothing there either).
"""

from __future__ import annotations

TRACING_CONFIG = {"Mode": "Active"}
DISABLED = "POWERTOOLS_TRACE_DISABLED"


def environment(endpoint_url: str | None) -> dict[str, str]:
    """What a function's environment adds for tracing on the target at `endpoint_url` (an
    emulator's address; None for AWS itself): the switch that turns Tracer off, where no X-Ray
    would receive its segments."""
    return {DISABLED: "true"} if endpoint_url else {}
