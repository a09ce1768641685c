"""In-process cost of the two OpenID Connect paths, per request, on a SQLite app database.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/serving/bench_oidc_paths.py [--n 300]

* full: what ``api/deps._verify`` does for an OIDC token — signature and claims of the
  access token and of its one-visa passport (RS256, joserfc), the user looked up and
  refreshed in an ORM session and committed;
* cached: ``OidcCache.lookup`` — the digest, the key-set comparison and the one
  primary-key probe of ``users``.

The key set is served on loopback (``serve_app.serve_key_set``) and fetched once (the
JWKS cache), as in serving. Prints microseconds per call (median of 5 rounds of ``--n``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_app import serve_key_set

from catalog_api.auth import oidc
from catalog_api.auth.cache import OidcCache
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, make_sessionmaker, upgrade


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-oidc-"))
    port = 19500 + os.getpid() % 1000
    served = serve_key_set(port)
    url = f"sqlite:///{work / 'app.db'}"
    cfg = dataclasses.replace(
        ApiConfig(
            database_url=url,
            secret_key=b"bench-secret-key-0123",
            tag_signing_key=b"bench-tag-key",
            home=work,
            exports_dir=work / "exports",
        ),
        **served["config"],
    )
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    token = served["token"]
    cache = OidcCache(engine)

    def full() -> None:
        with factory() as session:
            claims = oidc.verify_access_token(token, cfg)
            user = oidc.user_from_claims(session, claims, cfg)
            grants = oidc.passport_grants(claims, cfg)
            cache.remember(token, claims, user, grants, cfg)
            assert grants, "the visa did not verify"

    def cached() -> None:
        assert cache.lookup(token, cfg) is not None

    full()  # fetch the key set once, provision the user
    out: dict[str, float] = {}
    for name, fn in (("full_us", full), ("cached_us", cached)):
        rounds = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(args.n):
                fn()
            rounds.append((time.perf_counter() - t0) / args.n * 1e6)
        out[name] = round(statistics.median(rounds), 1)
    out["ratio"] = round(out["full_us"] / out["cached_us"], 1)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
