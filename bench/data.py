"""Inventory files the benchmark uploads: deterministic, so every run measures the same bytes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STORES = 50
ZERO_SHARE = 0.10
HEADER = "store,item,count\n"


@dataclass(frozen=True)
class InventoryFile:
    """One generated file: `rows` rows over `stores` stores named `<prefix>-sNN`, every tenth
    row (by a seeded draw) at count 0. Rows cycle through the stores, so each store holds
    rows // stores of them and the file's last row belongs to the last store."""

    prefix: str
    rows: int
    stores: int = STORES
    zero_share: float = ZERO_SHARE
    seed: int = 1

    def __post_init__(self) -> None:
        if self.rows % self.stores:
            raise ValueError(f"{self.rows} rows do not divide among {self.stores} stores")

    @property
    def store_names(self) -> list[str]:
        return [self.store(index) for index in range(self.stores)]

    @property
    def rows_per_store(self) -> int:
        return self.rows // self.stores

    @property
    def zero_rows(self) -> int:
        return round(self.rows * self.zero_share)

    @property
    def last_key(self) -> tuple[str, str]:
        """The (store, item) of the file's last row."""
        last = self.rows - 1
        return self.store(last % self.stores), self.item(last // self.stores)

    def store(self, index: int) -> str:
        return f"{self.prefix}-s{index:02d}"

    def item(self, index: int) -> str:
        return f"item-{index:07d}"

    def records(self) -> Iterator[tuple[str, str, int]]:
        """(store, item, count) in file order."""
        draw = random.Random(self.seed)
        zeros = set(draw.sample(range(self.rows), self.zero_rows))
        for row in range(self.rows):
            count = 0 if row in zeros else draw.randint(1, 500)
            yield self.store(row % self.stores), self.item(row // self.stores), count

    def lines(self) -> Iterator[str]:
        yield HEADER
        for store, item, count in self.records():
            yield f"{store},{item},{count}\n"

    def csv_bytes(self) -> bytes:
        return "".join(self.lines()).encode("utf-8")

    def write(self, path: Path) -> int:
        """Write the file in chunks (a million rows never sit in memory); returns its size."""
        size = 0
        with path.open("w", encoding="utf-8", newline="") as out:
            chunk: list[str] = []
            for line in self.lines():
                chunk.append(line)
                if len(chunk) == 10_000:
                    size += out.write("".join(chunk))
                    chunk.clear()
            size += out.write("".join(chunk))
        return size


RUNS_OUT = "runs-out"  # the item each latency upload turns from 5 to 0


def latency_rows(store: str, runs_out: bool, rows: int = 100) -> str:
    """A store's `rows` rows, all in stock; with `runs_out`, item RUNS_OUT is 0 (else 5)."""
    lines = [f"{store},item-{index:03d},{index + 1}\n" for index in range(rows - 1)]
    lines.append(f"{store},{RUNS_OUT},{0 if runs_out else 5}\n")
    return "".join(lines)
