"""Builds, describes and destroys one inventory stack with boto3: `python -m provision --help`."""

import sys
from pathlib import Path

# The functions' pure domain code (lambdas/inventory) states rules provisioning shares, such
# as where an upload's report lives; importing it keeps one statement of each rule.
_LAMBDAS = str(Path(__file__).resolve().parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.append(_LAMBDAS)
