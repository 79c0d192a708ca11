"""Function zips: reproducible, complete, and importable with only what the Lambda runtime has."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from provision import packaging
from provision.packaging import PackagingError, build_zip, code_sha256, pinned_requirements

FUNCTIONS = ["load_inventory", "check_stock", "track_stock", "inventory_api"]
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"

# What the Lambda Python runtime puts beside a function: boto3 and its dependencies.
RUNTIME_PROVIDED = ["boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3"]


@pytest.fixture(scope="module")
def zips() -> dict[str, bytes]:
    return {function: build_zip(function) for function in FUNCTIONS}


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only the libraries the Lambda runtime provides, linked from the venv."""
    folder = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"{name} is not installed"
        assert spec.origin, f"{name} has no file"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return folder


def names_in(package: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(package)).namelist()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_build_zip_gives_the_same_bytes_and_hash_every_time(zips, function):
    # given
    first = zips[function]

    # when
    second = build_zip(function)

    # then
    assert second == first
    assert code_sha256(second) == code_sha256(first)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_zip_entries_carry_a_fixed_time_and_sorted_names(zips, function):
    # given
    archive = zipfile.ZipFile(io.BytesIO(zips[function]))

    # when
    infos = archive.infolist()

    # then
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)


def test_code_sha256_is_the_base64_sha256_lambda_reports(zips):
    # given
    package = zips["check_stock"]

    # when
    digest = code_sha256(package)

    # then
    assert digest == base64.b64encode(hashlib.sha256(package).digest()).decode("ascii")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_zip_holds_the_handler_the_shared_package_and_the_vendored_dependencies(zips, function):
    # given
    package = zips[function]

    # when
    names = names_in(package)

    # then
    archive = zipfile.ZipFile(io.BytesIO(package))
    assert archive.read("handler.py") == (LAMBDAS / function / "handler.py").read_bytes()
    shared = sorted(
        path.relative_to(LAMBDAS).as_posix() for path in (LAMBDAS / "inventory").rglob("*.py")
    )
    assert set(shared) <= set(names)
    assert "inventory/adapters/table.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert "aws_lambda_powertools/logging/logger.py" in names
    assert "typing_extensions.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.startswith(("boto3/", "botocore/", "/", ".."))]


def test_the_two_zips_differ_only_by_their_handler(zips):
    # given
    loader, checker = (zipfile.ZipFile(io.BytesIO(zips[f])) for f in FUNCTIONS[:2])

    # when
    different = [
        name
        for name in loader.namelist()
        if name not in checker.namelist() or loader.read(name) != checker.read(name)
    ]

    # then
    assert different == ["handler.py"]
    assert loader.namelist() == checker.namelist()


# Run in `python -I -S`: no site-packages, no PYTHON* variables, no user site; the function's
# zip and the runtime's libraries are all there is besides the standard library.
_IMPORT_CHECK = textwrap.dedent(
    """
    import json, sys
    package, runtime = sys.argv[1], sys.argv[2]
    stdlib = tuple(p for p in sys.path if p and "site-packages" not in p)
    sys.path[:] = [package, runtime, *stdlib]

    import handler

    def foreign(path):
        if path.startswith((package + "/", runtime + "/")):
            return False
        return "site-packages" in path or not path.startswith(stdlib)

    print(json.dumps({
        "callable": callable(handler.lambda_handler),
        "handler_file": handler.__file__,
        "powertools_file": sys.modules["aws_lambda_powertools"].__file__,
        "inventory_file": sys.modules["inventory"].__file__,
        "boto3_file": sys.modules["boto3"].__file__,
        "foreign": sorted(
            f"{name}: {module.__file__}"
            for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) and foreign(module.__file__)
        ),
    }))
    """
)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_zip_imports_in_a_clean_interpreter_with_only_the_runtime_libraries(
    zips, runtime_dir, tmp_path, function
):
    # given: the zip on disk, and no TABLE_NAME, REPORTS_BUCKET or TOPIC_ARN in the environment
    package = tmp_path / f"{function}.zip"
    package.write_bytes(zips[function])

    # when
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT_CHECK, str(package), str(runtime_dir)],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )

    # then
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["callable"] is True
    assert result["handler_file"] == f"{package}/handler.py"
    assert result["powertools_file"].startswith(f"{package}/")
    assert result["inventory_file"].startswith(f"{package}/")
    assert result["boto3_file"].startswith(f"{runtime_dir}/")
    assert result["foreign"] == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_zip_holds_the_tracing_sdk_and_no_compiled_code_so_it_runs_on_x86_64_and_arm64(
    zips, function
):
    # given
    package = zips[function]

    # when
    names = names_in(package)

    # then the X-Ray SDK and wrapt's Python implementation, never a platform's machine code
    assert "aws_xray_sdk/core/recorder.py" in names
    assert "wrapt/wrappers.py" in names
    assert [name for name in names if name.endswith((".so", ".pyd", ".c"))] == []


# A handler run as Lambda runs it with active tracing (LAMBDA_TASK_ROOT, a sampled trace id),
# from its zip in a clean interpreter: what X-Ray would receive is kept in a list instead of
# sent to a daemon, and every AWS call fails before it leaves (no network in unit tests).
_TRACED_RUN = textwrap.dedent(
    """
    import json, sys
    package, runtime, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    stdlib = tuple(p for p in sys.path if p and "site-packages" not in p)
    sys.path[:] = [package, runtime, *stdlib]

    import boto3
    import botocore.client

    class Offline(Exception):
        pass

    def offline(**_):
        raise Offline("no AWS in unit tests")

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send", offline)

    import handler
    from aws_xray_sdk.core import xray_recorder

    class Emitter:
        def __init__(self):
            self.sent = []

        def send_entity(self, entity):
            self.sent.append(json.loads(entity.serialize()))

        def set_daemon_address(self, address):
            pass

    emitter = Emitter()
    xray_recorder.configure(emitter=emitter)

    class Context:
        function_name = "inventory-function"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inventory-function"
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

        def get_remaining_time_in_millis(self):
            return 60_000

    try:
        answer = handler.lambda_handler(event, Context())
        outcome = answer.get("statusCode", "answered")
    except Exception as error:
        outcome = type(error).__name__
    print(json.dumps({
        "outcome": outcome,
        "sent": emitter.sent,
        "botocore_call": type(vars(botocore.client.BaseClient)["_make_api_call"]).__name__,
        "wrapt_compiled": sys.modules["wrapt"].__wrapt__._using_c_extension,
    }))
    """
)
TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
PARENT_ID = "53995c3f42cd8ad8"
EVENTS = Path(__file__).resolve().parents[1] / "events"
SIGNED_IN = {"requestContext": {"authorizer": {"jwt": {"claims": {"token_use": "access"}}}}}
# Per function: an event that reaches an AWS call, the service called, and what the handler
# does when the call fails (raises, so Lambda retries; the API answers 500).
TRACED = {
    "load_inventory": (json.loads((EVENTS / "s3_put.json").read_text()), "s3", "Offline"),
    "check_stock": (
        json.loads((EVENTS / "stream_modify_5_to_0.json").read_text()),
        "dynamodb",
        "Offline",
    ),
    "track_stock": (
        json.loads((EVENTS / "stream_modify_5_to_0.json").read_text()),
        "dynamodb",
        "Offline",
    ),
    "inventory_api": ({"routeKey": "GET /summary", **SIGNED_IN}, "dynamodb", 500),
}
FUNCTION_ENVIRONMENT = {
    "TABLE_NAME": "inventory-inventory",
    "SNAPSHOTS_TABLE": "inventory-snapshots",
    "REPORTS_BUCKET": "inventory-reports",
    "SENT_ALERTS_TABLE": "inventory-sent-alerts",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:inventory-alerts",
    "SUMMARY_TABLE": "inventory-summary",
    "HISTORY_TABLE": "inventory-history",
}


def run_traced(package: Path, runtime_dir: Path, function: str, **environment: str) -> Any:
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _TRACED_RUN,
            str(package),
            str(runtime_dir),
            json.dumps(TRACED[function][0]),
        ],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "LAMBDA_TASK_ROOT": "/var/task",
            "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent={PARENT_ID};Sampled=1",
            **FUNCTION_ENVIRONMENT,
            **environment,
        },
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def segments(sent: list[dict[str, Any]], parent: str | None = None) -> list[dict[str, Any]]:
    """Every (sub)segment sent, nested ones too, each with its parent's id."""
    found = []
    for entity in sent:
        entity = {"parent_id": parent, **entity}
        found.append(entity)
        found += segments(entity.get("subsegments", []), entity["id"])
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_traces_its_invocation_and_its_aws_calls_where_lambda_traces(
    zips, runtime_dir, tmp_path, function
):
    # given the zip, run as Lambda runs it with active tracing
    package = tmp_path / f"{function}.zip"
    package.write_bytes(zips[function])
    _, service, outcome = TRACED[function]

    # when
    result = run_traced(package, runtime_dir, function)

    # then the handler is a subsegment of the invocation's trace, and the AWS call one of it
    assert result["outcome"] == outcome
    sent = segments(result["sent"])
    [invocation] = [segment for segment in sent if segment["name"] == "## lambda_handler"]
    assert invocation["trace_id"] == TRACE_ID
    assert invocation["parent_id"] == PARENT_ID
    assert invocation["annotations"] == {"ColdStart": True, "Service": "inventory"}
    recorded = invocation.get("metadata", {}).get("inventory", {})
    assert "lambda_handler response" not in recorded  # the answer is not (capture_response)
    if outcome != 500:  # the handler raised: the trace says what
        assert invocation["fault"] is True
        assert [cause["type"] for cause in invocation["cause"]["exceptions"]] == [outcome]
    calls = [segment for segment in sent if segment.get("namespace") == "aws"]
    assert calls
    assert {call["name"] for call in calls} == {service}
    assert {call["parent_id"] for call in calls} == {invocation["id"]}
    assert result["botocore_call"] == "FunctionWrapper"  # patched by the X-Ray SDK
    assert result["wrapt_compiled"] is False  # the Python implementation, as on arm64


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_traces_nothing_and_works_alike_when_tracing_is_disabled(
    zips, runtime_dir, tmp_path, function
):
    # given the zip, with the switch provisioning sets on an emulator (provision/tracing.py)
    package = tmp_path / f"{function}.zip"
    package.write_bytes(zips[function])

    # when
    result = run_traced(package, runtime_dir, function, POWERTOOLS_TRACE_DISABLED="true")

    # then
    assert result["outcome"] == TRACED[function][2]
    assert result["sent"] == []
    assert result["botocore_call"] == "function"  # not patched


def test_pinned_requirements_are_the_lines_of_lambdas_requirements_txt():
    # given
    lines = (LAMBDAS / "requirements.txt").read_text().splitlines()
    expected = [
        tuple(part.strip() for part in line.split("=="))
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]

    # when
    pins = pinned_requirements()

    # then
    assert pins == expected
    assert ("aws-lambda-powertools", importlib.metadata.version("aws-lambda-powertools")) in pins
    for name, version in pins:
        assert importlib.metadata.version(name) == version


def test_a_pin_of_another_version_than_installed_is_refused(tmp_path, monkeypatch):
    # given
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# test\naws-lambda-powertools==0.0.1\n")
    monkeypatch.setattr(packaging, "REQUIREMENTS", requirements)

    # when
    with pytest.raises(PackagingError) as raised:
        build_zip("check_stock")

    # then
    assert "0.0.1 is pinned" in str(raised.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("aws-lambda-powertools>=3.0", "pin every dependency"),
        ("aws-lambda-powertools", "pin every dependency"),
        ("no-such-distribution-here==1.0", "is not installed"),
        # PyYAML (a compiled wheel, installed for moto) pinned at whatever version is installed.
        (f"pyyaml=={importlib.metadata.version('pyyaml')}", "not pure Python"),
    ],
    ids=["range", "unpinned", "not-installed", "binary-wheel"],
)
def test_a_requirement_that_cannot_be_vendored_is_refused(tmp_path, monkeypatch, line, message):
    # given
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{line}\n")
    monkeypatch.setattr(packaging, "REQUIREMENTS", requirements)

    # when
    with pytest.raises(PackagingError) as raised:
        build_zip("load_inventory")

    # then
    assert message in str(raised.value)


def test_an_unknown_function_is_refused():
    # given
    function = "no_such_function"

    # when
    with pytest.raises(PackagingError) as raised:
        build_zip(function)

    # then
    assert "no handler" in str(raised.value)
