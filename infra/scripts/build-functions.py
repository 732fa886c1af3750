#!/usr/bin/env python3
"""Builds every function of infra/template.yaml in ONE cargo-lambda invocation and writes the
template SAM deploys, with each function's CodeUri pointing at its built `bootstrap`.

Why not `sam build`: it runs cargo-lambda once per function (17 cargo runs, each re-checking
the workspace and linking alone); one run shares the dependency graph and links in parallel.
The result is the same binary: `cargo lambda build --release [--arm64] --bin <name>...`, what
SAM's rust-cargolambda builder runs per function.

Usage: build-functions.py <x86_64|arm64> <out-template.json>
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from samcli.yamlhelper import yaml_parse

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "template.yaml"


def main() -> None:
    architecture, out = sys.argv[1], Path(sys.argv[2])
    if architecture not in ("x86_64", "arm64"):
        sys.exit("architecture must be x86_64 or arm64")
    template = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    functions = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    }
    binaries = sorted({resource["Metadata"]["Binary"] for resource in functions.values()})

    command = ["cargo", "lambda", "build", "--release"]
    if architecture == "arm64":
        command.append("--arm64")
    for binary in binaries:
        command += ["--bin", binary]
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, check=True)
    print(f"built {len(binaries)} functions in one cargo run: {time.monotonic() - started:.0f} s")

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target_dir.is_absolute():
        target_dir = REPO / target_dir
    for name, resource in functions.items():
        built = target_dir / "lambda" / resource["Metadata"]["Binary"]
        if not (built / "bootstrap").is_file():
            sys.exit(f"{name}: {built}/bootstrap was not built")
        resource["Properties"]["CodeUri"] = str(built)
        # Built already: SAM packages the folder as it is.
        del resource["Metadata"]["BuildMethod"]
    # Paths in the template are relative to infra/; the written template lives elsewhere.
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        uri = props.get("DefinitionUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            props["DefinitionUri"] = str((TEMPLATE.parent / uri).resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(template, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
