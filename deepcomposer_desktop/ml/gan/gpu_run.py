"""One time-boxed GPU session for every GAN at once (the lead's run): parallel training processes.

``python -m deepcomposer_desktop.ml.gan.gpu_run --minutes 6 --outdir OUT [--cache-dir cache/gan]`` trains
the DeepComposer baseline on AWS's 229 two-bar JSB snippets, and for every genre cache found (``<genre>.npz``)
our model (with ``--genre-baselines`` also the DeepComposer recipe on that genre), each in its own process, all
within ``--minutes``. Measured on one H200: 7 processes share it at about 3 generator steps/s each.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def plan(cache_dir: str, minutes: float, genre_baselines: bool = False) -> list[dict]:
    caches = sorted(glob.glob(os.path.join(cache_dir, "*.npz")))
    # <genre>.npz only: no temporary files of a builder still writing (name.npz.tmp.npz), no 2-bar sets
    genres = [c for c in caches if re.fullmatch(r"[a-z0-9_-]+\.npz", os.path.basename(c))
              and not os.path.basename(c).endswith("_aws2bar.npz")]
    jobs = []
    aws = os.path.join(cache_dir, "chorale_aws2bar.npz")
    if os.path.exists(aws):
        jobs.append({"name": "baseline-aws", "data": aws, "preset": "deepcomposer", "minutes": minutes})
    for c in genres:
        g = os.path.basename(c)[:-4]
        jobs.append({"name": g, "data": c, "preset": "default", "minutes": minutes})
        if genre_baselines:
            jobs.append({"name": f"baseline-{g}", "data": c, "preset": "deepcomposer", "minutes": minutes})
    return jobs


def _start_baseline_evals(procs, outdir: str, base_dir: str) -> list:
    """Once the baseline's training process has ended, score it on every genre's held-out melodies (CPU)."""
    done = [p for j, p, _ in procs if j["name"] == "baseline-aws" and p.poll() is not None]
    model = os.path.join(base_dir, "gan-baseline-aws.pt")
    if not done or not os.path.exists(model):
        return []
    evals = []
    for j, _, _ in procs:
        if j["name"].startswith("baseline"):
            continue
        cmd = [sys.executable, "-m", "deepcomposer_desktop.ml.gan.evaluate", "--cache", j["data"], "--model",
               f"baseline={model}", "--limit", "100", "--json", os.path.join(outdir, f"eval-baseline-{j['name']}.json")]
        log = open(os.path.join(outdir, f"eval-baseline-{j['name']}.txt"), "w")
        evals.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        print(f"evaluating the baseline on {j['name']}", flush=True)
    return evals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.gan.gpu_run")
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cache-dir", default=os.path.join("cache", "gan"))
    ap.add_argument("--genre-baselines", action="store_true",
                    help="also train the DeepComposer recipe on every genre (one more process per genre)")
    ap.add_argument("--keep-baseline", action="store_true", help="leave the baseline's 8 MB model in --outdir")
    ap.add_argument("--only", default="", help="comma-separated job names to run (default: all)")
    ap.add_argument("--extra", default="", help="extra arguments for every job (e.g. '--batch-size 64')")
    a = ap.parse_args(argv)
    t0 = time.time()
    os.makedirs(a.outdir, exist_ok=True)
    jobs = plan(a.cache_dir, a.minutes, a.genre_baselines)
    if a.only:
        keep = set(a.only.split(","))
        jobs = [j for j in jobs if j["name"] in keep]
    if not jobs:
        print(f"no GAN caches in {a.cache_dir}", file=sys.stderr)
        return 1
    procs = []
    # training stops early enough for the final calibration + save; the run ends within --minutes
    reserve = 30.0 if a.minutes >= 2 else a.minutes * 60 * 0.4
    train_deadline = t0 + a.minutes * 60 - reserve
    base_deadline = t0 + a.minutes * 60 - (120.0 if a.minutes >= 4 else reserve)
    # the baseline (8 MB even compact) trains outside --outdir: only its figures and log travel back
    base_dir = os.path.join(tempfile.gettempdir(), "gan_baseline")
    for j in jobs:
        dl = base_deadline if j["name"] == "baseline-aws" else train_deadline
        out = base_dir if j["name"] == "baseline-aws" and not a.keep_baseline else a.outdir
        cmd = [sys.executable, "-m", "deepcomposer_desktop.ml.gan.train", "--data", j["data"], "--name", j["name"],
               "--out", out, "--preset", j["preset"], "--minutes", f"{j['minutes']:.3f}", "--no-state",
               "--samples", "0", "--checkpoint-seconds", "90", "--threads", "1",
               "--deadline", f"{dl:.1f}"] + a.extra.split()
        log = open(os.path.join(a.outdir, f"{j['name']}.stdout.log"), "w")
        procs.append((j, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        print(f"started {j['name']}: {' '.join(cmd[3:])}", flush=True)
    deadline = t0 + a.minutes * 60 - 3
    evals = []
    while any(p.poll() is None for _, p, _ in procs) and time.time() < deadline:
        time.sleep(2)
        if not evals:
            evals = _start_baseline_evals(procs, a.outdir, base_dir if not a.keep_baseline else a.outdir)
    if not evals and time.time() < deadline - 60:
        evals = _start_baseline_evals(procs, a.outdir, base_dir if not a.keep_baseline else a.outdir)
    for e in evals:
        try:
            e.wait(max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            e.kill()
    blog = os.path.join(base_dir, "gan-baseline-aws.log")
    if os.path.exists(blog) and not a.keep_baseline:
        shutil.copy(blog, os.path.join(a.outdir, "gan-baseline-aws.log"))
    for j, p, log in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        print(f"{j['name']}: exit {p.returncode}", flush=True)
    print(f"all done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
