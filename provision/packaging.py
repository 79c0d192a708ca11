"""Function zips: the handler, the shared `inventory` package and the vendored dependencies.

Dependencies are copied from this virtualenv's installed distributions (pinned in
lambdas/requirements.txt), so building needs no network. Entries are sorted and timestamped
alike, so the same sources give the same bytes and the same CodeSha256: that is how
provisioning knows whether code changed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from provision.functions import FunctionSpec

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
REQUIREMENTS = LAMBDAS / "requirements.txt"
SHARED_PACKAGE = "inventory"
HANDLER = "handler.lambda_handler"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")
# Distributions whose compiled module only speeds up a pure-Python implementation they fall
# back to when it does not import. The venv may hold their platform wheel (pip prefers
# wrapt's cp311 x86_64 wheel to its py3-none-any one of the same version, and testcontainers
# needs wrapt too), so only their Python files are vendored: the zip then runs the same
# Python code on Lambda's x86_64 and arm64 alike, never a machine code built for one of them.
PYTHON_FALLBACK = frozenset({"wrapt"})
_COMPILED = (".so", ".pyd", ".c")


class PackagingError(Exception):
    """A function cannot be packaged (a dependency is missing, of another version, or not
    pure Python)."""


def build_zip(function: str) -> bytes:
    """The deployment package of `function` (a folder name under lambdas/)."""
    handler = LAMBDAS / function / "handler.py"
    if not handler.is_file():
        raise PackagingError(f"no handler at {handler}")
    entries: dict[str, bytes] = {"handler.py": handler.read_bytes()}
    for path in sorted((LAMBDAS / SHARED_PACKAGE).rglob("*.py")):
        entries[path.relative_to(LAMBDAS).as_posix()] = path.read_bytes()
    for name, data in vendored_files():
        entries[name] = data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """The hash Lambda reports as CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode("ascii")


def function_spec(
    name: str,
    package: bytes,
    role_arn: str,
    runtime: str,
    timeout: int,
    memory_mb: int,
    environment: dict[str, str],
) -> FunctionSpec:
    """A function of this layout (`handler.py` with `lambda_handler` at the zip's root) from
    its zip, with the hash provisioning compares to know whether the code changed."""
    return FunctionSpec(
        name=name,
        role_arn=role_arn,
        package=package,
        code_sha256=code_sha256(package),
        handler=HANDLER,
        runtime=runtime,
        timeout=timeout,
        memory_mb=memory_mb,
        environment=environment,
    )


def pinned_requirements() -> list[tuple[str, str]]:
    """(name, version) of each line of lambdas/requirements.txt."""
    pins = []
    for line in REQUIREMENTS.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins.append((match.group(1), match.group(2)))
        elif line.strip() and not line.lstrip().startswith("#"):
            raise PackagingError(f"{REQUIREMENTS.name}: pin every dependency with ==: {line!r}")
    return pins


def vendored_files() -> Iterator[tuple[str, bytes]]:
    """Every importable file of the pinned distributions, by its path in the zip."""
    for name, version in pinned_requirements():
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise PackagingError(f"{name} is not installed: run `make venv`") from None
        if distribution.version != version:
            raise PackagingError(
                f"{name} {distribution.version} is installed but {version} is pinned"
            )
        wheel = distribution.read_text("WHEEL") or ""
        fallback = name.lower() in PYTHON_FALLBACK
        if "Root-Is-Purelib: true" not in wheel and not fallback:
            raise PackagingError(f"{name} is not pure Python; it would need a Linux build")
        for file in distribution.files or []:
            path = file.as_posix()
            if path.startswith("..") or "__pycache__" in path or path.endswith(".pyc"):
                continue  # console scripts and bytecode: not importable code
            if path.endswith(_COMPILED):
                if fallback:
                    continue  # its Python implementation serves instead
                raise PackagingError(f"{name} holds compiled code ({path})")
            yield path, Path(str(file.locate())).read_bytes()
