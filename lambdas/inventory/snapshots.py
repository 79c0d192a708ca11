"""When a file's snapshot was taken, and the one order in which the snapshots of a store stand.

Pure Python, no AWS. A file is a snapshot of its store's stock; a newer snapshot wins over an
older one however late the older one arrives. "Newer" must be a total order, or two files
uploaded in the same millisecond could each win on one delivery and lose on the next. The
order token is, compared as text:

1. the snapshot time: S3's `eventTime` to the millisecond, in one UTC format;
2. a digest of the object key: two keys in the same millisecond (`berlin-am.csv`,
   `berlin-pm.csv`) stand in a fixed, if arbitrary, order;
3. S3's `sequencer`, which orders the events of one key (AWS: "right pad the shorter value
   with zeros, and then do a lexicographical comparison"); padded here to a fixed width;
4. a digest of the version id, for what is still tied (a replayed event without a sequencer).

Every delivery of one upload has the same token, so delivering it again changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

# S3's sequencers are 16 to 18 hex digits today; the width leaves room for them to grow.
_SEQUENCER_WIDTH = 32
DIGEST_CHARS = 16

# A snapshot time further ahead of the loader's clock than this is not S3's: S3 stamps events
# with its own clock, which is never minutes ahead of Lambda's. Trusting one would let a forged
# or corrupted event pin a store's stock until that date.
MAX_CLOCK_SKEW = timedelta(minutes=15)


def snapshot_time(event_time: str | None, last_modified: datetime) -> str:
    """When a file's snapshot was taken: S3's event time (to the millisecond), else the
    object's Last-Modified; in one UTC format, so that text order is time order."""
    moment = last_modified
    if event_time:
        moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # S3 speaks UTC; never the container's zone
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def order_token(taken_at: str, key: str, sequencer: str | None, version_id: str | None) -> str:
    """The text that orders this snapshot among its store's (see the module docstring)."""
    sequence = (sequencer or "").upper()
    if len(sequence) > _SEQUENCER_WIDTH or not all(c in "0123456789ABCDEF" for c in sequence):
        sequence = ""  # not S3's: order by the other parts rather than by a malformed value
    return " ".join(
        (
            taken_at,
            digest(key),
            sequence.ljust(_SEQUENCER_WIDTH, "0"),
            digest(version_id or ""),
        )
    )


def too_far_ahead(taken_at: str, now: datetime) -> bool:
    """Whether a snapshot time is further in the future than any clock skew explains."""
    return datetime.fromisoformat(taken_at) > now + MAX_CLOCK_SKEW


def digest(text: str) -> str:
    """A short, stable digest of `text` (for ordering and naming, not for security)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]
