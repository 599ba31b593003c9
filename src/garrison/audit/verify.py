"""`garrison audit verify`: walk every chain and name the first break.

For each node's chain, in sequence order:
- a gap in sequence numbers: an event was removed;
- a row whose prev_hash is not its predecessor's hash: removed or reordered;
- a row whose recomputed hash differs from the stored one, or whose indexed
  columns disagree with its body: altered.
Then each chain's end must match its signed head (signature checked with the
trail's public key), and every chain position a signed digest recorded must
still hold the hash it recorded, so a removed tail is found too.

Needs no key material: the hashes are public and so is the verifying key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from garrison.audit.chain import GENESIS, head_message, link_hash
from garrison.audit.digests import Digest, check_digests
from garrison.crypto.signing import verify_signature


@dataclass(frozen=True)
class EventRow:
    node_id: str
    seq: int
    event_id: str
    event_name: str
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class HeadRow:
    node_id: str
    seq: int
    hash: str
    signed_at: float
    signature: bytes


@dataclass(frozen=True)
class Problem:
    node_id: str
    seq: int
    event_id: str
    what: str

    def __str__(self) -> str:
        eid = self.event_id or "-"
        return f"chain {self.node_id}: seq {self.seq} eventID {eid}: {self.what}"


@dataclass(frozen=True)
class Report:
    events: int
    chains: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


_Chains = dict[str, tuple[int, str, str]]  # node -> (last seq, last hash, last event id)


def verify_chains(
    rows: Iterable[EventRow],
    heads: dict[str, HeadRow],
    public_pem: str | None,
    digests: Sequence[Digest] = (),
) -> Report:
    """`rows` ordered by (node_id, seq); `digests` ordered by time."""
    problem = check_digests(list(digests), public_pem)
    if problem is not None:
        return Report(0, 0, Problem("-", 0, "", problem))
    covered: dict[tuple[str, int], str] = {}
    for digest in digests:
        for node_id, position in digest.chains.items():
            covered[(node_id, int(position["seq"]))] = str(position["hash"])
    chains: _Chains = {}
    count = 0
    for row in rows:
        count += 1
        found = _check_link(row, chains, covered)
        if found is not None:
            return Report(count, len(chains), found)
        chains[row.node_id] = (row.seq, row.hash, row.event_id)
    return Report(count, len(chains), _check_ends(chains, heads, covered, public_pem))


def _check_link(
    row: EventRow, chains: _Chains, covered: dict[tuple[str, int], str]
) -> Problem | None:
    """What is wrong with `row` as the next link of its chain, if anything."""
    last_seq, last_hash, _last_id = chains.get(row.node_id, (0, GENESIS, ""))
    if row.seq != last_seq + 1:
        return Problem(
            row.node_id,
            last_seq + 1,
            "",
            f"missing: event(s) seq {last_seq + 1}..{row.seq - 1} were removed "
            f"(next present: seq {row.seq}, eventID {row.event_id})",
        )

    def here(what: str) -> Problem:
        return Problem(row.node_id, row.seq, row.event_id, what)

    if row.prev_hash != last_hash:
        return here(
            "does not follow its predecessor: an event before it was removed, "
            "or events were reordered"
        )
    if link_hash(last_hash, row.node_id, row.seq, row.body.encode()) != row.hash:
        return here("altered: its hash does not match its content")
    try:
        body = orjson.loads(row.body)
    except orjson.JSONDecodeError:
        body = {}
    if body.get("eventID") != row.event_id or body.get("eventName") != row.event_name:
        return here("altered: its indexed columns disagree with its body")
    expected = covered.pop((row.node_id, row.seq), None)
    if expected is not None and expected != row.hash:
        return here("altered: a signed digest recorded another hash")
    return None


def _check_ends(
    chains: _Chains,
    heads: dict[str, HeadRow],
    covered: dict[tuple[str, int], str],
    public_pem: str | None,
) -> Problem | None:
    """Every chain must reach its signed head and every position a digest recorded."""
    if covered:
        node_id, seq = min(covered)
        last_seq, _h, last_id = chains.get(node_id, (0, GENESIS, ""))
        return Problem(
            node_id,
            last_seq + 1,
            "",
            f"missing tail: a signed digest covers events up to seq {seq} "
            f"(last present: seq {last_seq}, eventID {last_id or '-'})",
        )
    for node_id, head in heads.items():
        last_seq, last_hash, last_id = chains.get(node_id, (0, GENESIS, ""))
        if public_pem is None or not verify_signature(
            public_pem, head.signature, head_message(node_id, head.seq, head.hash, head.signed_at)
        ):
            return Problem(node_id, head.seq, "", "the chain's signed head has a bad signature")
        if last_seq < head.seq:
            return Problem(
                node_id,
                last_seq + 1,
                "",
                f"missing tail: events seq {last_seq + 1}..{head.seq} were removed "
                f"(last present: seq {last_seq}, eventID {last_id or '-'})",
            )
        if last_seq > head.seq or last_hash != head.hash:
            return Problem(
                node_id, last_seq, last_id, "the chain's end does not match its signed head"
            )
    for node_id, (last_seq, _h, last_id) in chains.items():
        if node_id not in heads:
            return Problem(node_id, last_seq, last_id, "the chain has no signed head (removed?)")
    return None
