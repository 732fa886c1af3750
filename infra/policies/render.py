#!/usr/bin/env python3
"""Renders infra/template.yaml as CloudFormation sees it after the SAM transform, so the guard
rules judge what is deployed: SAM's policy templates expanded into IAM statements, each
function's role, the API stage. Usage: render.py <template.yaml> <out.json>

Runs in .local/venv-tools (aws-sam-cli brings samtranslator). Parameters keep their defaults
(Platform=aws): resources whose Condition is false on AWS are left out, as CloudFormation would.
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


def condition_holds(expression, parameters, conditions):
    """Evaluates the Fn::Equals / Fn::Not / Fn::And / Fn::Or / Condition forms the template uses."""
    if isinstance(expression, dict) and len(expression) == 1:
        (function, arguments), = expression.items()
        if function == "Fn::Equals":
            left, right = (value_of(a, parameters) for a in arguments)
            return left == right
        if function == "Fn::Not":
            return not condition_holds(arguments[0], parameters, conditions)
        if function == "Fn::And":
            return all(condition_holds(a, parameters, conditions) for a in arguments)
        if function == "Fn::Or":
            return any(condition_holds(a, parameters, conditions) for a in arguments)
        if function == "Condition":
            return condition_holds(conditions[arguments], parameters, conditions)
    raise ValueError(f"cannot evaluate condition {expression!r}")


def value_of(argument, parameters):
    if isinstance(argument, dict) and set(argument) == {"Ref"}:
        return parameters[argument["Ref"]]
    return str(argument)


def drop_resources_off_on_aws(template) -> None:
    parameters = {
        name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
    }
    conditions = template.get("Conditions", {})
    for name, resource in list(template.get("Resources", {}).items()):
        condition = resource.get("Condition")
        if condition and not condition_holds(conditions[condition], parameters, conditions):
            del template["Resources"][name]


def main() -> None:
    # The transform needs a region for ARNs it builds; the rules never look at it.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    source, out = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    drop_resources_off_on_aws(template)
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
