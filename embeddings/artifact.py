"""A trained KGE model with its id maps: scoring, embeddings, save and load.

``TrainedModel`` is the one object the rest of the platform (predictions, write-back,
recommendations) uses; it hides PyKEEN's integer ids behind the ``Label:id`` entity
strings of the graph export. An artifact directory holds:

- ``model.pt``      -- the PyKEEN model's ``state_dict`` (tensors only, loads with ``weights_only``)
- ``model.json``    -- how to rebuild the model: name, recipe, sizes, text-awareness
- ``entities.json`` / ``relations.json`` -- labels in id order
- ``metrics.json``  -- filtered test metrics
- ``sample.json``   -- a seeded sample of training triples (to recognise the graph later)
- ``manifest.json`` -- run id, graph fingerprint, SHA-256 of every file above

The registry (``embeddings.runs``) decides where artifacts live; this module only
reads and writes one directory, and refuses one whose checksums do not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pykeen.models import ERModel, model_resolver
from pykeen.triples import KGInfo

from embeddings.contractions import use_contracted_interaction
from embeddings.device import quiet_libraries, resolve_device
from embeddings.recipes import ModelRecipe
from embeddings.regularization import use_embedding_dropout
from embeddings.text_link import TextFusedRepresentation, attach_text_features, fused_representation
from kg.errors import InputError, KGError, NotFoundError

FORMAT_VERSION = 1
ARTIFACT_FILES = ("model.pt", "model.json", "entities.json", "relations.json", "metrics.json", "sample.json")
# training triples kept with a model, to recognise the graph it was trained on
SAMPLE_TRIPLES = 1000
SCORE_BATCH = 1024


class ModelArtifactError(KGError):
    """A saved model is damaged, incomplete or was trained on another graph."""


@dataclass
class TrainedModel:
    """A PyKEEN model plus the string ids it was trained with."""

    run_id: str
    model_name: str
    entity_to_id: dict[str, int]
    relation_to_id: dict[str, int]
    model: ERModel
    recipe: ModelRecipe
    fingerprint: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    sample: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._id_to_entity = sorted(self.entity_to_id, key=self.entity_to_id.__getitem__)
        self.model.eval()

    # ------------------------------------------------------------------ ids
    @property
    def entities(self) -> list[str]:
        """Entity strings in id order."""
        return self._id_to_entity

    @property
    def text_aware(self) -> bool:
        return fused_representation(self.model) is not None

    @property
    def device(self) -> torch.device:
        return self.model.device

    def entity_ids(self, entities: Sequence[str]) -> np.ndarray:
        """Integer ids of entities; an unknown one is a ``NotFoundError`` naming it."""
        try:
            return np.fromiter((self.entity_to_id[e] for e in entities), dtype=np.int64, count=len(entities))
        except KeyError as exc:
            raise NotFoundError(
                f"Entity {exc.args[0]!r} is not in model {self.run_id}; entities look like 'Label:id' "
                "(e.g. 'User:1'). Retrain with `kg train` after adding data"
                + (", or use `kg embed` for nodes added since." if self.text_aware else ".")
            ) from None

    def relation_id(self, relation: str) -> int:
        try:
            return self.relation_to_id[relation]
        except KeyError:
            raise NotFoundError(
                f"Relation {relation!r} is not in model {self.run_id}; known: {', '.join(sorted(self.relation_to_id))}."
            ) from None

    # ------------------------------------------------------------------ scoring
    def score_tails(
        self, heads: Sequence[str], relation: str, tails: Sequence[str] | None = None
    ) -> np.ndarray:
        """Scores of ``(head, relation, tail)``, shape ``(len(heads), len(tails))`` (all
        entities in id order when ``tails`` is None); higher is more plausible."""
        rel = self.relation_id(relation)
        head_ids = self.entity_ids(heads)
        candidates = None if tails is None else torch.as_tensor(self.entity_ids(tails), device=self.device)
        return self._score(head_ids, rel, candidates, side="tail")

    def score_heads(
        self, relation: str, tails: Sequence[str], heads: Sequence[str] | None = None
    ) -> np.ndarray:
        """Scores of ``(head, relation, tail)`` for each tail, shape ``(len(tails),
        len(heads))`` (all entities when ``heads`` is None); higher is more plausible."""
        rel = self.relation_id(relation)
        tail_ids = self.entity_ids(tails)
        candidates = None if heads is None else torch.as_tensor(self.entity_ids(heads), device=self.device)
        return self._score(tail_ids, rel, candidates, side="head")

    @torch.inference_mode()
    def _score(
        self, anchors: np.ndarray, relation: int, candidates: torch.Tensor | None, side: str
    ) -> np.ndarray:
        width = self.model.num_entities if candidates is None else len(candidates)
        out = np.empty((len(anchors), width), dtype=np.float32)
        self.model.eval()
        for start in range(0, len(anchors), SCORE_BATCH):
            chunk = torch.as_tensor(anchors[start : start + SCORE_BATCH], device=self.device)
            rel = torch.full_like(chunk, relation)
            if side == "tail":
                scores = self.model.predict_t(torch.stack([chunk, rel], dim=1), tails=candidates)
            else:
                scores = self.model.predict_h(torch.stack([rel, chunk], dim=1), heads=candidates)
            out[start : start + len(chunk)] = scores.float().cpu().numpy()
        return out

    # ------------------------------------------------------------------ embeddings
    @torch.inference_mode()
    def entity_embeddings(self, entities: Sequence[str] | None = None) -> np.ndarray:
        """Real-valued entity vectors (ComplEx: real parts then imaginary parts)."""
        indices = None if entities is None else torch.as_tensor(self.entity_ids(entities), device=self.device)
        self.model.eval()
        return _as_real(self.model.entity_representations[0](indices=indices))

    @torch.inference_mode()
    def relation_embeddings(self, relations: Sequence[str] | None = None) -> np.ndarray:
        indices = None
        if relations is not None:
            indices = torch.as_tensor([self.relation_id(r) for r in relations], device=self.device)
        return _as_real(self.model.relation_representations[0](indices=indices))

    @torch.inference_mode()
    def embed_text(self, text_vectors: np.ndarray) -> np.ndarray:
        """Entity-space vectors for unseen entities from their text vectors alone."""
        fused = self._require_text()
        features = torch.as_tensor(np.asarray(text_vectors, dtype=np.float32), device=self.device)
        return _as_real(fused.text_only(features))

    def add_entities(self, entities: Sequence[str], text_vectors: np.ndarray) -> list[str]:
        """Make entities added after training scorable, represented by their text alone.

        Entities the model already knows are left as they are; returns the ones added.
        """
        fused = self._require_text()
        vectors = np.asarray(text_vectors, dtype=np.float32)
        rows: dict[str, int] = {}
        for row, entity in enumerate(entities):
            if entity not in self.entity_to_id:
                rows.setdefault(entity, row)
        if not rows:
            return []
        fused.extend(torch.as_tensor(vectors[list(rows.values())]))
        for entity in rows:
            self.entity_to_id[entity] = len(self._id_to_entity)
            self._id_to_entity.append(entity)
        self.model.num_entities = len(self._id_to_entity)
        return list(rows)

    def _require_text(self) -> TextFusedRepresentation:
        fused = fused_representation(self.model)
        if fused is None:
            raise InputError(
                f"Model {self.run_id} was trained without text; retrain with `kg train --text` to embed "
                "nodes it has not seen."
            )
        return fused

    def forget_entities(self, entities: Sequence[str]) -> int:
        """Erase entities (``kg forget``): their names become tombstones, their embedding
        and text-feature rows zeros, their sample triples go, and the model is marked
        stale (its other rows still learned from them until it is retrained)."""
        gone = [e for e in entities if e in self.entity_to_id]
        if not gone:
            return 0
        rows = torch.as_tensor([self.entity_to_id[e] for e in gone], dtype=torch.long)
        with torch.no_grad():
            for name, tensor in self.model.state_dict(keep_vars=True).items():
                if name.startswith("entity_representations") and tensor.shape[:1] == (len(self.entities),):
                    tensor.index_fill_(0, rows.to(tensor.device), 0)
        for number, entity in enumerate(gone):
            index = self.entity_to_id.pop(entity)
            self.entity_to_id[f"forgotten:{self.run_id}:{index}:{number}"] = index
        self.__post_init__()
        erased = set(gone)
        self.sample = [t for t in self.sample if t[0] not in erased and t[2] not in erased]
        self.info["stale"] = "entities were forgotten (kg forget); retrain to remove what they taught"
        return len(gone)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> Path:
        """Write the artifact files and a manifest with their SHA-256 checksums."""
        directory.mkdir(parents=True, exist_ok=True)
        fused = fused_representation(self.model)
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, directory / "model.pt")
        spec = {
            "model_name": self.model_name,
            "recipe": self.recipe.to_dict(),
            "num_entities": len(self._id_to_entity),
            "num_relations": len(self.relation_to_id),
            "text_dim": None if fused is None else int(fused.features.shape[1]),
            "info": self.info,
        }
        _write_json(directory / "model.json", spec)
        _write_json(directory / "entities.json", self._id_to_entity)
        _write_json(
            directory / "relations.json", sorted(self.relation_to_id, key=self.relation_to_id.__getitem__)
        )
        _write_json(directory / "metrics.json", self.metrics)
        _write_json(directory / "sample.json", [list(t) for t in self.sample])
        manifest = {
            "format_version": FORMAT_VERSION,
            "run_id": self.run_id,
            "model_name": self.model_name,
            "fingerprint": self.fingerprint,
            "files": {name: file_sha256(directory / name) for name in ARTIFACT_FILES},
        }
        manifest["checksum"] = _digest(manifest["files"])
        _write_json(directory / "manifest.json", manifest)
        return directory

    @classmethod
    def load(cls, directory: Path, *, device: str | torch.device | None = None) -> TrainedModel:
        """Read an artifact, refusing it when a file is missing or its checksum differs."""
        manifest = verify_artifact(directory)
        spec = json.loads((directory / "model.json").read_text("utf-8"))
        entities = json.loads((directory / "entities.json").read_text("utf-8"))
        relations = json.loads((directory / "relations.json").read_text("utf-8"))
        recipe = ModelRecipe(**spec["recipe"])
        model = build_model(
            recipe, num_entities=len(entities), num_relations=len(relations), text_dim=spec.get("text_dim")
        )
        state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelArtifactError(
                f"Model artifact {directory} does not match its description ({exc.__class__.__name__}); "
                "retrain with `kg train`."
            ) from exc
        model = model.to(resolve_device(device))
        return cls(
            run_id=manifest["run_id"],
            model_name=spec["model_name"],
            entity_to_id={e: i for i, e in enumerate(entities)},
            relation_to_id={r: i for i, r in enumerate(relations)},
            model=model,
            recipe=recipe,
            fingerprint=manifest.get("fingerprint", ""),
            metrics=json.loads((directory / "metrics.json").read_text("utf-8")),
            info=spec.get("info", {}),
            sample=[tuple(t) for t in json.loads((directory / "sample.json").read_text("utf-8"))],
        )


# ---------------------------------------------------------------------- building
def build_model(
    recipe: ModelRecipe,
    *,
    num_entities: int,
    num_relations: int,
    text_dim: int | None = None,
    text_features: np.ndarray | None = None,
    has_text: np.ndarray | None = None,
    loss: object = None,
    random_seed: int | None = None,
) -> ERModel:
    """The PyKEEN model a recipe describes, text-fused when text features are given."""
    info = KGInfo(
        num_entities=num_entities,
        num_relations=num_relations,
        create_inverse_triples=recipe.create_inverse_triples,
    )
    kwargs: dict[str, Any] = {"embedding_dim": recipe.embedding_dim, **recipe.model_kwargs}
    if loss is not None:
        kwargs["loss"] = loss
    if random_seed is not None:
        kwargs["random_seed"] = random_seed
    if text_features is None and text_dim:
        text_features = np.zeros((num_entities, text_dim), dtype=np.float32)
        has_text = np.zeros(num_entities, dtype=bool)
    with quiet_libraries():  # PyKEEN logs seed and uniqueness notes for every embedding it builds
        model = model_resolver.make(recipe.model, triples_factory=info, **kwargs)
        if text_features is not None:
            attach_text_features(
                model, text_features, np.asarray(has_text), residual_dropout=recipe.text_residual_dropout
            )
    use_embedding_dropout(model, entity=recipe.entity_dropout, relation=recipe.relation_dropout)
    use_contracted_interaction(model)
    return model


# ---------------------------------------------------------------------- integrity
def verify_artifact(directory: Path) -> dict[str, Any]:
    """The manifest of an intact artifact; a ``ModelArtifactError`` otherwise."""
    manifest_path = directory / "manifest.json"
    hint = "delete it with `kg models remove` or retrain with `kg train`."
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        raise ModelArtifactError(f"Model artifact {directory} has no manifest.json; {hint}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelArtifactError(
            f"Model artifact {directory} has an unreadable manifest ({exc}); {hint}"
        ) from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelArtifactError(
            f"Model artifact {directory} has format version {manifest.get('format_version')}, this "
            f"kg reads version {FORMAT_VERSION}; retrain with `kg train`."
        )
    if manifest.get("checksum") != _digest(files):
        raise ModelArtifactError(f"Model artifact {directory}: the manifest was modified; {hint}")
    for name in ARTIFACT_FILES:
        path = directory / name
        if not path.is_file():
            raise ModelArtifactError(f"Model artifact {directory} is incomplete: {name} is missing; {hint}")
        if file_sha256(path) != files.get(name):
            raise ModelArtifactError(
                f"Model artifact {directory} is corrupted: {name} does not match its checksum; {hint}"
            )
    return manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode("utf-8")).hexdigest()


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1, sort_keys=False, default=str), encoding="utf-8")


def _as_real(x: torch.Tensor) -> np.ndarray:
    if x.is_complex():
        x = torch.cat([x.real, x.imag], dim=-1)
    return x.detach().float().cpu().numpy()
