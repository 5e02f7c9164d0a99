"""A log with what the report and the viewer show, written through hanprompt.store.

The sample log holds an experiment (variants x vars x two models, repeats, checks that pass and
fail, a cache hit, translations, a word analysis by variant, hostile markup in every text
field), a translate run with scores, and an earlier run of the experiment to compare with.
"""
from __future__ import annotations

from dataclasses import dataclass

#: markup that would run if any text were emitted unescaped; each sets window.__pwned
HOSTILE = {
    "script": "<script>window.__pwned = 'script'</script>",
    "img": '<img src=x onerror="window.__pwned = \'img\'">',
    "link": '<a href="javascript:window.__pwned = \'link\'">click me</a>',
    "textarea": "</textarea></pre></details><script>window.__pwned = 'textarea'</script>",
    "style": "<style>body { display: none }</style>",
}
HOSTILE_TEXT = " ".join(HOSTILE.values())

KO_ANSWER = (
    "서울은 한국의 수도입니다. 서울에서 꼭 가 볼 곳은 경복궁과 북촌 한옥마을입니다.\n"
    "부산은 바다와 시장으로 유명합니다. 부산의 자갈치 시장에서 생선을 먹어 보세요."
)
KO_SHORT = "한국의 수도는 서울입니다."
SECRET = "sk-do-not-show-3141592653"


@dataclass
class SampleLog:
    url: str
    experiment: int  # run id of the main experiment
    previous: int  # an earlier run of the same experiment
    translate: int  # a translate run with reference scores
    words: int  # the words run made from the experiment
    bench: int  # a bench run: one ok row, one skipped
    experiment_first: int  # the first answer of the experiment, which the cache hit reuses
    xss_generation: int  # the generation whose prompt and response carry HOSTILE_TEXT
    cached_generation: int
    korean_generation: int


def _gen(model: str, variant: str, response: str, **extra) -> dict:
    record = {
        "model": model, "backend": "hf", "device": "cpu", "dtype": "float32",
        "params": {"max_new_tokens": 64, "temperature": 0.0, "api_key": SECRET},
        "messages": [{"role": "user", "content": f"{variant} prompt"}],
        "prompt": f"<|im_start|>user\n{variant} prompt<|im_end|>\n<|im_start|>assistant\n",
        "response": response, "input_tokens": 12, "output_tokens": max(1, len(response) // 3),
        "ttft_s": 0.05, "total_s": 1.2, "tokens_per_s": 20.0, "finish_reason": "eos",
        "variant": variant, "repeat_index": 0,
    }
    record.update(extra)
    return record


def write_sample_log(url: str) -> SampleLog:
    """Write the sample log through the store's own functions; return the ids tests refer to."""
    from sqlalchemy import insert

    from hanprompt.analysis.service import WordOptions, analyse_store
    from hanprompt.store import open_engine
    from hanprompt.store.db import now
    from hanprompt.store.schema import bench_results
    from hanprompt.store.experiments import add_checks
    from hanprompt.store.runs import add_generation, create_run, finish_run
    from hanprompt.store.translations import add_scores, add_translations

    engine = open_engine(url)
    models = ["hf:tiny-a", "hf:tiny-b"]

    def experiment(rows: list[tuple[dict, list[dict]]]) -> tuple[int, list[int]]:
        run_id = create_run(engine, name="prompt-styles", kind="experiment", spec={
            "file": "examples/prompt-styles.yaml",
            "spec": {"name": "prompt-styles", "description": "한 줄 대 다섯 줄 프롬프트",
                     "params": {"max_new_tokens": 64, "temperature": 0}, "repeat": 1},
            "overrides": {"models": [{"spec": m, "api_key": SECRET} for m in models], "repeat": None},
        })
        ids = []
        with engine.begin() as conn:
            for record, checks in rows:
                gen_id = add_generation(conn, run_id, record)
                add_checks(conn, gen_id, checks)
                ids.append(gen_id)
        finish_run(engine, run_id)
        return run_id, ids

    # Every check dict carries the same keys: an executemany takes its columns from the first row.
    ok = {"name": "language", "spec": {"language": "ko"}, "passed": True, "score": None,
          "reason": "Hangul share 90% (needs 50%)"}
    similar = {"name": "similar", "spec": {"similar": "서울 여행"}, "passed": True, "score": 0.8125,
               "reason": "cosine 0.81 (needs 0.80)"}
    bad = {"name": "icontains", "spec": {"icontains": "python"}, "passed": False, "score": None,
           "reason": "lacks 'python' (any case)"}
    previous, _ = experiment([
        (_gen(m, v, KO_SHORT, tokens_per_s=10.0), [ok, bad]) for v in ("one-line", "five-line") for m in models
    ])
    rows = []
    for m in models:
        rows.append((_gen(m, "one-line", KO_SHORT), [ok, bad]))
        for city in ("서울", "부산"):
            for rep in range(2):
                rows.append((_gen(m, "five-line", KO_ANSWER, vars={"city": city}, repeat_index=rep, cost=0.00025,
                                  tokens_per_s=25.0 if m == models[0] else 31.0), [ok, similar]))
        rows.append((_gen(m, "xss", HOSTILE_TEXT, prompt=HOSTILE_TEXT,
                          messages=[{"role": "user", "content": HOSTILE_TEXT}]),
                     [dict(bad, reason=HOSTILE["script"])]))
    run_id, ids = experiment(rows)
    xss = ids[5]  # model a's xss answer
    with engine.begin() as conn:
        cached = add_generation(conn, run_id, _gen(models[0], "one-line", KO_SHORT, cached=True, cached_from_id=ids[0],
                                                   repeat_index=1))
        add_checks(conn, cached, [ok, bad])
        # a judge's verdict on an answer: stored as a generation, shown only as the check it gave
        add_generation(conn, run_id, _gen("hf:judge-model", "one-line", '{"pass": true}', role="judge",
                                          judged_generation_id=ids[0]))
    with engine.begin() as conn:
        add_translations(conn, run_id, [
            {"generation_id": ids[0], "translator": "mt:tiny-marian", "source_lang": "en", "target_lang": "ko",
             "source": KO_SHORT, "translation": "한국의 수도는 서울이다.", "seconds": 0.2},
            {"generation_id": xss, "translator": "mt:tiny-marian", "source_lang": "en", "target_lang": "ko",
             "source": HOSTILE_TEXT, "translation": HOSTILE_TEXT, "seconds": 0.2},
        ])
    translate = create_run(engine, name="translate en-ko.en", kind="translate", status="done")
    with engine.begin() as conn:
        add_translations(conn, translate, [
            {"translator": t, "source_lang": "en", "target_lang": "ko", "source": src, "translation": out,
             "seconds": 0.1}
            for t in ("mt:tiny-marian", "llm:hf:tiny-a")
            for src, out in (("The museum is closed on Mondays.", "박물관은 월요일에 문을 닫습니다."),
                             ("Seoul is the capital.", "서울은 수도입니다."))
        ])
        add_scores(conn, translate, [
            {"translator": "mt:tiny-marian", "segments": 2, "chrf": 41.5, "bleu": 12.25, "hangul_share": 0.97,
             "segments_per_s": 8.0, "chrf_signature": "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.5.1",
             "bleu_signature": "nrefs:1|case:mixed|eff:no|tok:ko-mecab|smooth:exp|version:2.5.1"},
            {"translator": "llm:hf:tiny-a", "segments": 2, "chrf": 30.0, "bleu": 8.5, "hangul_share": 0.9,
             "segments_per_s": 2.0},
        ])
    finish_run(engine, translate)
    words = analyse_store(WordOptions(by="variant", top=8), db=url, run_id=run_id)
    bench = create_run(engine, name="bench tiny", kind="bench", spec={"price_per_hour": 0.5})
    with engine.begin() as conn:
        conn.execute(insert(bench_results), [{c.name: r.get(c.name) for c in bench_results.columns if c.name != "id"} for r in [
            {"run_id": bench, "model": "gguf:/models/tiny.gguf", "backend": "gguf", "status": "ok", "reason": None,
             "config": {"gpu_layers": 0}, "created_at": now(),
             # the layout hanprompt.bench.service stores
             "metrics": {"load_s": 0.4, "prompt_tokens": 512, "gen_tokens": 128.0,
                         "prefill_tok_s": {"mean": 512.5, "stdev": 3.0, "p50": 512.0, "p90": 515.0},
                         "decode_tok_s": {"mean": 43.6, "stdev": 0.4, "p50": 43.6, "p90": 44.0},
                         "ttft_s": {"mean": 0.031, "stdev": 0.001}, "e2e_s": {"mean": 2.97, "stdev": 0.02},
                         "peak_rss_bytes": 700_000_000, "peak_vram_bytes": None, "placement": {"cpu": "all"},
                         "roofline": {"ceiling_tok_s": 46.4, "mbu": 0.94, "bytes_per_token": 538_000_000},
                         "cost": {"price_per_hour": 0.5, "per_million_output": 3.19, "batch_per_million_output": None},
                         "batch": {"size": 8, "decode_tok_s": 180.2}, "warnings": [],
                         "korean": {"ko": {"chars": 200, "tokens": 266, "tokens_per_100_chars": 133.0},
                                    "en": {"chars": 400, "tokens": 124, "tokens_per_100_chars": 31.0},
                                    "ko_en_ratio": 2.145}}},
            {"run_id": bench, "model": "hf:/models/tiny", "backend": "hf", "status": "skipped",
             "reason": "CUDA is not available on this machine", "config": {"device": "cuda"}, "metrics": None,
             "created_at": now()},
        ]])  # every row carries every column: an executemany takes its columns from the first
    finish_run(engine, bench)
    return SampleLog(url, run_id, previous, translate, words.run_id, bench, ids[0], xss, cached, ids[2])
