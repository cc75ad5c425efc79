"""Language-model backends that turn a node's facts into a natural description.

Backends are chosen by name (``[embeddings] enrich_backend``):

- ``template`` -- no model: the facts text is the description (the default, offline)
- ``hf``       -- a local transformers model directory (``llm_model``), causal or seq2seq
- ``openai``   -- any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server,
  OpenAI): base URL from ``llm_url`` / ``KG_EMBEDDINGS__LLM_URL`` / ``OPENAI_BASE_URL``,
  key from ``KG_LLM_API_KEY`` or ``OPENAI_API_KEY`` (never from a file)

``embeddings.cache`` keeps every answer under the hash of (backend, model, prompt
version, prompt), so a re-run makes no model calls for nodes whose facts did not change.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from kg.config import EmbeddingSettings
from kg.errors import ConfigError, KGError
from kg.registry import Registry

PROMPT_VERSION = "describe-v1"
SYSTEM_PROMPT = (
    "You write short, factual catalogue descriptions. Use only the facts given; do not invent "
    "prices, places or names."
)


def build_prompt(facts: str) -> str:
    """The user prompt for one node (its version is ``PROMPT_VERSION``)."""
    return (
        "Rewrite these facts about one entity of a knowledge graph as one or two fluent sentences.\n"
        f"Facts: {facts}\nDescription:"
    )


class LLMError(KGError):
    """The language model could not be reached or gave no usable answer."""


class DescriptionBackend(Protocol):
    """Rewrites prompts into descriptions; ``calls`` counts prompts sent to a model."""

    name: str
    model: str
    calls: int
    remote: bool  # prompts leave the machine: they never carry personal data

    def describe(self, prompts: Sequence[str]) -> list[str]: ...


class TemplateBackend:
    """No language model: the facts are the description."""

    name = "template"
    model = "template"
    remote = False

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.calls = 0

    def describe(self, prompts: Sequence[str]) -> list[str]:
        return [facts_of(p) for p in prompts]


class HFBackend:
    """A local transformers model (a directory; nothing is downloaded), greedy decoding."""

    name = "hf"
    remote = False

    def __init__(self, settings: EmbeddingSettings) -> None:
        if not settings.llm_model or not Path(settings.llm_model).expanduser().is_dir():
            raise ConfigError(
                "The hf backend needs [embeddings] llm_model set to a local transformers model directory "
                f"(got {settings.llm_model!r})."
            )
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        from embeddings.text import quiet_transformers

        quiet_transformers()
        path = str(Path(settings.llm_model).expanduser())
        self.model = Path(path).name
        self.calls = 0
        self.max_new_tokens = settings.llm_max_tokens
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right" if self.seq2seq else "left"
        loader = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
        self.lm = loader.from_pretrained(path, local_files_only=True).to(self.device).eval()

    def describe(self, prompts: Sequence[str]) -> list[str]:
        import torch

        encoded = self.tokenizer(list(prompts), return_tensors="pt", padding=True, truncation=True).to(
            self.device
        )
        with torch.inference_mode():
            output = self.lm.generate(
                **encoded,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        if not self.seq2seq:  # a causal model echoes the prompt first
            output = output[:, encoded["input_ids"].shape[1] :]
        self.calls += len(prompts)
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [text.strip() or facts_of(prompt) for text, prompt in zip(texts, prompts, strict=True)]


class OpenAIBackend:
    """An OpenAI-compatible ``/chat/completions`` endpoint, requests in parallel, with
    retries and exponential backoff on timeouts, 429 and 5xx answers."""

    name = "openai"
    remote = True
    system_prompt = SYSTEM_PROMPT  # `kg copy` sets its own

    def __init__(self, settings: EmbeddingSettings) -> None:
        base_url = settings.llm_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError(
                "The openai backend needs a base URL: set KG_EMBEDDINGS__LLM_URL (or OPENAI_BASE_URL), "
                "e.g. http://localhost:8000/v1 for vLLM or http://localhost:11434/v1 for Ollama."
            )
        if not settings.llm_model:
            raise ConfigError("The openai backend needs a model name: set [embeddings] llm_model.")
        self.model = settings.llm_model
        self.calls = 0
        self._lock = threading.Lock()
        self.max_tokens = settings.llm_max_tokens
        self.concurrency = max(1, settings.llm_batch_size)
        key = os.environ.get("KG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=settings.llm_timeout
        )
        self._complete = retry(
            retry=retry_if_exception(retryable),
            wait=wait_exponential(multiplier=settings.llm_backoff, max=30),
            stop=stop_after_attempt(settings.llm_retries),
            reraise=True,
        )(self._complete_once)

    def describe(self, prompts: Sequence[str]) -> list[str]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts) or 1)) as pool:
            try:
                return list(pool.map(self._complete, prompts))
            except httpx.HTTPError as exc:
                raise LLMError(f"The language model at {self.client.base_url} failed: {exc}") from exc

    def _complete_once(self, prompt: str) -> str:
        with self._lock:
            self.calls += 1
        response = self.client.post(
            "/chat/completions",
            json={
                "model": self.model,
                "messages": [
                    {"role": "system", "content": self.system_prompt},
                    {"role": "user", "content": prompt},
                ],
                "temperature": 0,
                "max_tokens": self.max_tokens,
            },
        )
        response.raise_for_status()
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(
                f"The language model at {self.client.base_url} sent an unexpected answer: {exc}"
            ) from exc
        return (text or "").strip() or facts_of(prompt)


def retryable(exc: BaseException) -> bool:
    """A timeout, a dropped connection, 429 or 5xx: worth another try after a wait."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


BACKENDS: Registry[Callable[[EmbeddingSettings], DescriptionBackend]] = Registry(
    "enrich backend",
    {"template": TemplateBackend, "hf": HFBackend, "openai": OpenAIBackend},
    error=ConfigError,
)


def make_backend(settings: EmbeddingSettings, name: str | None = None) -> DescriptionBackend:
    return BACKENDS.get(name or settings.enrich_backend)(settings)


def facts_of(prompt: str) -> str:
    """The facts part of a prompt built by :func:`build_prompt`."""
    _, sep, rest = prompt.partition("Facts: ")
    return rest.rsplit("\nDescription:", 1)[0] if sep else prompt
