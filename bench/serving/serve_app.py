"""Serve the catalogue for the serving benches: over ``--lake`` (a bench lake home), with
its application state in ``--state`` (kept between runs: a restart reuses it). Prints a
researcher's API token on its first line, then runs uvicorn on 127.0.0.1:--port.

    .venv/bin/python bench/serving/serve_app.py --lake /tmp/bench-lake --state /tmp/st --port 18080

``--oidc``: OpenID Connect on, against a key made at start whose key set this process
serves on 127.0.0.1:(port + 1); the first line is then an access token (RS256, one hour)
of that issuer, with a GA4GH passport of one visa, instead of an API token.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

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


def serve_key_set(port: int) -> dict[str, Any]:
    """A signing key, its key set served on loopback ``port``, the config and a token."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "bench-1"})
    body = json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer, jwks = "https://idp.bench.example", f"http://127.0.0.1:{port}/jwks"
    now = int(time.time())
    visa = jwt.encode(
        {"alg": "RS256", "kid": key.kid},
        {"iss": issuer, "sub": "bench", "iat": now, "exp": now + 3600,
         "ga4gh_visa_v1": {"type": "ControlledAccessGrants", "asserted": now,
                           "value": "https://bench.example/datasets/D1", "source": "dac",
                           "by": "dac"}},
        key,
    )  # fmt: skip
    claims = {"iss": issuer, "aud": "oncolake", "sub": "bench", "iat": now, "exp": now + 3600,
              "preferred_username": "bench", "roles": ["researcher"],
              "ga4gh_passport_v1": [visa]}  # fmt: skip
    config = {
        "oidc_issuer": issuer,
        "oidc_audience": "oncolake",
        "oidc_jwks_url": jwks,
        "extra": {
            "visa_issuers": json.dumps({issuer: jwks}),
            "visa_grants": json.dumps({"https://bench.example/datasets/D1": "C1"}),
        },
    }
    return {"config": config, "token": jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)}


def main() -> None:
    """Build the app, make (or reuse) a token, start the index, serve."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--code", type=Path, default=None, help="serve this checkout's code")
    ap.add_argument("--oidc", action="store_true", help="bearer: an OIDC access token")
    args = ap.parse_args()
    t0 = time.perf_counter()
    args.state.mkdir(parents=True, exist_ok=True)
    lake = open_bench_lake(args.lake)
    oidc: dict[str, Any] = serve_key_set(args.port + 1) if args.oidc else {}
    cfg = ApiConfig(
        database_url=f"sqlite:///{args.state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=args.state,
        exports_dir=args.state / "exports",
        query_budget=10_000_000,
        **oidc.get("config", {}),
    )
    app = create_app(cfg, lake)
    token_file = args.state / "token"
    if oidc:
        token = oidc["token"]
    elif token_file.exists():
        token = token_file.read_text().strip()
    else:
        with app.state.sessionmaker() as session:
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
