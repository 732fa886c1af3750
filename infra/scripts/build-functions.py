#!/usr/bin/env python3
"""Builds every function of infra/template.yaml in ONE cargo invocation and writes the
template SAM deploys, with each function's CodeUri pointing at its built `bootstrap`.

Why not `sam build`: it runs cargo-lambda once per function (21 cargo runs, each re-checking
the workspace and linking alone); one run shares the dependency graph and links in parallel.

Two kinds of build (deploy-local.sh's `fast` is `release` with lighter optimisation):
- `release` (AWS, `make deploy`, `make bench`): `cargo lambda build --release [--arm64]
  --bin <name>...`, the same binary SAM's rust-cargolambda builder makes per function.
- `dev` (`LAMBDA_BUILD_PROFILE=dev`, the local stack's default): `cargo build --workspace
  --bins --examples` with the tests' features, i.e. the very feature set and profile `make
  test` compiles its tests with, so one compile of the dependency graph serves the functions
  and the tests. (`--examples` only switches on the dev-dependencies' features, as a test build
  does; there are no examples.) The debug binaries are stripped of their line tables into
  target/lambda-local/ for SAM to zip. The functions then carry the in-memory fakes and the
  schemas, unused; no AWS deployment is built this way.

Usage: build-functions.py <x86_64|arm64> <out-template.json> [release|dev]
The dev profile reads the tests' features from SHOP_TEST_FEATURES (the Makefile exports it).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from samcli.yamlhelper import yaml_parse

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "template.yaml"


def main() -> None:
    architecture, out = sys.argv[1], Path(sys.argv[2])
    profile = sys.argv[3] if len(sys.argv) > 3 else "release"
    if architecture not in ("x86_64", "arm64"):
        sys.exit("architecture must be x86_64 or arm64")
    if profile not in ("release", "dev"):
        sys.exit("profile must be release or dev")
    if profile == "dev" and architecture != "x86_64":
        sys.exit("the dev profile builds for this machine (the local stack): x86_64 only")
    template = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    functions = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    }
    binaries = sorted({resource["Metadata"]["Binary"] for resource in functions.values()})
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target_dir.is_absolute():
        target_dir = REPO / target_dir

    started = time.monotonic()
    if profile == "release":
        command = ["cargo", "lambda", "build", "--release"]
        if architecture == "arm64":
            command.append("--arm64")
        for binary in binaries:
            command += ["--bin", binary]
        subprocess.run(command, cwd=REPO, check=True)
        built_dir = target_dir / "lambda"
    else:
        features = os.environ.get("SHOP_TEST_FEATURES")
        if not features:
            sys.exit("the dev profile needs SHOP_TEST_FEATURES (the tests' features; see the Makefile)")
        command = ["cargo", "build", "--workspace", "--bins", "--examples", "--features", features]
        subprocess.run(command, cwd=REPO, check=True)
        built_dir = target_dir / "lambda-local"
        for binary in binaries:
            stripped_into(target_dir / "debug" / binary, built_dir / binary / "bootstrap")
    print(f"built {len(binaries)} functions ({profile}) in one cargo run: {time.monotonic() - started:.0f} s")

    for name, resource in functions.items():
        built = built_dir / resource["Metadata"]["Binary"]
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


def stripped_into(built: Path, bootstrap: Path) -> None:
    """Copies a debug binary without its line tables (45 -> 37 MB) unless the copy is current.

    An unchanged binary keeps its copy (and its mtime), so SAM's zip of it hashes the same
    and the deployment leaves that function alone.
    """
    if not built.is_file():
        sys.exit(f"{built} was not built")
    if bootstrap.is_file() and bootstrap.stat().st_mtime >= built.stat().st_mtime:
        return
    bootstrap.parent.mkdir(parents=True, exist_ok=True)
    partial = bootstrap.with_suffix(".partial")
    if shutil.which("strip"):
        subprocess.run(["strip", "--strip-debug", "-o", str(partial), str(built)], check=True)
    else:
        shutil.copy2(built, partial)
    partial.chmod(0o755)
    partial.replace(bootstrap)


if __name__ == "__main__":
    main()
