"""End-to-end speed and memory: this product's engines against a plain per-article baseline.

    python bench/pipeline.py [--quick] [--json]

Models: random weights with the exact shapes of the default models (speed depends on shape, not
weights): DistilBART-CNN-12-6, opus-mt-tc-big en->fr and en->ar, and M2M100-418M (full mode
only).
Their tokenizers are trained here on the sample articles and padded to the real vocabulary
sizes. Every engine does the same work: summaries are forced to 60 new tokens and translations
to 64 (end-of-sequence and sentence ends are biased away in the random weights, so each summary
is one sentence and every engine translates the same units), beam 4 throughout, as the models'
own generation configs say.

Baseline: transformers 5 removed `pipeline("summarization")` and `pipeline("translation")`, so
the baseline does what those pipelines did, article by article: tokenize, `generate` with the
model's generation config under `torch.no_grad`, decode; translation likewise, one summary per
call, with `>>ara<<` for en->ar.

Each configuration runs in its own process, so peak memory (VmHWM) and thread pools belong
to it alone. Ratios are against the baseline measured in the same run. What made the baseline's
rate vary from run to run and machine to machine, and what is fixed here: the number of
threads (torch, OpenMP and CTranslate2 each pick their own from `os.cpu_count()`, which in a
container counts the host's cores: every configuration now gets the CPUs this process may use,
affinity and cgroup quota, via `summarize.config.usable_cpus`), the tokenizers' own thread pool
(`TOKENIZERS_PARALLELISM=false`), and first-call costs (kernel selection, allocator growth,
lazy imports) counted in a two-article timing: each worker first runs one shorter article
untimed. Absolute rates are printed beside the ratios. The CTranslate2 run is
the product's default: it imports neither torch nor transformers (reported), and its start-up
(process start to the first model call, model loading excluded) is measured in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".models"
SUMMARY_TOKENS = 60
TRANSLATION_TOKENS = 64

# Shapes of the default models. DistilBART-CNN-12-6 and M2M100-418M as published (vocabulary,
# width, layers, heads, feed-forward, positions, activation). opus-mt-tc-big: Marian
# transformer-big (6+6 layers, 1024 wide, 16 heads, 4096 FFN, relu, 1024 positions) as in the
# config of a copy of tc-big-en-fr (vocabulary 53,018); en-ar's own config was not seen: its
# vocabulary is taken from its sibling tc-big-ar-en (61,109), which its 478 MB float16
# checkpoint (about 239M parameters) fits.
sys.path.insert(0, str(ROOT / "tests"))
from tiny_models import Shape, build_bart, build_m2m100, build_marian, corpus  # noqa: E402

_BIG = dict(d_model=1024, heads=16, ffn=4096, max_positions=1024, damp="bias")


def _tc_big(vocab: int) -> Shape:
    """Marian transformer-big with opus-mt's own generation settings."""
    return Shape(
        **_BIG,
        encoder_layers=6,
        decoder_layers=6,
        activation="relu",
        scale_embedding=True,
        vocab=vocab,
        tokenizer_vocab=4000,
        generation=dict(num_beams=4, max_length=512),
    )


SHAPES: dict[str, tuple[str, Shape]] = {
    "distilbart-cnn-12-6": (
        "bart",
        Shape(
            **_BIG,
            encoder_layers=12,
            decoder_layers=6,
            activation="gelu",
            vocab=50264,
            tokenizer_vocab=8000,
            min_frequency=2,
            generation=dict(  # DistilBART-CNN's own settings
                num_beams=4,
                max_length=142,
                min_length=56,
                no_repeat_ngram_size=3,
                length_penalty=2.0,
                early_stopping=True,
            ),
        ),
    ),
    "opus-mt-tc-big-en-fr": ("marian", _tc_big(53018)),
    "opus-mt-tc-big-en-ar": ("marian", _tc_big(61109)),
    "m2m100-418m": (
        "m2m100",
        Shape(
            **_BIG,
            encoder_layers=12,
            decoder_layers=12,
            activation="relu",
            scale_embedding=True,
            vocab=128112,
            tokenizer_vocab=4000,
            generation=dict(num_beams=5, max_length=200),
        ),
    ),
}
TARGETS = {"opus-mt-tc-big-en-ar": (">>ara<<",)}


# ---------------------------------------------------------------------------------------------
# Building the models (once; cached under bench/.models), with the tests' own builders


def build_models(names: list[str]) -> dict[str, Path]:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        text = corpus(Path(tmp))
        for seed, name in enumerate(names):
            path = CACHE / name
            if not (path / "model.safetensors").is_file():
                shutil.rmtree(path, ignore_errors=True)
                arch, shape = SHAPES[name]
                if arch == "bart":
                    build_bart(path, text, seed=seed, shape=shape)
                elif arch == "marian":
                    build_marian(path, text, TARGETS.get(name, ()), seed=seed, shape=shape)
                else:
                    build_m2m100(path, text, seed=seed, shape=shape)
            out[name] = path
    return out


def convert_all(models: dict[str, Path], names: list[str]) -> None:
    """CTranslate2 copies made before any measurement (conversion loads the full model)."""
    from summarize.catalog import load_catalog, resolve
    from summarize.config import Settings
    from summarize.convert import convert

    settings = Settings(models_dir=CACHE)
    catalog = load_catalog(settings, extra={})
    for name in names:
        for compute_type in ("int8", "float32"):
            convert(resolve(str(models[name]), catalog, task="translation"), CACHE, compute_type)


# ---------------------------------------------------------------------------------------------
# Articles


def articles(tokenizer_dir: Path, count: int, scale: int, target_tokens: int = 700) -> list[str]:
    """`count` articles of about `scale` x 700 tokens, cycling through the sample articles."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    out = []
    for i in range(count):
        text = " ".join(seeds[(i + k) % len(seeds)] for k in range(scale + 1))
        ids = tok(text)["input_ids"][1:-1][: target_tokens * scale]
        out.append(f"Edition {i}. " + tok.decode(ids).strip())
    return out


# ---------------------------------------------------------------------------------------------
# Workers (each in its own process)


def _rss_mb() -> float:
    """This process's own peak resident memory. (ru_maxrss is carried across fork and exec on
    Linux, so a worker would report its parent's peak if that were higher.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _threads() -> int:
    sys.path.insert(0, str(ROOT))
    from summarize.config import usable_cpus

    return usable_cpus()


def _warm_text(texts: list[str]) -> str:
    """An untimed first article: shorter than the timed ones and not among them (so the
    product's cache cannot answer the timed run from it)."""
    return texts[0][: len(texts[0]) // 3] + " Warm-up."


def worker_baseline(models: dict[str, str], texts: list[str]) -> dict[str, Any]:
    started = time.perf_counter()  # load time includes importing torch and transformers
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.set_num_threads(_threads())
    loaded = {}
    for name in ("distilbart-cnn-12-6", "opus-mt-tc-big-en-fr", "opus-mt-tc-big-en-ar"):
        loaded[name] = (
            AutoTokenizer.from_pretrained(models[name]),
            AutoModelForSeq2SeqLM.from_pretrained(models[name]).eval(),
        )
    load = time.perf_counter() - started

    def generate(name: str, text: str, new_tokens: int) -> str:
        tok, model = loaded[name]
        inputs = tok(text, return_tensors="pt", truncation=True)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=new_tokens)
        return str(tok.batch_decode(out, skip_special_tokens=True)[0])

    def one(text: str) -> list[str]:
        summary = generate("distilbart-cnn-12-6", text, SUMMARY_TOKENS)
        fr = generate("opus-mt-tc-big-en-fr", summary, TRANSLATION_TOKENS)
        ar = generate("opus-mt-tc-big-en-ar", ">>ara<< " + summary, TRANSLATION_TOKENS)
        return [summary, fr, ar]

    one(_warm_text(texts))  # untimed: first-call costs are not per-article costs
    started = time.perf_counter()
    outputs = [one(text) for text in texts]
    return {
        "seconds": time.perf_counter() - started,
        "load_seconds": load,
        "peak_rss_mb": _rss_mb(),
        "outputs": outputs,
    }


def product_setup(
    models: dict[str, str], texts: list[str], tmp: Path, **overrides: Any
) -> tuple[Path, Any]:
    """The articles as a JSONL feed, and the settings every product run uses: the benchmark's
    models, fixed output lengths, one wave for the whole batch, no catalogue."""
    import summarize

    feed = tmp / "articles.jsonl"
    feed.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "text": t, "lang": "en"}) + "\n" for i, t in enumerate(texts)
        ),
        encoding="utf-8",
    )
    (tmp / "empty.toml").write_text("", encoding="utf-8")
    settings = summarize.load_settings(
        overrides={
            "summarizer": models["distilbart-cnn-12-6"],
            "translators": [
                f"en-fr={models['opus-mt-tc-big-en-fr']}",
                f"en-ar={models['opus-mt-tc-big-en-ar']}",
            ],
            "models_dir": str(CACHE),
            "output_dir": str(tmp / "out"),
            "batch_size": max(8, len(texts)),
            "summary_generation": {"max_new_tokens": SUMMARY_TOKENS},
            "translation_generation": {"max_new_tokens": TRANSLATION_TOKENS},
            "catalog_path": str(tmp / "empty.toml"),
            # The same work as the baseline: no story summary (bench/stories.py measures
            # grouping on its own).
            "stories": False,
            # Every configuration on the same threads: the CPUs this process may use.
            "threads": _threads(),
            **overrides,
        }
    )
    return feed, settings


def worker_product(
    models: dict[str, str], texts: list[str], engine: str, compute_type: str, rerun: bool
) -> dict[str, Any]:
    started = time.perf_counter()  # load time includes every import the engine needs
    import summarize
    from summarize.catalog import load_catalog, resolve
    from summarize.detect import get_detector
    from summarize.engines import get_model

    with tempfile.TemporaryDirectory() as tmp:
        feed, settings = product_setup(
            models, texts, Path(tmp), engine=engine, compute_type=compute_type
        )
        catalog = load_catalog(settings, extra={})
        for name in ("distilbart-cnn-12-6", "opus-mt-tc-big-en-fr", "opus-mt-tc-big-en-ar"):
            model = get_model(resolve(models[name], catalog, task="translation"), settings)
            if engine == "transformers":
                model._ensure_model()  # type: ignore[attr-defined]
                model.tokenizer  # type: ignore[attr-defined]  # noqa: B018
            else:
                model._ensure()  # type: ignore[attr-defined]
                model.tokens  # type: ignore[attr-defined]  # noqa: B018
        get_detector(settings).detect("Warm up the language profiles with a sentence.")
        load = time.perf_counter() - started
        warm_dir = Path(tmp) / "warm"
        warm_dir.mkdir()
        warm, _ = product_setup(
            models, [_warm_text(texts)], warm_dir, engine=engine, compute_type=compute_type
        )
        summarize.run([warm], settings)  # untimed: first-call costs are not per-article costs
        started = time.perf_counter()
        report = summarize.run([feed], settings)
        seconds = time.perf_counter() - started
        assert report.ok, [o.error for o in report.failed]
        result: dict[str, Any] = {
            "seconds": seconds,
            "load_seconds": load,
            "peak_rss_mb": _rss_mb(),
            "torch_imported": "torch" in sys.modules,
            "transformers_imported": "transformers" in sys.modules,
            "outputs": [
                [r.summary.text, r.translations["fr"].text, r.translations["ar"].text]
                for r in report.results
            ],
        }
        if rerun:
            started = time.perf_counter()
            again = summarize.run([feed], settings)
            result["rerun_seconds"] = time.perf_counter() - started
            result["rerun_all_cached"] = all(r.all_cached for r in again.results)
            result["rerun_computed"] = dict(again.computed)
    return result


def _since_process_start() -> float:
    """Seconds since this process was created (the kernel's start time, not Python's)."""
    ticks = os.sysconf("SC_CLK_TCK")
    start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - start


def worker_startup(models: dict[str, str], texts: list[str]) -> dict[str, Any]:
    """A fresh `summarize.run` on converted models: time from process start to the first
    model call, less the time spent loading models before it."""
    import summarize
    from summarize.engines import ct2

    loading = 0.0
    first_call: list[float] = []
    load, generate = ct2.CTranslate2Model._load, ct2.CTranslate2Model.generate

    def timed_load(self: Any, folder: Any) -> Any:
        nonlocal loading
        started = time.perf_counter()
        try:
            return load(self, folder)
        finally:
            loading += time.perf_counter() - started

    def timed_generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not first_call:  # models load inside the call, after this moment
            first_call.extend([_since_process_start(), loading])
        return generate(self, *args, **kwargs)

    ct2.CTranslate2Model._load = timed_load  # type: ignore[method-assign]
    ct2.CTranslate2Model.generate = timed_generate  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        feed, settings = product_setup(
            models, texts[:1], Path(tmp), engine="ctranslate2", compute_type="int8"
        )
        assert summarize.run([feed], settings).ok
    at, loaded = first_call
    return {
        "first_call_after_s": round(at, 3),
        "startup_excluding_load_s": round(at - loaded, 3),
        "load_seconds": round(loading, 3),
        "torch_imported": "torch" in sys.modules,
    }


def worker_tokens(models: dict[str, str], texts: list[str]) -> dict[str, Any]:
    """int8 vs float32 CTranslate2 summaries: share of identical tokens, position by position."""
    import ctranslate2
    from transformers import AutoTokenizer

    from summarize.catalog import load_catalog, resolve
    from summarize.config import Settings
    from summarize.convert import convert

    settings = Settings(models_dir=CACHE)
    ref = resolve(
        models["distilbart-cnn-12-6"], load_catalog(settings, extra={}), task="summarization"
    )
    tok = AutoTokenizer.from_pretrained(models["distilbart-cnn-12-6"])
    source = [tok.convert_ids_to_tokens(tok(t)["input_ids"]) for t in texts]
    hyps = {}
    for ct in ("float32", "int8"):
        folder = convert(ref, CACHE, ct)
        translator = ctranslate2.Translator(
            str(folder), compute_type=ct, intra_threads=os.cpu_count() or 1
        )
        res = translator.translate_batch(
            source,
            target_prefix=[["<s>"]] * len(source),
            beam_size=4,
            max_decoding_length=SUMMARY_TOKENS,
            max_input_length=0,
        )
        hyps[ct] = [r.hypotheses[0] for r in res]
    same = total = 0
    for a, b in zip(hyps["float32"], hyps["int8"], strict=True):
        total += max(len(a), len(b))
        same += sum(x == y for x, y in zip(a, b, strict=False))
    return {"int8_token_agreement": round(same / max(1, total), 4)}


def run_worker(args: argparse.Namespace) -> None:
    models = json.loads(args.models)
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    if args.worker == "baseline":
        out = worker_baseline(models, texts)
    elif args.worker == "tokens":
        out = worker_tokens(models, texts)
    elif args.worker == "startup":
        out = worker_startup(models, texts)
    else:
        engine, compute_type = args.worker.split(":")
        out = worker_product(models, texts, engine, compute_type, rerun=args.rerun)
    print(json.dumps(out))


def spawn(
    worker: str,
    models: dict[str, Path],
    texts: list[str],
    rerun: bool = False,
    script: str = __file__,
) -> dict[str, Any]:
    """Run `script --worker WORKER` in a fresh process on `texts`; its last stdout line is JSON."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts, fh)
    cmd = [
        sys.executable,
        script,
        "--worker",
        worker,
        "--texts",
        fh.name,
        "--models",
        json.dumps({k: str(v) for k, v in models.items()}),
    ] + (["--rerun"] if rerun else [])
    threads = str(_threads())
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    os.unlink(fh.name)
    if done.returncode != 0:
        raise SystemExit(f"worker {worker} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 articles, no scaling runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--models", help=argparse.SUPPRESS)
    parser.add_argument("--rerun", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    names = ["distilbart-cnn-12-6", "opus-mt-tc-big-en-fr", "opus-mt-tc-big-en-ar"]
    if not args.quick:
        names.append("m2m100-418m")
    models = build_models(names)
    convert_all(models, names)
    build_seconds = time.perf_counter() - t0
    n = 2 if args.quick else 5
    texts = articles(models["distilbart-cnn-12-6"], n, 1)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(
        f"models ready in {build_seconds:.0f} s; {n} articles of ~700 tokens, {os.cpu_count()} "
        "cores"
    )
    base = spawn("baseline", models, texts)
    log(f"baseline: {base['seconds']:.1f} s")
    hf = spawn("transformers:float32", models, texts)
    log(f"transformers engine: {hf['seconds']:.1f} s")
    ct2 = spawn("ctranslate2:int8", models, texts, rerun=True)
    log(f"ctranslate2 int8: {ct2['seconds']:.1f} s; warm-cache re-run {ct2['rerun_seconds']:.3f} s")
    agreement = spawn("tokens", models, texts)["int8_token_agreement"]
    startup = spawn("startup", models, texts)
    log(f"start-up to the first model call: {startup['startup_excluding_load_s']:.2f} s")

    def per_s(r: dict[str, Any]) -> float:
        return n / r["seconds"]

    rows = {"baseline": base, "transformers engine": hf, "ctranslate2 int8": ct2}
    print(
        f"\n{'configuration':<22}{'art/s':>8}{'s/art':>8}{'speedup':>9}{'load s':>8}{'peak MB':>9}"
    )
    for name, r in rows.items():
        print(
            f"{name:<22}{per_s(r):>8.3f}{r['seconds'] / n:>8.2f}"
            f"{per_s(r) / per_s(base):>8.2f}x{r['load_seconds']:>8.1f}{r['peak_rss_mb']:>9.0f}"
        )
    cached_speedup = ct2["seconds"] / max(ct2["rerun_seconds"], 1e-6)
    print(
        f"warm-cache re-run: {ct2['rerun_seconds']:.3f} s ({cached_speedup:.0f}x faster, all "
        f"cached: {ct2['rerun_all_cached']}, computed: {ct2['rerun_computed'] or 'nothing'}; "
        f"target >= 100x: {'met' if cached_speedup >= 100 else 'NOT met'})"
    )
    print(f"int8 vs float32 summary token agreement: {agreement:.1%}")
    print(
        f"CTranslate2 run imports torch: {ct2['torch_imported']}, transformers: "
        f"{ct2['transformers_imported']}; start-up to the first model call "
        f"{startup['startup_excluding_load_s']:.2f} s (process start to first call "
        f"{startup['first_call_after_s']:.2f} s, model loading excluded)"
    )
    summary: dict[str, Any] = {
        "articles": n,
        "cores": os.cpu_count(),
        "threads": _threads(),
        "baseline_articles_per_s": round(per_s(base), 4),
        "articles_per_s": {k: round(per_s(v), 4) for k, v in rows.items()},
        "speedup_vs_pipeline": round(max(per_s(hf), per_s(ct2)) / per_s(base), 2),
        "speedup_transformers_engine": round(per_s(hf) / per_s(base), 2),
        "speedup_ctranslate2_int8": round(per_s(ct2) / per_s(base), 2),
        "cached_rerun_speedup": round(cached_speedup, 1),
        "cached_rerun_computed": ct2["rerun_computed"],
        "peak_rss_mb": {k: round(v["peak_rss_mb"]) for k, v in rows.items()},
        "load_seconds": {k: round(v["load_seconds"], 2) for k, v in rows.items()},
        "int8_token_agreement": agreement,
        "ctranslate2_imports_torch": ct2["torch_imported"],
        "ctranslate2_imports_transformers": ct2["transformers_imported"],
        "startup_to_first_call_s": startup["startup_excluding_load_s"],
    }
    if not args.quick:
        scaling: dict[str, Any] = {"length": {}, "batch": {}}
        for scale in (1, 4, 16):
            r = spawn("ctranslate2:int8", models, articles(models["distilbart-cnn-12-6"], 2, scale))
            scaling["length"][f"{scale}x"] = round(r["seconds"] / 2, 2)
            log(f"length {scale}x: {r['seconds'] / 2:.2f} s/article")
        for size in (1, 8, 32):
            r = spawn("ctranslate2:int8", models, articles(models["distilbart-cnn-12-6"], size, 1))
            scaling["batch"][str(size)] = round(size / r["seconds"], 3)
            log(f"batch {size}: {size / r['seconds']:.3f} articles/s")
        summary["scaling_ctranslate2_int8"] = scaling
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
