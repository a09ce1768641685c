"""Serve the catalogue for the serving benches: over ``--lake`` (a bench lake home), with
its application state in ``--state`` (kept between runs: a restart reuses it). Prints a
researcher's API token on its first line, then runs uvicorn on 127.0.0.1:--port.

    .venv/bin/python bench/serving/serve_app.py --lake /tmp/bench-lake --state /tmp/st --port 18080
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# --code DIR: serve another checkout's code (a baseline, e.g. `git archive` of main)
if "--code" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

from synthetic_network import open_bench_lake

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.main import create_app
from catalog_api.models import User


def main() -> None:
    """Build the app, make (or reuse) a token, start the index, serve."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--code", type=Path, default=None, help="serve this checkout's code")
    args = ap.parse_args()
    t0 = time.perf_counter()
    args.state.mkdir(parents=True, exist_ok=True)
    lake = open_bench_lake(args.lake)
    cfg = ApiConfig(
        database_url=f"sqlite:///{args.state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=args.state,
        exports_dir=args.state / "exports",
        query_budget=10_000_000,
    )
    app = create_app(cfg, lake)
    token_file = args.state / "token"
    if token_file.exists():
        token = token_file.read_text().strip()
    else:
        with app.state.sessionmaker() as session:
            user = session.query(User).filter_by(username="bench").one_or_none()
            if user is None:  # (profile_restart.py may have made it)
                user = User(username="bench", roles=["researcher"], centres=[])
                session.add(user)
                session.flush()
            _row, token = tokens.create_token(session, user=user, name="bench")
            session.commit()
        token_file.write_text(token)
    print(token, flush=True)
    print(f"app made in {time.perf_counter() - t0:.2f} s", file=sys.stderr, flush=True)
    app.state.discovery_engine.start()  # start building (or loading) the index now
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
