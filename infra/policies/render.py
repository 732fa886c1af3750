#!/usr/bin/env python3
"""Renders infra/template.yaml as CloudFormation sees it after the SAM transform, so the guard
rules judge what is deployed: SAM's policy templates expanded into IAM statements, each
function's role, the API stage. Usage: render.py <template.yaml> <out.json>

Runs in .local/venv-tools (aws-sam-cli brings samtranslator). Parameters keep their defaults;
the rules do not depend on them.
"""

import json
import os
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names managed policies by ARN only, so no IAM lookup is needed."""

    def load(self):
        return {}


def main() -> None:
    # The transform needs a region for ARNs it builds; the rules never look at it.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    source, out = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # What `sam package` does: local code and definitions become S3 locations.
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "DefinitionUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://packaged/{name}"
    rendered = transform(template, {}, NoManagedPolicies())
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rendered, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
