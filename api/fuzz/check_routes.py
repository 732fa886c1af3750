"""The document's routes are the template's: every `Api` event of infra/template.yaml is an
operation of api/openapi.json with the same method, bearer auth exactly where the event
has the session authorizer and the partner API key exactly where it has `ApiKeyRequired`;
nothing else is in the document. (The unit tests check the
document against the handlers' ROUTES; this closes the loop to what API Gateway serves.)

    python api/fuzz/check_routes.py        # exit 1 and the differences if they disagree
"""
import json
import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub…) as plain values."""


TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_routes():
    with open(os.path.join(REPO, "infra", "template.yaml")) as f:
        template = yaml.load(f, Loader=TemplateLoader)
    routes = {}
    for resource in template["Resources"].values():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                auth = props.get("Auth") or {}
                routes[(props["Method"].upper(), props["Path"])] = (
                    auth.get("Authorizer") is not None,
                    bool(auth.get("ApiKeyRequired")),
                )
    return routes


def document_routes():
    with open(os.path.join(REPO, "api", "openapi.json")) as f:
        document = json.load(f)
    routes = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            # Bearer-only: the authorizer's routes; optional bearer ([{}, …]) is public.
            security = operation.get("security", [])
            required = bool(security) and all(security)
            routes[(method.upper(), path)] = (
                required and all("bearerAuth" in s for s in security),
                required and all("partnerKey" in s for s in security),
            )
    return routes


def main():
    template, document = template_routes(), document_routes()
    problems = [f"{m} {p}: in the template, not in the document" for m, p in template.keys() - document.keys()]
    problems += [f"{m} {p}: in the document, not in the template" for m, p in document.keys() - template.keys()]
    problems += [
        f"{m} {p}: (authorizer, API key) in the template {template[(m, p)]}, (bearer-only, partner key) in the document {document[(m, p)]}"
        for m, p in template.keys() & document.keys()
        if template[(m, p)] != document[(m, p)]
    ]
    for problem in sorted(problems):
        print(f"check_routes: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_routes: the document's {len(document)} operations are the template's API routes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
