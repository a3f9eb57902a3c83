"""How a pair's records in the table are found again: one attribute, one index, no scan.

Every record that names a pair (its idempotency records, its paid-call marks, the re-use
record of its result, the Pair API's record of it) carries `pair_ref`, a digest of the pair
id, and the table's global secondary index `by-pair` is keyed on it. Erasing a pair is then
one Query of that index, whatever the table holds.

The digest is the one Powertools' idempotency utility writes for payload validation when it
is told to validate the `pair_id` of the idempotency key (`json.dumps`, sorted keys, MD5):
so its records carry the same `pair_ref` without a request of their own. A test holds the
two together on a real record.
"""

from __future__ import annotations

import hashlib
import json

INDEX_NAME = "by-pair"
INDEX_ATTRIBUTE = "pair_ref"
PAIR_ID_FIELD = "pair_id"
"""The field of the idempotency key Powertools digests into `pair_ref`."""


def pair_ref(pair_id: str) -> str:
    """The index key of `pair_id`'s records."""
    # MD5 as an index key, not for security: it is what Powertools writes (its default).
    return hashlib.md5(json.dumps(pair_id, sort_keys=True).encode()).hexdigest()  # noqa: S324
