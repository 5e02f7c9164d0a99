-- hanprompt schema at revision m007, written by migrations.sqlite_schema() from a database Alembic migrated
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE analyses (
	id INTEGER NOT NULL, 
	run_id INTEGER, 
	source_run_id INTEGER, 
	params_hash VARCHAR(64) NOT NULL, 
	params JSON NOT NULL, 
	documents INTEGER NOT NULL, 
	total_tokens INTEGER NOT NULL, 
	result JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE, 
	FOREIGN KEY(source_run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE TABLE archived_rows (
	id INTEGER NOT NULL, 
	table_name VARCHAR(40) NOT NULL, 
	row_id INTEGER NOT NULL, 
	run_id INTEGER, 
	reason VARCHAR(200) NOT NULL, 
	"row" JSON NOT NULL, 
	archived_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE bench_results (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	model VARCHAR(500) NOT NULL, 
	backend VARCHAR(20) NOT NULL, 
	config JSON, 
	status VARCHAR(20) NOT NULL, 
	reason TEXT, 
	metrics JSON, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE TABLE "checks" (
	id INTEGER NOT NULL, 
	generation_id INTEGER NOT NULL, 
	name VARCHAR(40) NOT NULL, 
	spec JSON, 
	passed BOOLEAN, 
	reason TEXT, 
	score FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(generation_id) REFERENCES generations (id) ON DELETE CASCADE
);
CREATE TABLE "generations" (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	model VARCHAR(500) NOT NULL, 
	backend VARCHAR(20) NOT NULL, 
	device VARCHAR(200), 
	placement JSON, 
	dtype VARCHAR(20), 
	params JSON, 
	messages JSON, 
	prompt TEXT, 
	response TEXT, 
	input_tokens INTEGER, 
	output_tokens INTEGER, 
	load_s FLOAT, 
	ttft_s FLOAT, 
	total_s FLOAT, 
	tokens_per_s FLOAT, 
	finish_reason VARCHAR(20), 
	error TEXT, 
	created_at DATETIME NOT NULL, 
	variant VARCHAR(200), 
	style VARCHAR(40), 
	vars JSON, 
	repeat_index INTEGER, 
	cell_key VARCHAR(64), 
	cache_key VARCHAR(64), 
	cached BOOLEAN, 
	role VARCHAR(20), 
	judged_generation_id INTEGER, 
	cached_from_id INTEGER, 
	text_altered BOOLEAN, 
	usage_source VARCHAR(20), 
	cost FLOAT, 
	timings JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_generations_judged_generation_id FOREIGN KEY(judged_generation_id) REFERENCES generations (id) ON DELETE CASCADE, 
	CONSTRAINT uq_generations_run_id_cell_key UNIQUE (run_id, cell_key), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	spec JSON, 
	spec_hash VARCHAR(64), 
	error TEXT, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, holder VARCHAR(200), held_since DATETIME, heartbeat_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE translation_scores (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	translator VARCHAR(500) NOT NULL, 
	segments INTEGER NOT NULL, 
	chrf FLOAT, 
	bleu FLOAT, 
	chrf_signature VARCHAR(200), 
	bleu_signature VARCHAR(200), 
	hangul_share FLOAT, 
	segments_per_s FLOAT, 
	created_at DATETIME NOT NULL, flagged INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE TABLE "translations" (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	generation_id INTEGER, 
	translator VARCHAR(500) NOT NULL, 
	source_lang VARCHAR(20) NOT NULL, 
	target_lang VARCHAR(20) NOT NULL, 
	source TEXT NOT NULL, 
	translation TEXT NOT NULL, 
	seconds FLOAT, 
	created_at DATETIME NOT NULL, flag TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_translations_generation_id_translator_langs UNIQUE (generation_id, translator, source_lang, target_lang), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE, 
	FOREIGN KEY(generation_id) REFERENCES generations (id) ON DELETE CASCADE
);
CREATE INDEX ix_analyses_params_hash ON analyses (params_hash);
CREATE INDEX ix_analyses_run_id ON analyses (run_id);
CREATE INDEX ix_analyses_source_run_id ON analyses (source_run_id);
CREATE INDEX ix_archived_rows_run_id ON archived_rows (run_id);
CREATE INDEX ix_bench_results_run_id ON bench_results (run_id);
CREATE INDEX ix_checks_generation_id ON checks (generation_id);
CREATE INDEX ix_generations_cache_key ON generations (cache_key);
CREATE INDEX ix_generations_cell_key ON generations (cell_key);
CREATE INDEX ix_generations_judged_generation_id ON generations (judged_generation_id);
CREATE INDEX ix_generations_run_id ON generations (run_id);
CREATE INDEX ix_translation_scores_run_id ON translation_scores (run_id);
CREATE INDEX ix_translations_generation_id ON translations (generation_id);
CREATE INDEX ix_translations_run_id ON translations (run_id);
