"""The current schema, as SQLAlchemy Core tables. The Alembic revisions in ``migrations/`` build
it (a test checks they agree); queries use it.

A run is one invocation (an ``ask``, an experiment, a translation job, a word analysis, a
benchmark); everything it produced hangs off it.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # ask | experiment | translate | words | bench
    Column("status", String(20), nullable=False),  # running | done | failed | interrupted
    Column("spec", JSON),  # what was asked: the experiment file, parameters, ...
    Column("spec_hash", String(64)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    # the lease: which process works on the run, since when, and its last sign of life
    Column("holder", String(200)),  # "host:pid:random"
    Column("held_since", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
)

generations = Table(
    "generations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("model", String(500), nullable=False),
    Column("backend", String(20), nullable=False),
    Column("device", String(200)),  # placement summary, e.g. "cpu" or "cuda:0=20,cpu=10"
    Column("placement", JSON),  # layers per device
    Column("dtype", String(20)),
    Column("params", JSON),
    Column("messages", JSON),
    Column("prompt", Text),  # the exact text after the chat template
    Column("response", Text),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("load_s", Float),
    Column("ttft_s", Float),
    Column("total_s", Float),
    Column("tokens_per_s", Float),
    Column("finish_reason", String(20)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by migration 2 (experiments)
    Column("variant", String(200)),
    Column("style", String(40)),
    Column("vars", JSON),
    Column("repeat_index", Integer),
    Column("cell_key", String(64), index=True),  # position in an experiment's matrix
    Column("cache_key", String(64), index=True),
    Column("cached", Boolean),
    # added by m005
    Column("role", String(20)),  # NULL: an answer of the model under test; "judge": a verdict
    Column(
        "judged_generation_id",
        Integer,
        ForeignKey("generations.id", ondelete="CASCADE", name="fk_generations_judged_generation_id"),
        index=True,
    ),
    Column("cached_from_id", Integer),  # the generation whose result this row reuses
    Column("text_altered", Boolean),  # text changed to be storable (U+0000 -> U+FFFD)
    Column("usage_source", String(20)),  # tokenizer | server | chunks
    Column("cost", Float),  # currency units, from per-million-token prices
    Column("timings", JSON),  # phase split in seconds: import_s, load_s, prefill_s, decode_s, ...
    # One result per cell of a run; NULL cell keys (asks, judge verdicts) never collide.
    UniqueConstraint("run_id", "cell_key", name="uq_generations_run_id_cell_key"),
)

checks = Table(
    "checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "generation_id",
        Integer,
        ForeignKey("generations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(40), nullable=False),
    Column("spec", JSON),
    Column("passed", Boolean),  # NULL: not judged (an llm-rubric check without a judge)
    Column("reason", Text),
    Column("score", Float),  # 0..1 where the check has a score
)

translations = Table(
    "translations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column(
        "generation_id",
        Integer,
        ForeignKey("generations.id", ondelete="CASCADE"),
        index=True,
    ),
    Column("translator", String(500), nullable=False),
    Column("source_lang", String(20), nullable=False),
    Column("target_lang", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("translation", Text, nullable=False),
    Column("seconds", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by m007: why the text is not taken for a translation (NULL: it is); see translate.flags
    Column("flag", Text),
    UniqueConstraint(
        "generation_id", "translator", "source_lang", "target_lang",
        name="uq_translations_generation_id_translator_langs",
    ),
)

translation_scores = Table(
    "translation_scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("translator", String(500), nullable=False),
    Column("segments", Integer, nullable=False),
    Column("chrf", Float),
    Column("bleu", Float),
    Column("chrf_signature", String(200)),
    Column("bleu_signature", String(200)),
    Column("hangul_share", Float),
    Column("segments_per_s", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("flagged", Integer),  # added by m007: segments stored flagged (translate.flags), counted apart
)

analyses = Table(
    "analyses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), index=True),  # its own run
    Column("source_run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), index=True),
    Column("params_hash", String(64), nullable=False, index=True),
    Column("params", JSON, nullable=False),
    Column("documents", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

bench_results = Table(
    "bench_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("model", String(500), nullable=False),
    Column("backend", String(20), nullable=False),
    Column("config", JSON),
    Column("status", String(20), nullable=False),  # ok | skipped | oom | failed
    Column("reason", Text),
    Column("metrics", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Rows a migration moved aside (duplicates found when a unique constraint arrived), as JSON.
archived_rows = Table(
    "archived_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("table_name", String(40), nullable=False),
    Column("row_id", Integer, nullable=False),
    Column("run_id", Integer, index=True),
    Column("reason", String(200), nullable=False),
    Column("row", JSON, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)
