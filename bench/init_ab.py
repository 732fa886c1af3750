"""A/B the init (spawn -> first /next) of bootstraps, interleaved so load drifts hit both alike.

    .local/venv-localstack/bin/python bench/init_ab.py [-n 40] before=/tmp/old/bootstrap after=target/lambda/cart-api/bootstrap

Init makes no AWS calls, so this needs no LocalStack (the endpoint is a closed port).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from functions import summary  # noqa: E402
from harness import FunctionProcess  # noqa: E402

ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
    "AWS_LAMBDA_FUNCTION_NAME": "ab",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ab",
    "AWS_LAMBDA_LOG_STREAM_NAME": "ab",
    "PRODUCTS_TABLE": "products",
    "SESSIONS_TABLE": "sessions",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "HOME": os.environ.get("HOME", "/root"),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("variants", nargs="+", help="label=path/to/bootstrap")
    args = parser.parse_args()
    variants = [v.split("=", 1) for v in args.variants]
    results: dict[str, list[float]] = {label: [] for label, _ in variants}
    rss: dict[str, list[float]] = {label: [] for label, _ in variants}
    for _ in range(args.n):
        for label, path in variants:
            p = FunctionProcess(str(Path(path).resolve()), ENV, "arn:aws:lambda:us-east-1:000000000000:function:ab",
                                "/dev/null")
            try:
                results[label].append(p.wait_ready())
                rss[label].append((p.peak_rss_kb() or 0) / 1024)
            finally:
                p.stop()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, _ in variants:
        s, r = summary(results[label]), summary(rss[label])
        print(f"{label:>10}: init median {s['median']:.2f} ms (min {s['min']:.2f}, p90 {s['p90']:.2f}, "
              f"max {s['max']:.2f}); RSS at init {r['median']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
