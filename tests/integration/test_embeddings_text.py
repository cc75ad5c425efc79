"""Node text and its vectors: MiniLM encodings, neighbourhood facts, the template, hf and
openai backends (a tiny model built here; a real HTTP server on loopback) and the cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embeddings.enrich import build_node_texts, enrich_store
from embeddings.llm import HFBackend, LLMError, build_prompt, make_backend
from embeddings.text import encode_texts, node_text_embeddings
from kg.config import EmbeddingSettings, Settings
from kg.errors import ConfigError
from kg.ids import slugify
from kg.store import GraphStore
from tests.llm_server import RecordingChatServer, recording_chat_server
from tests.shop_graph import build_shop_graph


@pytest.fixture
def shop(store: GraphStore, tmp_path: Path):
    return build_shop_graph(store, tmp_path / "shop")


def test_encode_texts_gives_unit_vectors_that_put_similar_texts_close() -> None:
    vectors = encode_texts(["a red running shoe", "a crimson jogging sneaker", "a ceramic cookware set"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1
    assert encode_texts([]).shape == (0, 384)


def test_node_text_states_the_neighbourhood(store: GraphStore, shop) -> None:
    texts = build_node_texts(store, ["Item", "User", "Category"]).set_index(["label", "id"])["facts"]
    item = shop.items.iloc[0]
    facts = texts["Item", item["id"]]
    category = shop.categories.set_index("id").loc[item["category_id"], "name"]
    assert facts.startswith(f"Item: {item['name']}.")
    assert f"has brand: {item['brand']}" in facts and f"in category: {category}" in facts
    assert "purchased by" in facts or "viewed by" in facts  # users are counted, not named
    user = shop.purchased["from_id"].iloc[0]
    assert "purchased: " in texts["User", user]
    assert "category of: " in texts["Category", item["category_id"]]


def test_template_enrich_stores_text_and_vectors_and_reruns_from_cache(
    store: GraphStore, shop, settings: Settings
) -> None:
    first = enrich_store(settings, store, labels=["Item", "Brand"])
    count = len(shop.items) + store.counts().nodes["Brand"]
    assert first.total_nodes == count and first.model_calls == 0 and first.vectors_new > 0
    rows = next(store.iter_nodes("Item", properties=["node_text", "node_text_model", "node_text_prompt"]))
    assert rows["node_text_model"].eq("template").all() and rows["node_text_prompt"].eq("facts-v1").all()
    vectors = node_text_embeddings(store, "Item")
    assert len(vectors) == len(shop.items) and all(v.shape == (384,) for v in vectors.values())
    again = enrich_store(settings, store, labels=["Item", "Brand"])
    assert again.vectors_new == 0 and again.vectors_cached == count and again.descriptions_new == 0


# ---------------------------------------------------------------------- openai backend
@pytest.fixture
def chat_server() -> Iterator[RecordingChatServer]:
    """The loopback server; its first request gets a 500."""
    with recording_chat_server() as server:
        server.script = [500]
        yield server


def test_openai_backend_describes_nodes_retries_and_a_second_enrich_makes_no_calls(
    store: GraphStore,
    shop,
    settings: Settings,
    chat_server: RecordingChatServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KG_LLM_API_KEY", "test-key")
    url = f"http://127.0.0.1:{chat_server.server_address[1]}/v1"
    configured = settings.model_copy(
        update={
            "embeddings": settings.embeddings.model_copy(
                update={"llm_url": url, "llm_model": "tiny-chat", "llm_backoff": 0.0}
            )
        }
    )
    brands = store.counts().nodes["Brand"]
    report = enrich_store(configured, store, backend="openai", labels=["Brand"])
    assert report.model_calls == brands + 1  # one answer was a 500 and was retried
    assert len(chat_server.requests) == brands + 1
    assert chat_server.authorization == {"Bearer test-key"}
    assert {r["model"] for r in chat_server.requests} == {"tiny-chat"}
    texts = next(store.iter_nodes("Brand", properties=["node_text", "node_text_model", "node_text_prompt"]))
    assert texts["node_text"].str.startswith("Described: Brand: ").all()
    assert texts["node_text_model"].eq("openai:tiny-chat").all()
    assert texts["node_text_prompt"].eq("facts-v1+describe-v1").all()

    again = enrich_store(configured, store, backend="openai", labels=["Brand"])
    assert again.model_calls == 0 and again.descriptions_cached == brands
    assert len(chat_server.requests) == brands + 1


def test_second_kg_enrich_run_makes_zero_model_calls(
    store: GraphStore,
    shop,
    settings: Settings,
    chat_server: RecordingChatServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store.close()
    monkeypatch.setenv("KG_EMBEDDINGS__LLM_URL", f"http://127.0.0.1:{chat_server.server_address[1]}/v1")
    monkeypatch.setenv("KG_EMBEDDINGS__LLM_MODEL", "tiny-chat")
    monkeypatch.setenv("KG_EMBEDDINGS__LLM_BACKOFF", "0")
    monkeypatch.setenv("KG_DATA_DIR", str(settings.data_dir))
    from cli import app

    args = ["--store", settings.store, "enrich", "--backend", "openai", "--label", "Category"]
    first = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    calls = len(chat_server.requests)
    assert calls > 1 and "model calls 0" not in first.output
    second = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert second.exit_code == 0, second.output
    assert "model calls 0" in second.output
    assert len(chat_server.requests) == calls


def test_openai_backend_errors_are_clear(chat_server: RecordingChatServer) -> None:
    with pytest.raises(ConfigError, match="base URL"):
        make_backend(EmbeddingSettings(enrich_backend="openai", llm_model="m"))
    url = f"http://127.0.0.1:{chat_server.server_address[1]}/wrong"
    backend = make_backend(
        EmbeddingSettings(enrich_backend="openai", llm_model="m", llm_url=url, llm_retries=2, llm_backoff=0)
    )
    with pytest.raises(LLMError, match="failed"):
        backend.describe([build_prompt("Brand: X.")])
    with pytest.raises(ConfigError, match="Unknown enrich backend"):
        make_backend(EmbeddingSettings(), "gpt")


# ---------------------------------------------------------------------- hf backend
@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised one-layer GPT-2 with a word-level tokenizer, built and saved
    here (nothing downloaded)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = [
        "brand",
        "item",
        "category",
        "of",
        "has",
        "in",
        "made",
        "the",
        "a",
        "and",
        "with",
        "by",
        "description",
        "rewrite",
        "these",
        "facts",
        "as",
    ]
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[EOS]", *dict.fromkeys(words)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer.save_pretrained(folder)
    config = GPT2Config(
        vocab_size=len(vocab), n_positions=512, n_embd=32, n_layer=1, n_head=2,
        bos_token_id=vocab["[EOS]"], eos_token_id=vocab["[EOS]"], pad_token_id=vocab["[PAD]"],
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_hf_backend_generates_with_a_local_model(tiny_causal_lm: Path) -> None:
    backend = HFBackend(
        EmbeddingSettings(enrich_backend="hf", llm_model=str(tiny_causal_lm), llm_max_tokens=6)
    )
    prompts = [build_prompt("Brand: Northpeak. brand of: Trail Jacket."), build_prompt("Category: Tents.")]
    answers = backend.describe(prompts)
    assert len(answers) == 2 and all(isinstance(a, str) and a for a in answers)
    assert backend.calls == 2 and backend.model == tiny_causal_lm.name
    vocabulary = set(json.loads((tiny_causal_lm / "tokenizer.json").read_text())["model"]["vocab"])
    for answer, prompt in zip(
        answers, prompts, strict=True
    ):  # generated words, or the facts if it said nothing
        assert set(answer.split()) <= vocabulary or answer in prompt
    assert backend.describe(prompts) == answers  # greedy decoding is deterministic


def test_hf_enrich_records_the_model_on_the_node(
    store: GraphStore, shop, settings: Settings, tiny_causal_lm: Path
) -> None:
    configured = settings.model_copy(
        update={
            "embeddings": settings.embeddings.model_copy(
                update={"llm_model": str(tiny_causal_lm), "llm_max_tokens": 4}
            )
        }
    )
    report = enrich_store(configured, store, backend="hf", labels=["Material"])
    assert report.model_calls == report.total_nodes > 0
    rows = next(store.iter_nodes("Material", properties=["node_text_model"]))
    assert rows["node_text_model"].eq(f"hf:{tiny_causal_lm.name}").all()
    with pytest.raises(ConfigError, match="local transformers model directory"):
        HFBackend(EmbeddingSettings(llm_model=str(tiny_causal_lm / "missing")))


def test_nodes_without_a_vector_are_left_out(store: GraphStore) -> None:
    store.upsert_nodes("Brand", pd.DataFrame({"id": [slugify("Acme")], "name": ["Acme"]}))
    assert node_text_embeddings(store, "Brand") == {}
