"""Where a restart's time goes, in-process: the steps of ``serve_app.py`` timed one by one.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/serving/profile_restart.py \
        --lake /tmp/bench-lake --state /tmp/bench-state [--profile /tmp/restart.prof]

``--state`` is the application state of an earlier ``bench_restart.py --state`` run (its
index file and numbered patients), so this measures a restart: imports, the app, the
index file's load (read, MAC, sections), the first count with its disclosure check, and,
with ``--analytics``, the first treatment-patterns answer. Prints one JSON line; with
``--profile``, a cProfile of everything after the imports.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_network import open_bench_lake  # noqa: E402

from catalog_api.core.config import ApiConfig  # noqa: E402
from catalog_api.discovery.definition import parse_definition  # noqa: E402
from catalog_api.discovery.index_store import INDEX_DIR, IndexStore  # noqa: E402
from catalog_api.discovery.service import count_query  # noqa: E402
from catalog_api.main import create_app  # noqa: E402
from catalog_api.models import User  # noqa: E402
from consent.purpose import ResearchPurpose  # noqa: E402

IMPORTS = time.perf_counter() - T0
COUNT = {"criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}}


def main() -> int:
    """Time each step of a restart; print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--analytics", action="store_true")
    ap.add_argument("--only-load", action="store_true", help="just IndexStore.load, timed")
    args = ap.parse_args()
    out: dict[str, float | int | str] = {"imports_s": round(IMPORTS, 2)}
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    cfg = ApiConfig(
        database_url=f"sqlite:///{args.state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=args.state,
        exports_dir=args.state / "exports",
        query_budget=10_000_000,
    )
    if args.only_load:
        store = IndexStore(args.state / INDEX_DIR, cfg.secret_key)
        t = time.perf_counter()
        idx = store.latest()
        out["load_s"] = round(time.perf_counter() - t, 3)
        out["patients"] = len(idx.patient_ids) if idx else 0
        out.update({f"load_{k}_s": round(v, 3) for k, v in store.last_load_times.items()})
    else:
        t = time.perf_counter()
        lake = open_bench_lake(args.lake)
        app = create_app(cfg, lake)
        out["app_s"] = round(time.perf_counter() - t, 2)
        engine = app.state.discovery_engine
        t = time.perf_counter()
        engine.start()
        engine.wait_ready(600)
        out["ready_s"] = round(time.perf_counter() - t, 2)
        out["state"] = engine.indexer.state
        out["loads"] = engine.indexer.loads
        out["patients"] = len(engine.index.patient_ids)
        store = engine.indexer.store
        out.update({f"load_{k}_s": round(v, 3) for k, v in store.last_load_times.items()})
        with app.state.sessionmaker() as session:
            user = session.query(User).filter_by(username="bench").one()
            t = time.perf_counter()
            r = count_query(
                session,
                user=user,
                engine=engine,
                control=app.state.disclosure_control,
                definition=parse_definition(COUNT),
                purpose=ResearchPurpose.model_validate({"primary": "general"}),
            )
            out["first_count_s"] = round(time.perf_counter() - t, 3)
            out["count"] = str(r["count"])
            if args.analytics:
                from catalog_api.analytics.service import store_for, treatment_patterns_query

                t = time.perf_counter()
                treatment_patterns_query(
                    session,
                    user=user,
                    engine=engine,
                    store=store_for(lake),
                    control=app.state.disclosure_control,
                    definition=parse_definition(COUNT),
                    purpose=ResearchPurpose.model_validate({"primary": "health"}),
                ).result()
                out["first_patterns_s"] = round(time.perf_counter() - t, 3)
        out["total_s"] = round(time.perf_counter() - T0, 2)
        engine.stop()
    if prof:
        prof.disable()
        prof.dump_stats(str(args.profile))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
