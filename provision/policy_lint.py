"""Lint the stack's IAM documents with parliament (Duo Labs): `python -m provision.policy_lint`.

Exits non-zero on any finding, except the one the policies explain themselves: the emulator's
name for PublishBatch, which AWS's catalogue does not know.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import parliament

from provision import dashboard, dashboard_site, policies
from provision.stack import Stack

# An example stack: the documents differ between stacks only in names.
EXAMPLE = Stack("inventory", "123456789012", "eu-west-1")
DASHBOARD = dashboard.Names(EXAMPLE)
EXPLAINED = {("UNKNOWN_ACTION", f"Unknown action {policies.EMULATOR_ONLY_PUBLISH_BATCH}")}


def documents() -> dict[str, dict[str, Any]]:
    """Every permissions document the stack creates (trust policies name no resource by
    design, so they are not linted as permissions)."""
    return {
        "load_inventory role": policies.load_inventory_policy(EXAMPLE),
        "check_stock role": policies.check_stock_policy(EXAMPLE),
        "track_stock role": policies.track_stock_policy(EXAMPLE),
        "alerts queue": policies.alerts_queue_policy(EXAMPLE),
        "uploads bucket": policies.tls_only_bucket_policy(EXAMPLE, EXAMPLE.uploads_bucket),
        "inventory_api role": dashboard.inventory_api_policy(EXAMPLE, DASHBOARD),
        "dashboard site bucket": dashboard_site.site_policy(EXAMPLE, DASHBOARD.site_bucket),
    }


def findings() -> list[str]:
    problems = []
    for name, document in documents().items():
        analysed = parliament.analyze_policy_string(
            json.dumps(document), include_community_auditors=True
        )
        for finding in analysed.findings:
            if (finding.issue, str(finding.detail)) not in EXPLAINED:
                problems.append(f"{name}: {finding.issue}: {finding.detail}")
    return problems


def main() -> int:
    problems = findings()
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"parliament: {len(documents())} policies, {len(problems)} finding(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
