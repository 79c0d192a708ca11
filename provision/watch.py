"""python -m provision.watch [--stack NAME]: redeploy a function's code as soon as a file
under lambdas/ changes. Ctrl-C stops it.

Each change rebuilds every deployed function's zip with the provisioner's own packaging
(provision.packaging), which gives the same bytes for the same sources; only a function whose
zip hash differs from the one Lambda reports is updated. A change to the shared `inventory`
package so updates all of them, a change to one handler only its function. Configuration
(memory, environment, role) is left to `make up`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from provision import deploy, packaging
from provision.aws import Aws, ignore_missing, wait_until
from provision.packaging import PackagingError
from provision.stack import DEFAULT_STACK

# How often the tree is looked at: a change is seen within this, well inside the 2 s a
# redeploy may take from the save.
POLL_SECONDS = 0.2
# An editor's save may be several writes (a temporary file, a rename): the tree must hold
# still this long before it is packaged, so one save is one deployment.
SETTLE_SECONDS = 0.1

DEPLOY_TIMEOUT = 60.0  # an update takes under a second on an emulator, seconds on AWS

Snapshot = dict[Path, tuple[int, int]]  # file -> (mtime in ns, size)


def snapshot(root: Path) -> Snapshot:
    """Every source file under `root`, with what changes when it is saved."""
    files: Snapshot = {}
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed while the tree was walked; the next look sees it gone
        files[path] = (stat.st_mtime_ns, stat.st_size)
    return files


def changed_files(before: Snapshot, after: Snapshot) -> list[Path]:
    """The files added, removed or saved between two snapshots, in name order."""
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


@dataclass
class Redeployer:
    """The deployed functions of one stack, and the code hash each has in Lambda."""

    aws: Aws
    functions: dict[str, str]  # folder under lambdas/ -> Lambda name
    deployed: dict[str, str] = field(default_factory=dict)  # folder -> CodeSha256

    def discover(self) -> None:
        """Read what Lambda runs now; functions the stack does not have are left out."""
        for source, name in list(self.functions.items()):
            sha = self._code_sha256(name)
            if sha is None:
                del self.functions[source]
            else:
                self.deployed[source] = sha

    def _code_sha256(self, name: str) -> str | None:
        found = ignore_missing(
            lambda: self.aws.lambda_.get_function(FunctionName=name), "ResourceNotFoundException"
        )
        return None if found is None else str(found["Configuration"]["CodeSha256"])

    def redeploy_changed(self, sources: list[str] | None = None) -> list[str]:
        """Update each function (of `sources`, else all) whose zip differs from what Lambda
        runs; the folders updated. The functions are updated side by side: a change to the
        shared package then takes about as long as a change to one handler."""
        chosen = sources if sources is not None else list(self.functions)
        if not chosen:
            return []
        with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            results = list(pool.map(self._redeploy, chosen))
        return [source for source, updated in zip(chosen, results, strict=True) if updated]

    def _redeploy(self, source: str) -> bool:
        name = self.functions[source]
        package = packaging.build_zip(source)
        sha = packaging.code_sha256(package)
        if sha == self.deployed.get(source):
            return False
        self.aws.lambda_.update_function_code(FunctionName=name, ZipFile=package)
        self._wait_deployed(name)
        self.deployed[source] = sha
        return True

    def _wait_deployed(self, name: str) -> None:
        """Until invocations run the new code. (Lambda's waiter sleeps a whole second
        between looks, which would be most of the time a redeploy takes on an emulator.)"""

        def status() -> str:
            configuration = self.aws.lambda_.get_function_configuration(FunctionName=name)
            return str(configuration.get("LastUpdateStatus") or "Successful")

        wait_until(lambda: status() != "InProgress", DEPLOY_TIMEOUT, f"{name}'s new code")
        if status() == "Failed":
            raise PackagingError(f"Lambda could not deploy the new code of {name}")


def affected_functions(changed: list[Path], root: Path, functions: list[str]) -> list[str]:
    """The functions whose zip a change can alter: its own folder's function, or all of them
    for anything else (the shared package, the pinned requirements)."""
    folders = {path.relative_to(root).parts[0] for path in changed if path.is_relative_to(root)}
    if folders <= set(functions):
        return [function for function in functions if function in folders]
    return list(functions)


def watch(
    redeployer: Redeployer,
    root: Path,
    output: TextIO,
    keep_going: Callable[[], bool] = lambda: True,
    seen: Snapshot | None = None,
) -> None:
    """Redeploy after each change under `root` since `seen` (default: now) until
    `keep_going()` is false (or Ctrl-C)."""
    seen = snapshot(root) if seen is None else seen
    while keep_going():
        time.sleep(POLL_SECONDS)
        now = snapshot(root)
        if now == seen:
            continue
        while True:  # until the save is over
            time.sleep(SETTLE_SECONDS)
            settled = snapshot(root)
            if settled == now:
                break
            now = settled
        changed, seen = changed_files(seen, now), now
        saved_at = max((now[path][0] for path in changed if path in now), default=time.time_ns())
        names = ", ".join(str(path.relative_to(root.parent)) for path in changed)
        try:
            updated = redeployer.redeploy_changed(
                affected_functions(changed, root, list(redeployer.functions))
            )
        except (PackagingError, ClientError, BotoCoreError, TimeoutError) as error:
            print(f"{names} changed: not deployed: {error}", file=output, flush=True)
            continue
        if not updated:
            print(f"{names} changed: no function's code differs", file=output, flush=True)
            continue
        seconds = (time.time_ns() - saved_at) / 1e9
        for source in updated:
            print(
                f"updated {source} ({redeployer.functions[source]}) {seconds:.1f} s after "
                f"{names} was saved",
                file=output,
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision.watch", description=__doc__)
    parser.add_argument("--stack", default=DEFAULT_STACK)
    args = parser.parse_args(argv)
    try:
        aws = deploy.connect()
        stack = deploy.locate(aws, args.stack)
        redeployer = Redeployer(aws, deploy.function_names(stack))
        redeployer.discover()
        if not redeployer.functions:
            print(f"error: stack {stack.name!r} has no functions here; run `make up` first",
                  file=sys.stderr)  # fmt: skip
            return 1
        # The tree as it is before the first deployment: a save from then on is a change.
        seen = snapshot(packaging.LAMBDAS)
        # A change made while the watch was off is deployed first, so what runs is what is here.
        for source in redeployer.redeploy_changed():
            print(f"updated {source} ({redeployer.functions[source]}): it ran older code",
                  flush=True)  # fmt: skip
        target = deploy.target_name(aws, stack)
        print(
            f"watching {packaging.LAMBDAS} for {', '.join(redeployer.functions)} on {target} "
            "(Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        watch(redeployer, packaging.LAMBDAS, sys.stdout, seen=seen)
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
        return 0
    except (ClientError, BotoCoreError, PackagingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
