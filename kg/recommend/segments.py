"""Customer segments: k-means on user embeddings and behaviour, written back as
``(:User)-[:IN_SEGMENT {distance}]->(:Segment {name, size, profile})``.

Features, each block standardised and scaled so that neither dominates by its width:

* an embedding per user: the trained KGE model's user vectors when there is one,
  otherwise the spectral embedding of the user-item graph, each scaled to unit length
  (its direction is the taste; its length grows with activity, and left in, a handful
  of users with hundreds of ratings each became a segment of one on MovieLens);
* behaviour: the share of the user's interactions per attribute (genre, category,
  brand...), how active they are, the prices they pay.

Each segment gets a profile a marketer can read: size, the attributes it over-indexes
on, typical age, occupation and activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from kg.config import Settings
from kg.errors import InputError
from kg.progress import ProgressReporter
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.service import live_kge_model
from kg.recommend.signals.base import ScorerContext
from kg.recommend.signals.spectral import SpectralFilter
from kg.store.base import FROM_ID, TO_ID, GraphStore

SPECTRAL_COMPONENTS = 32
MIN_SHARE = 0.03
TOP_ATTRIBUTES = 3


@dataclass
class Segmentation:
    """Cluster of each user, distance to its centre, and one profile row per segment."""

    labels: np.ndarray
    distances: np.ndarray
    profiles: pd.DataFrame
    model: str
    created_at: str
    merged: int = 0  # clusters below the minimum group size, folded into their nearest


def spectral_user_embeddings(graph: InteractionGraph, seed: int) -> np.ndarray:
    """Users in the low-frequency space of the user-item graph (the spectral signal's);
    with three users or items or fewer there is no such space, and a user is their row
    of the interaction matrix."""
    if min(graph.matrix.shape) <= 3:
        return graph.matrix.toarray()
    components = max(1, min(SPECTRAL_COMPONENTS, min(graph.matrix.shape) - 2))
    spectral = SpectralFilter(ScorerContext(seed=seed), components=components)
    spectral.fit(graph)
    return np.asarray(graph.matrix @ spectral.project_in)


def behaviour_features(graph: InteractionGraph) -> np.ndarray:
    """Attribute shares, log activity and (when items have prices) the mean price paid."""
    activity = np.asarray(graph.matrix.sum(axis=1)).ravel()
    per_user = sp.diags(1.0 / np.maximum(activity, 1.0)) @ graph.matrix
    blocks = [np.asarray((per_user @ graph.item_attributes).todense()), np.log1p(activity)[:, None]]
    if "price" in graph.items and graph.items["price"].notna().any():
        price = (
            graph.items["price"].astype(float).fillna(graph.items["price"].astype(float).median()).to_numpy()
        )
        blocks.append(np.asarray(per_user @ price)[:, None])
    return np.hstack(blocks)


def segment_users(
    graph: InteractionGraph,
    k: int = 8,
    *,
    seed: int = 42,
    embeddings: np.ndarray | None = None,
    embedding_source: str = "spectral",
    min_size: int = 1,
) -> Segmentation:
    """Cluster every user of ``graph`` into ``k`` segments and profile each segment.

    A cluster of fewer than ``min_size`` users (``privacy.min_group_size``) is never an
    output: its members join the nearest larger cluster, so fewer segments come back."""
    if k < 2:
        raise InputError("--k must be at least 2 segments.")
    if graph.n_users < k:
        raise InputError(f"Cannot make {k} segments from {graph.n_users} users; lower --k.")
    if graph.matrix.nnz == 0:
        raise InputError(
            "Cannot segment: the graph has no user-item interactions, and segments are groups "
            "of users who behave alike; ingest purchases, ratings or views first."
        )
    if embeddings is None:
        embeddings, embedding_source = spectral_user_embeddings(graph, seed), "spectral"
    features = np.hstack([_block(_unit_rows(embeddings)), _block(behaviour_features(graph))])
    distinct = len(np.unique(features.round(9), axis=0))
    if distinct < k:
        raise InputError(
            f"Cannot make {k} segments: the {graph.n_users:,} users fall into only {distinct} "
            f"distinct behaviour profile{'s' if distinct != 1 else ''}"
            + (
                f"; use --k {distinct} or fewer."
                if distinct >= 2
                else "; there is nothing to tell them apart."
            )
        )
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(features)
    sizes = np.bincount(kmeans.labels_, minlength=k)
    kept = np.flatnonzero(sizes >= min_size)
    if len(kept) == 0:
        raise InputError(
            f"Every one of the {k} segments would hold fewer than {min_size} users "
            "(privacy.min_group_size); lower --k."
        )
    centres = kmeans.cluster_centers_[kept]
    raw = np.searchsorted(kept, kmeans.labels_)
    orphans = np.flatnonzero(~np.isin(kmeans.labels_, kept))  # members of the too-small clusters
    if len(orphans):
        gaps = np.linalg.norm(features[orphans, None, :] - centres[None, :, :], axis=2)
        raw[orphans] = np.argmin(gaps, axis=1)
    order = np.argsort(-np.bincount(raw, minlength=len(kept)), kind="stable")  # segment 1 = largest
    relabel = np.empty(len(kept), dtype=np.int64)
    relabel[order] = np.arange(len(kept))
    labels = relabel[raw]
    distances = np.linalg.norm(features - centres[raw], axis=1)
    model = f"kmeans-k{k}-{embedding_source}+behaviour"
    return Segmentation(
        labels,
        distances,
        _profiles(graph, labels, len(kept)),
        model,
        datetime.now(UTC).isoformat(timespec="seconds"),
        merged=k - len(kept),
    )


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.nan_to_num(np.asarray(vectors, dtype=np.float64))
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _block(values: np.ndarray) -> np.ndarray:
    """Standardised columns, scaled by 1/sqrt(width) so every block weighs the same."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    scaled = StandardScaler().fit_transform(values)
    return scaled / np.sqrt(max(values.shape[1], 1))


def _profiles(graph: InteractionGraph, labels: np.ndarray, k: int) -> pd.DataFrame:
    attribute_counts = np.asarray((graph.matrix @ graph.item_attributes).todense())
    activity = np.asarray(graph.matrix.sum(axis=1)).ravel()
    overall = attribute_counts.sum(axis=0) / max(activity.sum(), 1.0)
    rows = []
    for segment in range(k):
        members = labels == segment
        share = attribute_counts[members].sum(axis=0) / max(activity[members].sum(), 1.0)
        top = _distinctive(graph, share, overall)
        profile = {
            "size": int(members.sum()),
            "share_of_users": round(float(members.mean()), 4),
            "top_attributes": top,
            "median_interactions": float(np.median(activity[members])),
            **_demographics(graph, members),
        }
        name = " & ".join(a["name"] for a in top[:2]) or "Broad tastes"
        if profile["median_interactions"] == 0:
            name = "New customers"
        rows.append(
            {
                "id": f"segment-{segment + 1}",
                "name": f"S{segment + 1}: {name}",
                "size": profile["size"],
                "profile": profile,
            }
        )
    return pd.DataFrame(rows)


def _distinctive(graph: InteractionGraph, share: np.ndarray, overall: np.ndarray) -> list[dict[str, object]]:
    """Attributes the segment over-indexes on: share x (lift - 1), lift above 1."""
    lift = np.divide(share, overall, out=np.zeros_like(share), where=overall > 0)
    strength = np.where((share >= MIN_SHARE) & (lift > 1.0), share * (lift - 1.0), 0.0)
    best = [int(i) for i in np.argsort(-strength)[:TOP_ATTRIBUTES] if strength[i] > 0]
    meta = graph.attributes
    return [
        {
            "label": str(meta["label"].iat[i]),
            "name": str(meta["name"].iat[i]),
            "share": round(float(share[i]), 3),
            "lift": round(float(lift[i]), 2),
        }
        for i in best
    ]


def _demographics(graph: InteractionGraph, members: np.ndarray) -> dict[str, object]:
    facts: dict[str, object] = {}
    users = graph.users
    if "age" in users and users.loc[members, "age"].notna().any():
        facts["median_age"] = float(users.loc[members, "age"].astype(float).median())
    cohorts = graph.cohorts
    for key, column in (
        ("top_occupation", cohorts["label"] == "Occupation"),
        ("top_age_group", cohorts["property"] == "age_group"),
        ("top_gender", cohorts["property"] == "gender"),
    ):
        columns = np.flatnonzero(column.to_numpy())
        if len(columns):
            counts = np.asarray(graph.user_cohorts[members][:, columns].sum(axis=0)).ravel()
            if counts.sum():
                best = columns[int(np.argmax(counts))]
                facts[key] = f"{cohorts['name'].iat[best]} ({counts.max() / members.sum():.0%})"
    return facts


def write_segments(store: GraphStore, graph: InteractionGraph, segmentation: Segmentation) -> int:
    """Segment nodes and one IN_SEGMENT edge per user, replacing earlier segmentations."""
    nodes = segmentation.profiles.assign(
        profile=segmentation.profiles["profile"].map(lambda p: json.dumps(p, ensure_ascii=False)),
        model=segmentation.model,
        created_at=segmentation.created_at,
    )
    store.upsert_nodes("Segment", nodes[["id", "name", "size", "profile", "model", "created_at"]])
    edges = pd.DataFrame(
        {
            FROM_ID: graph.user_ids.astype(str),
            TO_ID: [f"segment-{label + 1}" for label in segmentation.labels],
            "distance": segmentation.distances.astype(float),
        }
    )
    written = store.replace_relationships("IN_SEGMENT", "User", "Segment", edges)
    store.query(
        "MATCH (s:Segment) WHERE NOT s.id IN $current DETACH DELETE s",
        {"current": list(nodes["id"])},
        write=True,
    )
    return written


def segment_table(segmentation: Segmentation) -> pd.DataFrame:
    """One printable row per segment."""
    rows = []
    for _, segment in segmentation.profiles.iterrows():
        profile = segment["profile"]
        rows.append(
            {
                "segment": segment["id"],
                "name": segment["name"],
                "size": profile["size"],
                "share": f"{profile['share_of_users']:.0%}",
                "over-indexes on": ", ".join(
                    f"{a['name']} ({a['label'].lower()}, x{a['lift']})" for a in profile["top_attributes"]
                ),
                "median interactions": f"{profile['median_interactions']:g}",
                "median age": profile.get("median_age"),
                "typical": "; ".join(
                    str(profile[k]) for k in ("top_age_group", "top_gender", "top_occupation") if k in profile
                ),
            }
        )
    return pd.DataFrame(rows)


def segment_graph(
    store: GraphStore,
    settings: Settings,
    k: int,
    *,
    write: bool = True,
    progress: ProgressReporter | None = None,
) -> tuple[Segmentation, pd.DataFrame, list[str]]:
    """Segment every user on KGE (else spectral) embeddings and behaviour; write them."""
    graph = export_interactions(store, settings.recommend, progress)
    trained, why_not = live_kge_model(store, settings)
    embeddings, source, notes = None, "spectral", []
    if trained is not None:
        entities = ["User:" + str(u) for u in graph.user_ids]
        known = np.array([e in trained.entity_to_id for e in entities])
        if known.all():
            embeddings, source = trained.entity_embeddings(entities), f"kge:{trained.run_id}"
        else:
            notes.append(
                f"{(~known).sum()} users are not in KGE model {trained.run_id}; using spectral embeddings"
            )
    else:
        notes.append(f"{why_not}; segmenting on spectral graph embeddings")
    minimum = settings.privacy.min_group_size
    segmentation = segment_users(
        graph,
        k,
        seed=settings.recommend.seed,
        embeddings=embeddings,
        embedding_source=source,
        min_size=minimum,
    )
    if segmentation.merged:
        notes.append(
            f"{segmentation.merged} segment(s) smaller than {minimum} users (privacy.min_group_size) "
            "were merged into the nearest larger segment"
        )
    if write:
        write_segments(store, graph, segmentation)
    return segmentation, segment_table(segmentation), notes
