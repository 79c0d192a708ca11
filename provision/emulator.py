"""Start and stop the local emulator the stack is provisioned on.

`python -m provision.emulator start` runs LocalStack through docker compose where a Docker
engine answers, and otherwise MiniStack from this virtualenv as a background process (pid and
log under .run/). EMULATOR=ministack or EMULATOR=localstack chooses explicitly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where `make up` keeps the emulator's pid and log; tests point it elsewhere.
RUN_DIR = Path(os.environ.get("INVENTORY_RUN_DIR", ROOT / ".run"))
DEFAULT_PORT = 4566
HEALTH_PATH = "/_localstack/health"  # both emulators answer here
EMULATORS = ("ministack", "localstack")
# How `make up` runs MiniStack, and so how `make down` recognises it: this virtualenv's Python.
MINISTACK_COMMAND = [sys.executable, "-m", "ministack"]


class EmulatorError(Exception):
    """A sentence for the person at the terminal: what went wrong and what to do."""


def enforce_iam_from_environment() -> bool:
    """ENFORCE_IAM=false runs MiniStack without IAM checks; they are on by default."""
    return os.environ.get("ENFORCE_IAM", "true").strip().lower() not in ("0", "false", "no")


def docker_engine_running() -> bool:
    """True if a Docker engine answers (the `docker` client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def choose(requested: str | None) -> str:
    """The emulator to use: as requested, else LocalStack with Docker, else MiniStack."""
    if requested and requested != "auto":
        if requested not in EMULATORS:
            raise EmulatorError(f"EMULATOR={requested!r}: choose one of {', '.join(EMULATORS)}")
        return requested
    return "localstack" if docker_engine_running() else "ministack"


def healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(
    endpoint: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll the health endpoint until it answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while not healthy(endpoint):
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise EmulatorError(f"the emulator exited with code {process.returncode}\n{tail}")
        if time.monotonic() > deadline:
            raise EmulatorError(f"the emulator at {endpoint} was not healthy after {timeout:.0f}s")
        time.sleep(0.1)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MiniStack:
    """MiniStack as a child process of this virtualenv's interpreter.

    Its Lambda functions run as subprocesses of the same interpreter, which is why boto3 must
    be installed here (the Lambda runtime provides it on AWS, so the zips do not carry it).
    """

    port: int
    workdir: Path
    # AUTH=true: requests are checked against IAM policies, and functions run with their
    # role's credentials, so a missing permission fails here as it would on AWS.
    enforce_iam: bool = True

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "ministack.log"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # MiniStack fills in AWS_ENDPOINT_URL for its functions only when it is not set
        # already; inherited from a shell pointing elsewhere, the functions would call there.
        env.pop("AWS_ENDPOINT_URL", None)
        tmp = self.workdir / "tmp"  # unpacked function code; removed with the workdir
        tmp.mkdir(parents=True, exist_ok=True)
        env.update(
            GATEWAY_PORT=str(self.port),
            BIND_HOST="127.0.0.1",
            TMPDIR=str(tmp),
            AUTH="true" if self.enforce_iam else "false",
            AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        return env

    def spawn(self) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            return subprocess.Popen(
                MINISTACK_COMMAND,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the terminal; `make down` stops it
            )


def stop_process(pid: int, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not gone within `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            break
        time.sleep(0.1)


def is_our_ministack(pid: int) -> bool:
    """True if `pid` is alive and is MiniStack run by this virtualenv's Python.

    After a reboot the pid in the record may be any other program's; only ours is stopped.
    """
    return _alive(pid) and command_line(pid) == " ".join(MINISTACK_COMMAND)


def command_line(pid: int, proc: Path = Path("/proc")) -> str | None:
    """The arguments process `pid` was started with, joined by spaces; None if it has gone.

    Read from /proc on Linux, from `ps` where there is no /proc (macOS).
    """
    if (proc / "self").is_dir():
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        return " ".join(os.fsdecode(arg) for arg in raw.rstrip(b"\0").split(b"\0"))
    try:
        listed = subprocess.run(
            # -ww: the whole line; ps otherwise cuts it at 80 columns, inside a venv's path.
            ["ps", "-ww", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return listed.stdout.strip() or None


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall back to signal 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---------------------------------------------------------------- make up / make down


def start(requested: str | None, port: int = DEFAULT_PORT) -> str:
    """Start the chosen emulator unless it already runs; returns its endpoint."""
    emulator = choose(requested)
    endpoint = f"http://127.0.0.1:{port}"
    RUN_DIR.mkdir(exist_ok=True)
    running = _running_emulator()
    if running is not None:
        if running != emulator:
            raise EmulatorError(f"{running} is running already: `make down` first")
        if healthy(endpoint):
            print(f"{emulator} is already running on {endpoint}", file=sys.stderr)
            return endpoint
    if port_in_use(port):
        raise EmulatorError(
            f"port {port} is taken by another program; stop it or set PORT to another port"
        )
    if emulator == "localstack":
        if not docker_engine_running():
            raise EmulatorError("EMULATOR=localstack needs a running Docker engine; none answers")
        subprocess.run(
            ["docker", "compose", "up", "--detach", "--wait", "localstack"], cwd=ROOT, check=True
        )
        (RUN_DIR / "emulator").write_text("localstack")
        wait_healthy(endpoint, 120)
    else:
        ministack = MiniStack(port, RUN_DIR / "ministack", enforce_iam_from_environment())
        process = ministack.spawn()
        (RUN_DIR / "ministack.pid").write_text(str(process.pid))
        (RUN_DIR / "emulator").write_text("ministack")
        wait_healthy(endpoint, 60, process, ministack.log)
    print(f"{emulator} is running on {endpoint}", file=sys.stderr)
    return endpoint


def stop() -> None:
    """Stop whichever emulator `start` started; harmless when none runs."""
    running = _running_emulator()
    if running == "localstack":
        subprocess.run(["docker", "compose", "down"], cwd=ROOT, check=True)
    elif running == "ministack":
        pid_file = RUN_DIR / "ministack.pid"
        stop_process(int(pid_file.read_text()))
        pid_file.unlink()
        shutil.rmtree(RUN_DIR / "ministack" / "tmp", ignore_errors=True)
    else:
        print("no emulator is running", file=sys.stderr)
        return
    (RUN_DIR / "emulator").unlink(missing_ok=True)
    print(f"{running} stopped", file=sys.stderr)


def _running_emulator() -> str | None:
    marker = RUN_DIR / "emulator"
    if not marker.exists():
        return None
    emulator = marker.read_text().strip()
    if emulator == "ministack":
        pid_file = RUN_DIR / "ministack.pid"
        pid = pid_file.read_text().strip() if pid_file.exists() else ""
        if not pid.isdigit() or not is_our_ministack(int(pid)):
            # A MiniStack that died, or a machine that rebooted (where the pid may now be
            # another program's, which must not be stopped): nothing of ours to stop, so the
            # stale record is removed and the caller goes on (failing would only make the
            # user delete the file by hand).
            print(
                f"removed the stale pid file of a MiniStack no longer running ({pid})",
                file=sys.stderr,
            )
            marker.unlink()
            pid_file.unlink(missing_ok=True)
            return None
    return emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision.emulator")
    parser.add_argument("command", choices=["start", "stop", "endpoint"])
    parser.add_argument("--emulator", default=os.environ.get("EMULATOR", "auto"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(start(args.emulator, args.port))
        elif args.command == "stop":
            stop()
        else:
            print(f"http://127.0.0.1:{args.port}")
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"error: {' '.join(map(str, error.cmd))} failed with code {error.returncode}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
