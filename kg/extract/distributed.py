"""Extraction over many workers with Dask: workers analyse, this process resolves and writes.

The analysis -- spaCy, the catalogue ruler, the dependency rules, the joint model,
attributes -- is nearly all of the work and needs no graph, so it runs on the workers of
a Dask cluster. Entity resolution depends on the names seen earlier in the run, and the
store has a single writer, so both stay here, in input order: a distributed run writes
exactly what a local one would.

Each worker gets plain data once, through a worker plugin (workers that join later get
it too): the extraction settings, the schema, the catalogue (ruler patterns and node
names) read here from the store, and the folder of the trained model -- a path every
worker must be able to read. Workers need this package and the spaCy model installed. Every write batch is
cut into partitions of ``extract.batch_size`` documents that the workers analyse in
parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from distributed import Client, LocalCluster, WorkerPlugin, get_worker

from kg.config import ExtractSettings, Settings
from kg.errors import ConfigError
from kg.extract.entities import Catalogue, read_catalogue
from kg.extract.facts import DocumentFacts, DocumentRecord
from kg.extract.pipeline import Extractor, TextAnalyser
from kg.extract.training import ExtractionModel
from kg.schema import Schema
from kg.store.base import GraphStore


class AnalyserPlugin(WorkerPlugin):
    """Builds the store-free pipeline once on each worker, from data shipped by the client."""

    def __init__(
        self,
        settings: ExtractSettings,
        schema: Schema,
        catalogue: Catalogue,
        model_dir: Path | None,
    ) -> None:
        self.settings = settings.model_copy(update={"n_process": 1})  # a worker is one process
        self.schema = schema
        self.catalogue = catalogue
        self.model_dir = model_dir
        self.analyser: TextAnalyser | None = None

    def setup(self, worker: object) -> None:
        model = ExtractionModel.load(self.model_dir) if self.model_dir is not None else None
        self.analyser = TextAnalyser(self.settings, self.schema, self.catalogue, model)


def analyse_partition(documents: list[DocumentRecord], plugin: str) -> list[DocumentFacts]:
    """Runs on a worker: the facts of one partition, from that worker's pipeline."""
    analyser = get_worker().plugins[plugin].analyser  # type: ignore[attr-defined]
    return analyser.analyse(documents)


class ClusterAnalyser:
    """The analysis half of :class:`~kg.extract.pipeline.Extractor`, spread over a cluster."""

    def __init__(self, client: Client, plugin: str, partition_size: int) -> None:
        self.client = client
        self.plugin = plugin
        self.partition_size = partition_size

    def analyse(self, documents: list[DocumentRecord]) -> list[DocumentFacts]:
        size = self.partition_size
        partitions = [documents[i : i + size] for i in range(0, len(documents), size)]
        futures = self.client.map(analyse_partition, partitions, plugin=self.plugin, pure=False)
        return [facts for partition in self.client.gather(futures) for facts in partition]


@contextmanager
def cluster_extractor(
    client: Client, settings: Settings, store: GraphStore, model_dir: Path | None = None
) -> Iterator[Extractor]:
    """An :class:`Extractor` whose analysis runs on ``client``'s workers, resolving
    against ``store``; the workers' pipelines are removed again afterwards."""
    name = f"kg-extract-{uuid4().hex[:12]}"
    catalogue = read_catalogue(store, settings.extract.catalog_labels)
    client.register_plugin(AnalyserPlugin(settings.extract, store.schema, catalogue, model_dir), name=name)
    try:
        yield Extractor(settings, store, analyser=ClusterAnalyser(client, name, settings.extract.batch_size))
    finally:
        client.unregister_worker_plugin(name)


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, *, connect_seconds: float = 20.0
) -> Iterator[Client]:
    """A client of the cluster whose scheduler is at ``scheduler`` (``tcp://host:8786``),
    or of a local cluster of ``workers`` single-threaded processes for the duration."""
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=connect_seconds)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"No Dask scheduler answers at {scheduler} ({exc}); start one with `dask scheduler` "
                "and workers with `dask worker ADDRESS`, or use --workers N for a local cluster."
            ) from exc
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
