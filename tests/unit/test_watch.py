"""`make watch`'s view of the source tree: what changed, and which functions that can alter."""

from __future__ import annotations

from pathlib import Path

from provision.watch import affected_functions, changed_files, snapshot

FUNCTIONS = ["load_inventory", "check_stock", "track_stock", "inventory_api"]
ROOT = Path("/src/lambdas")


def test_a_save_an_addition_and_a_removal_are_changes_and_bytecode_is_not(tmp_path):
    (tmp_path / "kept.py").write_text("a")
    (tmp_path / "saved.py").write_text("a")
    (tmp_path / "removed.py").write_text("a")
    before = snapshot(tmp_path)

    (tmp_path / "saved.py").write_text("a longer body")
    (tmp_path / "removed.py").unlink()
    (tmp_path / "added.py").write_text("a")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "kept.cpython-311.pyc").write_bytes(b"\0")

    assert [p.name for p in changed_files(before, snapshot(tmp_path))] == [
        "added.py",
        "removed.py",
        "saved.py",
    ]


def test_a_handler_change_concerns_its_function_alone():
    changed = [ROOT / "check_stock" / "handler.py"]
    assert affected_functions(changed, ROOT, FUNCTIONS) == ["check_stock"]


def test_a_change_to_the_shared_package_or_the_requirements_concerns_every_function():
    for changed in ([ROOT / "inventory" / "stock.py"], [ROOT / "requirements.txt"]):
        assert affected_functions(changed, ROOT, FUNCTIONS) == FUNCTIONS


def test_a_stack_without_a_function_leaves_its_folder_to_every_function():
    # track_stock's folder changed on a stack that has no track_stock: nothing to guess, so
    # every deployed function is rebuilt (and only those whose zip differs are updated)
    changed = [ROOT / "track_stock" / "handler.py"]
    assert affected_functions(changed, ROOT, ["load_inventory"]) == ["load_inventory"]
