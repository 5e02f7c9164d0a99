"""The current schema, as SQLAlchemy Core tables. Migrations build it; queries use it.

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
    Column("passed", Boolean, nullable=False),
    Column("reason", Text),
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
