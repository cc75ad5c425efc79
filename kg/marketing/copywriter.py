"""Turning briefs into checked copy: model or template, cached, budgeted, retried.

For each brief the versioned prompt is looked up in the content-hash cache (a hit costs
no call), else sent to the configured backend (``embeddings.llm``: a local Hugging Face
folder or an OpenAI-compatible endpoint) within the run's :class:`CallBudget`, retried
with exponential backoff on timeouts, 429 and 5xx. Every draft is fact-checked; a draft
with issues is asked for again, up to ``max_regenerations`` times, saying what was wrong.
The template backend writes deterministic copy with no model at all, and takes over --
reported -- when the budget is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from embeddings.cache import EnrichCache, content_key
from embeddings.llm import DescriptionBackend, LLMError, make_backend, retryable
from kg.config import Settings
from kg.marketing.budget import BudgetExhausted, CallBudget
from kg.marketing.factcheck import FactCheck, FactChecker
from kg.marketing.prompts import PROMPT_VERSION, SYSTEM_PROMPT, CopyBrief, build_prompt, regeneration_prompt
from kg.marketing.template import template_copy
from kg.progress import ProgressReporter, SilentProgress

TEMPLATE = "template"
CACHE_FILE = "copy.sqlite"


@dataclass(frozen=True)
class Draft:
    """The copy kept for one brief, and how it was obtained."""

    text: str
    model: str
    prompt_version: str
    checked: bool
    issues: tuple[str, ...]
    regenerations: int


@dataclass
class CopyRun:
    """What a run cost and how often the model made things up."""

    backend: str
    model: str
    max_calls: int = 0
    max_tokens: int = 0
    calls: int = 0
    tokens: int = 0
    cache_hits: int = 0
    drafts: int = 0
    hallucinated: int = 0
    regenerations: int = 0
    unchecked: int = 0
    budget_fallbacks: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def hallucination_rate(self) -> float:
        """Share of drafts checked that contradicted the graph or named unknown entities."""
        return self.hallucinated / self.drafts if self.drafts else 0.0

    def summary_lines(self) -> list[str]:
        lines = [
            f"Copy by {self.backend} ({self.model}): {self.drafts} drafts checked, "
            f"hallucination rate {self.hallucination_rate:.1%}, {self.regenerations} regenerated, "
            f"{self.unchecked} stored unchecked"
        ]
        if self.backend != TEMPLATE:
            lines.append(
                f"Budget: {self.calls} of {self.max_calls} calls, ~{self.tokens:,} of {self.max_tokens:,} "
                f"tokens; {self.cache_hits} answers from the cache"
            )
        if self.budget_fallbacks:
            lines.append(f"{self.budget_fallbacks} pieces written by the template: the budget was spent")
        return lines + self.notes


class Copywriter:
    """Writes checked copy for briefs with one backend for one run."""

    def __init__(self, settings: Settings, checker: FactChecker, backend: str | None = None) -> None:
        config = settings.marketing
        self.checker = checker
        self.max_regenerations = config.max_regenerations
        self.llm = settings.embeddings
        name = (backend or config.copy_backend).strip().lower()
        self.backend: DescriptionBackend | None = None
        self.cache: EnrichCache | None = None
        if name != TEMPLATE:  # one attempt per call: retries are ours, so each one is budgeted
            self.backend = make_backend(self.llm.model_copy(update={"llm_retries": 1}), name)
            if hasattr(self.backend, "system_prompt"):
                self.backend.system_prompt = SYSTEM_PROMPT  # type: ignore[attr-defined]
            self.cache = EnrichCache(Path(settings.cache_dir) / CACHE_FILE)
        self.budget = CallBudget(config.max_calls, config.max_tokens, self.llm.llm_max_tokens)
        self.run = CopyRun(
            name,
            self.backend.model if self.backend else TEMPLATE,
            max_calls=config.max_calls,
            max_tokens=config.max_tokens,
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Copywriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, briefs: Sequence[CopyBrief], progress: ProgressReporter | None = None) -> list[Draft]:
        """One draft per brief, in order, with a progress bar over the briefs."""
        progress = progress or SilentProgress()
        drafts = []
        with progress.task(f"Writing {len(briefs):,} pieces of copy ({self.run.backend})", len(briefs)):
            for brief in briefs:
                drafts.append(self._draft(brief))
                progress.advance()
        return drafts

    def _draft(self, brief: CopyBrief) -> Draft:
        prompt = base = build_prompt(brief)
        for attempt in range(self.max_regenerations + 1):
            text = self._ask(prompt) if self.backend is not None else template_copy(brief)
            if text is None:  # the budget is spent: the template writes it
                return self._template_draft(brief, base)
            check = self._check(text, brief, base)
            if check.passed:
                return Draft(text, self._model, PROMPT_VERSION, True, (), attempt)
            if attempt < self.max_regenerations:
                self.run.regenerations += 1
                prompt = regeneration_prompt(base, text, check.messages())
        self.run.unchecked += 1
        return Draft(
            text, self._model, PROMPT_VERSION, False, tuple(check.messages()), self.max_regenerations
        )

    @property
    def _model(self) -> str:
        return self.backend.model if self.backend else TEMPLATE

    def _template_draft(self, brief: CopyBrief, prompt: str) -> Draft:
        self.run.budget_fallbacks += 1
        text = template_copy(brief)
        check = self._check(text, brief, prompt)
        if not check.passed:
            self.run.unchecked += 1
        return Draft(text, TEMPLATE, PROMPT_VERSION, check.passed, tuple(check.messages()), 0)

    def _check(self, text: str, brief: CopyBrief, prompt: str) -> FactCheck:
        check = self.checker.check(text, brief, prompt)
        self.run.drafts += 1
        self.run.hallucinated += int(check.hallucinated)
        return check

    def _ask(self, prompt: str) -> str | None:
        """The model's answer to ``prompt``: from the cache, else one budgeted call with
        retries; None once the budget is spent."""
        assert self.backend is not None and self.cache is not None
        key = content_key(self.backend.name, self.backend.model, PROMPT_VERSION, SYSTEM_PROMPT, prompt)
        cached = self.cache.get_texts([key])
        if key in cached:
            self.run.cache_hits += 1
            return cached[key]
        try:
            text = self._call(prompt)
        except BudgetExhausted as exc:
            note = f"Budget spent: {exc}; the rest is written by the template."
            if note not in self.run.notes:
                self.run.notes.append(note)
            return None
        finally:
            self.run.calls, self.run.tokens = self.budget.calls, self.budget.tokens
        self.cache.put_texts({key: text})
        return text

    def _call(self, prompt: str) -> str:
        assert self.backend is not None
        for attempt in Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=self.llm.llm_backoff, max=30),
            stop=stop_after_attempt(self.llm.llm_retries),
            reraise=True,
        ):
            with attempt:
                self.budget.reserve(prompt)
                text = self.backend.describe([prompt])[0].strip()
                self.budget.settle(prompt, text)
        return "" if text == prompt else text  # the backends answer an empty completion with the prompt


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, LLMError) and exc.__cause__ is not None and retryable(exc.__cause__)
