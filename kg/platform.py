"""The platform as a Python object, for notebooks and scripts: the same verbs as the CLI.

    from kg import Platform
    p = Platform.open("./kg-data/graph")          # or a bolt:// / neo4j:// URI, or None for KG_STORE
    p.ingest("ratings.csv", mapping="ratings.toml")
    p.train(model="distmult", num_epochs=50)
    p.recommend("U00001", k=10, explain=True)     # a DataFrame: rank, item, name, score, reason, ...

Each call opens the store for the time it needs and closes it again, as a CLI command
does: the embedded store admits one writer at a time, so a notebook that held it open
would lock out every `kg` command. Results are plain data (DataFrames, reports).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kg.config import Settings, load_settings
from kg.errors import InputError
from kg.progress import ProgressReporter
from kg.store import GraphCounts, open_store


@dataclass(frozen=True)
class Platform:
    """One graph (embedded folder or Neo4j URI) with its settings."""

    settings: Settings

    @classmethod
    def open(
        cls, store: str | Path | None = None, *, config: Path | None = None, **overrides: Any
    ) -> Platform:
        """Settings as the CLI builds them: ``overrides`` over ``KG_*`` over the config file."""
        return cls(load_settings(config, store=None if store is None else str(store), **overrides))

    # ------------------------------------------------------------------ build the graph
    def ingest(
        self,
        path: str | Path,
        *,
        fmt: str | None = None,
        mapping: str | Path | None = None,
        strict: bool = False,
        dangling: str = "placeholder",
        encoding: str | None = None,
        pseudonymise: bool = False,
        progress: ProgressReporter | None = None,
    ) -> Any:
        """Load a CSV/TSV/JSONL file (with a mapping) or a MovieLens folder; the
        ``IngestReport`` says what was created, updated, unchanged and rejected.

        The input is checked before the store is opened: input that cannot be loaded
        leaves no store behind. ``pseudonymise`` replaces people's ids and identifier
        properties by keyed hashes (the key from ``KG_PSEUDONYM_KEY``)."""
        from kg.ingest import plan_ingest, run_ingest
        from kg.privacy.pseudonyms import key_from_environment, pseudonymiser
        from kg.schema import Schema

        if pseudonymise:
            key_from_environment()  # a missing key stops the run before anything is read

        if dangling not in ("placeholder", "skip"):
            raise InputError("--dangling must be 'placeholder' or 'skip'.")
        plan = plan_ingest(
            Path(path),
            Schema.default(self.settings.schema_extension),
            fmt=fmt,
            mapping=None if mapping is None else Path(mapping),
            strict=strict,
            batch_size=self.settings.batch_size,
            encoding=encoding,
        )
        with open_store(self.settings) as store, ExitStack() as stack:
            rewrite = None
            if pseudonymise:
                renamer, vault = pseudonymiser(self.settings, store.schema)
                stack.enter_context(vault)
                rewrite = renamer.batches
            return run_ingest(
                store,
                plan,
                dangling=dangling,  # type: ignore[arg-type]
                progress=progress,
                rejects_dir=self.settings.data_dir,
                rewrite=rewrite,
            )

    # ------------------------------------------------------------------ personal data
    def forget(self, users: list[str]) -> Any:
        """Erase users and everything derived from them; the ``ForgetReport`` says what went."""
        from kg.privacy.forget import forget_users

        with open_store(self.settings) as store:
            return forget_users(self.settings, store, users)

    def user_record(self, user: str) -> dict[str, Any]:
        """Everything the graph holds about one user, as JSON-ready data (right of access)."""
        from kg.privacy.access import user_record

        with open_store(self.settings, read_only=True) as store:
            return user_record(store, user)

    def load_dataset(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        progress: ProgressReporter | None = None,
    ) -> list[tuple[Path, Any]]:
        """Generate, download (or take from ``path``) a dataset of ``kg datasets list`` and
        ingest its files; one ``(file, IngestReport)`` per file, in load order."""
        from kg.datasets.load import dataset_info, dataset_inputs
        from kg.ingest import ingest_path

        fmt = dataset_info(name).ingest_format
        inputs = dataset_inputs(
            name,
            self.settings.data_dir,
            path=None if path is None else Path(path),
            url=url,
            progress=progress,
        )
        with open_store(self.settings) as store:
            return [
                (data, ingest_path(store, data, fmt=fmt, mapping=mapping, progress=progress))
                for data, mapping in inputs
            ]

    def stats(self) -> GraphCounts:
        with open_store(self.settings, read_only=True) as store:
            return store.counts()

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pd.DataFrame:
        """Run one Cypher statement; read-only (nothing outside the graph either) unless ``write``."""
        with open_store(self.settings, read_only=not write, ensure_schema=write) as store:
            return store.query(cypher, params, write=write)

    # ------------------------------------------------------------------ learn
    def train(self, model: str | None = None, *, text: bool = False, **options: Any) -> Any:
        """Train, evaluate and register knowledge-graph embeddings (``kg train``);
        ``options`` are recipe fields such as ``num_epochs`` or ``embedding_dim``."""
        from embeddings.workflow import train_from_store

        with open_store(self.settings) as store:
            return train_from_store(self.settings, store, model=model, text=text, **options)

    # ------------------------------------------------------------------ recommend and target
    def recommend(
        self, user: str, k: int | None = None, *, explain: bool = False, **filters: Any
    ) -> pd.DataFrame:
        """Top-``k`` unseen items for ``user``; ``filters``: category, brand, genre,
        min_price, max_price, in_stock (as the CLI options)."""
        recommender = self._recommender()
        return recommender.recommend(user, k, _item_filter(filters), explain=explain)

    def similar(self, item: str, k: int | None = None, **filters: Any) -> pd.DataFrame:
        return self._recommender().similar_items(item, k, _item_filter(filters), explain=True)

    def audience(self, target: str, k: int = 20) -> pd.DataFrame:
        """The users most likely to convert on an item, category, brand or genre (users
        who refused marketing left out; fewer than ``privacy.min_group_size`` refused)."""
        from kg.recommend.audience import consented_audience

        recommender = self._recommender()
        with open_store(self.settings, read_only=True) as store:
            frame, _ = consented_audience(store, self.settings, recommender, target, k)
        return frame

    def evaluate(self, k: int | None = None) -> pd.DataFrame:
        """The offline evaluation table of ``kg evaluate`` (fused model, signals, baselines)."""
        from kg.recommend.evaluate import evaluate_graph

        with open_store(self.settings, read_only=True) as store:
            evaluation, _ = evaluate_graph(store, self.settings, k=k)
        return evaluation.table

    def _recommender(self) -> Any:
        from kg.recommend.service import load_recommender

        with open_store(self.settings, read_only=True) as store:
            return load_recommender(store, self.settings)


def _item_filter(filters: dict[str, Any]) -> Any:
    from kg.recommend.filters import ItemFilter

    return ItemFilter(**filters) if filters else None
