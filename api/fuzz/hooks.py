"""schemathesis hooks of the API fuzz run (infra/scripts/fuzz-api.sh): who each request is.

| operation | bearer token sent |
| --- | --- |
| POST /auth/logout | a fresh anonymous session per request (a logout ends the token it is sent with) |
| POST /orders/{id}/approve, /reject; POST /products/{sku}/images, DELETE /products/{sku}/images/{imageId} | the admin's session (SHOP_FUZZ_ADMIN_TOKEN), so the admin checks run (an upload ticket writes nothing; a random image id is not found) |
| GET /partner/products | no bearer token: the partner key the script created for the run (SHOP_FUZZ_PARTNER_KEY) in `x-api-key` |
| every other one | the run's own fuzz user (SHOP_FUZZ_TOKEN), registered by the script |

The demo customer is never used: fuzzed logins must not lock an account other tests sign
in with, and the fuzz user's own session is never logged out.

Generated ids almost never exist, so the fuzzing phase also draws the real ones the script
made (SHOP_FUZZ_ORDER_ID: the fuzz user's order; SHOP_FUZZ_SKU: a catalog product): the
200 and 409 answers and their bodies get checked too, not only the 404s. Never for
PUT /cart/items/{sku}: a real line in the cart would make fuzzed checkouts place real orders.
"""
import os

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.value import GeneratedValue

BASE_URL = os.environ["SHOP_API_URL"]
# LocalStack's certificate, the one CA the local API is trusted with (fuzz-api.sh sets it).
CA_FILE = os.environ.get("SHOP_API_CA", True)
USER_TOKEN = os.environ["SHOP_FUZZ_TOKEN"]
ADMIN_TOKEN = os.environ["SHOP_FUZZ_ADMIN_TOKEN"]
ADMIN_PATHS = (
    "/orders/{id}/approve",
    "/orders/{id}/reject",
    "/products/{sku}/images",
    "/products/{sku}/images/{imageId}",
)
# The partner route's key (fuzz-api.sh creates it with `shopctl partner-key create` and
# revokes it when the run ends). Without one the route would answer only API Gateway's 403.
PARTNER_PATHS = ("/partner/products",)
PARTNER_KEY = os.environ.get("SHOP_FUZZ_PARTNER_KEY", "")
ORDER_ID = os.environ.get("SHOP_FUZZ_ORDER_ID", "")
SKU = os.environ.get("SHOP_FUZZ_SKU", "")


def anonymous_session():
    response = requests.post(f"{BASE_URL}/sessions", timeout=30, verify=CA_FILE)
    response.raise_for_status()
    return response.json()["token"]


# No caching (refresh_interval=None): the token depends on the operation, and a logout
# needs a session of its own every time.
@schemathesis.auth(refresh_interval=None)
class ShopBearer:
    def get(self, case, context):
        path = context.operation.path
        if path in PARTNER_PATHS:
            return ("x-api-key", PARTNER_KEY)
        if path == "/auth/logout":
            return anonymous_session()
        if path in ADMIN_PATHS:
            return ADMIN_TOKEN
        return USER_TOKEN

    def set(self, case, data, context):
        case.headers = dict(case.headers or {})
        if isinstance(data, tuple):
            name, value = data
            case.headers[name] = value
        else:
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(context, case, **kwargs):
    """The partner key on every partner request, also on the cases schemathesis generates
    without the security scheme's header: on LocalStack API Gateway's refusal of a missing key
    is its own `{"message": "Forbidden"}` (it applies no gateway responses), not the
    documented GATEWAY_INVALID_API_KEY body that AWS answers; tests/shared/partner.rs covers
    the refusals instead."""
    if case.operation.path in PARTNER_PATHS:
        case.headers = dict(case.headers or {})
        case.headers["x-api-key"] = PARTNER_KEY


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    operation = context.operation
    if operation is None:
        return strategy
    # Override one parameter and keep the generated others: a route with a second path
    # parameter (DELETE /products/{sku}/images/{imageId}) must still get it.
    if "{id}" in operation.path and ORDER_ID:
        return st.one_of(strategy, strategy.map(_with_parameter("id", ORDER_ID)))
    if "{sku}" in operation.path and SKU and operation.method.upper() != "PUT":
        return st.one_of(strategy, strategy.map(_with_parameter("sku", SKU)))
    return strategy


def _with_parameter(name, value):
    """Set one path parameter in a drawn value. Positive generation draws a plain dict;
    negative generation draws a `GeneratedValue` wrapping it (with the mutation's metadata,
    which `map_value` keeps)."""

    def override(drawn):
        if isinstance(drawn, GeneratedValue):
            return drawn.map_value(lambda params: {**params, name: value})
        return {**drawn, name: value}

    return override
