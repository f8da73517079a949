"""Calls kaledger's query endpoints through a client generated from /v1/openapi.json.

Usage: python3 generated_client.py PACKAGE BASE_URL AUDITOR_TOKEN FINANCE_TOKEN

PACKAGE is the name of the generated package (importable from PYTHONPATH). Prints one
JSON object: for every call, its status and the answer parsed by the generated models,
turned back into JSON with their own `to_dict()`.
"""

import importlib
import json
import sys

package, base_url, auditor_token, finance_token = sys.argv[1:5]
client_module = importlib.import_module(f"{package}.client")
list_events = importlib.import_module(f"{package}.api.audit.list_events")
program_accruals = importlib.import_module(f"{package}.api.rebates.program_accruals")
account_rebates = importlib.import_module(f"{package}.api.rebates.account_rebates")


def client(token):
    """A client for one role; never through a proxy, and loud on undocumented answers."""
    return client_module.AuthenticatedClient(
        base_url=base_url,
        token=token,
        raise_on_unexpected_status=True,
        httpx_args={"trust_env": False},
    )


auditor = client(auditor_token)
finance = client(finance_token)
calls = {}


def call(name, endpoint, as_client, *args, **query):
    """Calls `endpoint` and records its answer under `name`; returns the parsed answer."""
    response = endpoint.sync_detailed(*args, client=as_client, **query)
    parsed = response.parsed
    calls[name] = {
        "status": int(response.status_code),
        "body": parsed.to_dict() if parsed is not None else None,
    }
    return parsed


# Cursor paging through one stream: two pages of three.
first = call("events_first", list_events, auditor, stream="account/carrefour", limit=3)
call(
    "events_next",
    list_events,
    auditor,
    stream="account/carrefour",
    limit=3,
    after=first.next_after,
)
# Only the events recorded by the instant of the stream's second event.
call(
    "events_known_at",
    list_events,
    auditor,
    stream="account/carrefour",
    known_at=first.events[1].recorded_at,
)
# The first settlement approval of a program, by stream and type.
approved = call(
    "events_typed",
    list_events,
    auditor,
    stream="program/VOL-2026",
    type_="SettlementApproved",
    limit=1,
)
call("accruals", program_accruals, finance, "VOL-2026", period="2026-Q2")
call("rebates", account_rebates, finance, "walmart", period="2026-Q1")
# The same account's rebates as they were known at that first approval.
call(
    "rebates_known_at",
    account_rebates,
    finance,
    "walmart",
    period="2026-Q1",
    known_at=approved.events[0].recorded_at,
)
json.dump(calls, sys.stdout)
