"""Serve the catalogue over a benchmark lake (for bench_counts.py): prints a researcher's
API token on its first line, then runs uvicorn on 127.0.0.1:--port."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_network import open_bench_lake

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.main import create_app
from catalog_api.models import User


def main() -> None:
    """Build the app, make a token, warm the index, serve."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    lake = open_bench_lake(args.home)
    cfg = ApiConfig(
        database_url=f"sqlite:///{args.state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=args.state,
        exports_dir=args.state / "exports",
        query_budget=10_000_000,
    )
    app = create_app(cfg, lake)
    with app.state.sessionmaker() as session:
        user = User(username="bench", roles=["researcher"], centres=[])
        session.add(user)
        session.flush()
        _row, token = tokens.create_token(session, user=user, name="bench")
        session.commit()
    print(token, flush=True)
    app.state.discovery_engine.start()  # start building the index now
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
