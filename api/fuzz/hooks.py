"""schemathesis hooks of the API fuzz run (infra/scripts/fuzz-api.sh): who each request is.

| operation | bearer token sent |
| --- | --- |
| POST /auth/logout | a fresh anonymous session per request (a logout ends the token it is sent with) |
| POST /orders/{id}/approve, /reject | the admin's session (SHOP_FUZZ_ADMIN_TOKEN), so the admin checks run |
| every other one | the run's own fuzz user (SHOP_FUZZ_TOKEN), registered by the script |

The demo customer is never used: fuzzed logins must not lock an account other tests sign
in with, and the fuzz user's own session is never logged out.
"""
import os

import requests
import schemathesis

BASE_URL = os.environ["SHOP_API_URL"]
USER_TOKEN = os.environ["SHOP_FUZZ_TOKEN"]
ADMIN_TOKEN = os.environ["SHOP_FUZZ_ADMIN_TOKEN"]
ADMIN_PATHS = ("/orders/{id}/approve", "/orders/{id}/reject")


def anonymous_session():
    response = requests.post(f"{BASE_URL}/sessions", timeout=30)
    response.raise_for_status()
    return response.json()["token"]


# No caching (refresh_interval=None): the token depends on the operation, and a logout
# needs a session of its own every time.
@schemathesis.auth(refresh_interval=None)
class ShopBearer:
    def get(self, case, context):
        path = context.operation.path
        if path == "/auth/logout":
            return anonymous_session()
        if path in ADMIN_PATHS:
            return ADMIN_TOKEN
        return USER_TOKEN

    def set(self, case, data, context):
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {data}"
