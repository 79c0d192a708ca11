"""The README a newcomer reads in five minutes, the docs/ pages the depth moved to, and the CI
workflow that must run what .ci/run runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = ["design.md", "dashboard.md", "security.md", "operations.md", "benchmark.md"]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"

# [text](target) and ![alt](target), with an optional "title"; <a href> and <img src> too.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")


def _documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _relative_links(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    # Code blocks and inline code hold commands and examples, not links.
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)
    return [t for t in targets if not urlsplit(t).scheme and not t.startswith(("#", "//"))]


def test_the_readme_is_short_with_the_two_set_up_commands_on_its_first_screen():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:40])
    assert re.search(r"^make up\b", first_screen, re.MULTILINE)
    assert re.search(r"^make test\b", first_screen, re.MULTILINE)


def test_the_readme_names_the_day_to_day_commands():
    text = README.read_text(encoding="utf-8")
    for command in ["demo", "dashboard", "test", "bench", "deploy"]:
        assert f"make {command}" in text, command
    # and the developer's loop
    for command in ["make logs", "make watch", "make alerts", "make inbox", "awslocal"]:
        assert command in text, command


def _anchors(document: Path) -> set[str]:
    """The #fragments GitHub gives a Markdown page's headings."""
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(document: Path):
    missing = []
    for target in _relative_links(document):
        path, _, fragment = unquote(target.split("?", 1)[0]).partition("#")
        linked = document.parent / path if path else document
        if not linked.exists() or (
            fragment and linked.suffix == ".md" and fragment not in _anchors(linked)
        ):
            missing.append(target)
    assert not missing, f"{document.name} links to files or headings that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_each_docs_page_exists_and_starts_with_a_summary_of_what_it_covers(page: str):
    path = DOCS / page
    assert path.exists(), f"docs/{page} is missing"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), "a page opens with its title"
    # Then a blank line and a paragraph of about three lines saying what the page covers.
    assert lines[1] == ""
    summary = []
    for line in lines[2:]:
        if not line.strip():
            break
        summary.append(line)
    assert 2 <= len(summary) <= 4, f"docs/{page}'s summary is {len(summary)} lines"
    assert not any(line.startswith(("#", "-", "|", "```")) for line in summary)


def test_the_readme_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    for page in PAGES:
        assert f"(docs/{page}" in text, page


def test_the_dashboard_page_keeps_its_figures_heading_and_its_history_chart():
    text = (DOCS / "dashboard.md").read_text(encoding="utf-8")
    assert "\n### Figures\n" in text
    assert "](dashboard-history-chart.png)" in text


def test_the_benchmark_page_shows_the_latest_run_beside_its_json_and_chart():
    text = (DOCS / "benchmark.md").read_text(encoding="utf-8")
    latest = text[text.index("## Latest run") :]
    assert "(bench/latest.json)" in latest
    assert "(bench/latest.png)" in latest


def test_no_heading_appears_twice_in_a_page():
    for document in _documents():
        headings = [
            line
            for line in re.sub(
                r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL
            ).splitlines()
            if line.startswith("#")
        ]
        repeated = {h for h in headings if headings.count(h) > 1}
        assert not repeated, f"{document.name} repeats {repeated}"


def _make_targets(script: str) -> list[str]:
    """The `make` targets a shell script runs, in order (one command a line)."""
    targets = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if words[:1] == ["make"]:
            targets.extend(w for w in words[1:] if "=" not in w and not w.startswith("-"))
    return targets


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_workflow_runs_on_push_and_pull_request():
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = _workflow().get("on", _workflow().get(True))
    assert set(triggers) >= {"push", "pull_request"}


def test_the_workflow_runs_ci_run_itself_so_it_cannot_drift_from_it():
    """One job runs `bash .ci/run` (make test, make bench-quick, make lint), not a copy of it."""
    assert _make_targets(CI_RUN.read_text(encoding="utf-8")) == ["test", "bench-quick", "lint"]
    jobs = _workflow()["jobs"]
    running_ci = [name for name, job in jobs.items() if "bash .ci/run" in _runs(job)]
    assert running_ci, "no job of the workflow runs `bash .ci/run`"
    for name in running_ci:
        assert "python-version" in str(jobs[name]["steps"])


def test_the_workflow_runs_the_integration_suite_on_the_localstack_of_docker_compose():
    jobs = _workflow()["jobs"]
    (job,) = [job for job in jobs.values() if any("EMULATOR=localstack" in r for r in _runs(job))]
    runs = _runs(job)
    targets = [t for run in runs for t in _make_targets(run)]
    assert targets[:2] == ["up", "e2e"], "start LocalStack with make up, then make e2e against it"
    # Always stopped, even when a step before failed.
    (down,) = [s for s in job["steps"] if s.get("run") == "docker compose down"]
    assert down.get("if") == "always()"
    # REQUIRE_BROWSER would turn the dashboard tests' skip on LocalStack into failures.
    environments = [job.get("env", {}), *(step.get("env", {}) for step in job["steps"])]
    assert not any("REQUIRE_BROWSER" in env for env in environments)
    assert not any("REQUIRE_BROWSER" in run for run in runs)


def test_docker_compose_and_the_test_suite_pin_the_same_localstack():
    conftest = (ROOT / "tests" / "integration" / "conftest.py").read_text(encoding="utf-8")
    (LOCALSTACK_IMAGE,) = re.findall(r'^LOCALSTACK_IMAGE = "([^"]+)"', conftest, re.MULTILINE)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["services"]["localstack"]["image"] == LOCALSTACK_IMAGE
    assert LOCALSTACK_IMAGE.endswith(":4.14.0")


def test_make_lint_runs_actionlint_on_the_workflow():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lint = makefile[makefile.index("\nlint:") :].split("\n\n", 1)[0]
    assert "actionlint .github/workflows/ci.yml" in lint
