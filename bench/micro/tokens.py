"""Token counting: Weir's Rust BPE counter (weir._native.count_tokens, tiktoken-rs inside) against OpenAI's
`tiktoken` package, on the same texts, for o200k_base and cl100k_base.

tiktoken downloads its vocabularies at run time, which this machine cannot do. The tiktoken-rs crate that Weir
builds with bundles the same files (tiktoken checks their SHA-256 and accepts them), so this script seeds
tiktoken's cache from the crate's copy in the cargo registry and runs offline.

    scripts/bootstrap --dev --bench      # once: tiktoken (the bench extra, locked in uv.lock)
    .venv/bin/python bench/micro/tokens.py [--repeats 7]

Counts must agree exactly before anything is timed; the median of the repeats is reported.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from weir._native import count_tokens

BLOBS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
RESULTS = Path(__file__).resolve().parents[1] / "results"


def seed_tiktoken_cache() -> str:
    """Copy the crate's vocabularies into a tiktoken cache dir under the names tiktoken looks for."""
    cargo = os.environ.get("CARGO_HOME", str(Path.home() / ".cargo"))
    found = sorted(glob.glob(f"{cargo}/registry/src/*/tiktoken-rs-*/assets"))
    if not found:
        raise SystemExit("tiktoken-rs is not in the cargo registry: build Weir first (scripts/bootstrap)")
    cache = tempfile.mkdtemp(prefix="tiktoken-cache-")
    for name, url in BLOBS.items():
        shutil.copy(Path(found[-1]) / f"{name}.tiktoken", Path(cache) / hashlib.sha1(url.encode()).hexdigest())
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    return cache


def corpus() -> dict[str, str]:
    prose = (
        "Connection pooling lets a reverse proxy reuse TCP and TLS sessions instead of paying a handshake per "
        "request, which matters most when upstream latency is small compared with connection set-up. "
    )
    code = 'def handler(request):\n    body = json.loads(request.body)\n    return {"ok": True, "n": len(body)}\n'
    mixed = "Grüße aus Köln! 東京での会議は午後3時です。 Привет 👋🏽 — ça va? " * 3
    chat = orjson.dumps([{"role": "user", "content": prose}, {"role": "assistant", "content": code}]).decode()
    return {
        "short (12 chars)": "hello world!",
        "prose 1 KB": (prose * 6)[:1024],
        "code 4 KB": (code * 50)[:4096],
        "mixed scripts 2 KB": (mixed * 6)[:2048],
        "chat JSON 16 KB": (chat * 40)[:16384],
        "prose 256 KB": (prose * 1400)[: 256 * 1024],
    }


def best_of(fn: Callable[[], object], repeats: int, budget: float = 0.2) -> float:
    """Median seconds per call over `repeats` timed batches (each batch about `budget` seconds long)."""
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    seed_tiktoken_cache()
    import tiktoken

    rows = []
    print(f"{'encoding':12} {'text':20} {'tokens':>8} {'weir us':>10} {'tiktoken us':>12} {'ratio':>7}")
    for encoding in BLOBS:
        enc = tiktoken.get_encoding(encoding)
        for label, text in corpus().items():
            ours, theirs = count_tokens(text, encoding), len(enc.encode_ordinary(text))
            if ours != theirs:
                raise SystemExit(f"{encoding} {label}: Weir counts {ours}, tiktoken {theirs}")
            weir_s = best_of(lambda t=text, e=encoding: count_tokens(t, e), args.repeats)
            tik_s = best_of(lambda t=text, x=enc: x.encode_ordinary(t), args.repeats)
            rows.append(
                {
                    "encoding": encoding,
                    "text": label,
                    "tokens": ours,
                    "weir_us": weir_s * 1e6,
                    "tiktoken_us": tik_s * 1e6,
                }
            )
            print(
                f"{encoding:12} {label:20} {ours:>8} {weir_s * 1e6:>10.1f} {tik_s * 1e6:>12.1f} {tik_s / weir_s:>6.2f}x"
            )
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"micro-tokens-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_bytes(orjson.dumps({"tiktoken": tiktoken.__version__, "rows": rows}, option=orjson.OPT_INDENT_2))
        print(f"wrote {out.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
