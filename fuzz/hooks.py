"""Schemathesis hooks of `make fuzz` (loaded with SCHEMATHESIS_HOOKS=hooks, PYTHONPATH=fuzz/).

The Node runner (test/harness/fuzz.ts) seeds secrets before the run and names two files:
HOOKFLOW_FUZZ_SECRETS, a JSON list of values no response may ever contain, and
HOOKFLOW_FUZZ_TALLY, where this module writes the requests it sent (per operation and per status
class, every phase and shrinking replay included) when the process exits; failures come from
schemathesis's own JSON report.
"""

import atexit
import json
import os
import re
from collections import Counter

import schemathesis

SECRETS: list[str] = json.load(open(os.environ["HOOKFLOW_FUZZ_SECRETS"], encoding="utf-8"))
TALLY_FILE = os.environ["HOOKFLOW_FUZZ_TALLY"]

# A signing secret in full: the prefix and at least 20 characters of its base64 (a masked one has
# bullets after a few characters, so it never matches).
WHSEC = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")

requests_by_operation: Counter = Counter()
status_classes: Counter = Counter()
# Signing secrets the API generated and showed in the answer that created them (a flow's save or a
# rotation): after that answer, no other answer may contain them.
shown_once: dict[str, int] = {}


def _write_tally() -> None:
    with open(TALLY_FILE, "w", encoding="utf-8") as f:
        json.dump(
            {
                "requests": dict(requests_by_operation),
                "statusClasses": dict(status_classes),
            },
            f,
        )


atexit.register(_write_tally)


@schemathesis.hook
def after_call(context, case, response) -> None:
    requests_by_operation[case.operation.label] += 1
    status_classes[f"{response.status_code // 100}xx"] += 1


def _generated_here(case, body: object) -> set[str]:
    """The signing secrets this answer legitimately shows: a flow's `signingSecrets` or a rotation's `secret`."""
    if not isinstance(body, dict) or case.method.upper() not in ("POST", "PATCH"):
        return set()
    found = set()
    for entry in body.get("signingSecrets") or []:
        if isinstance(entry, dict) and isinstance(entry.get("secret"), str):
            found.add(entry["secret"])
    if case.operation.path.endswith("/signing-secret/rotate") and isinstance(body.get("secret"), str):
        found.add(body["secret"])
    return found


@schemathesis.check
def no_secret_leak(ctx, response, case) -> bool | None:
    """No answer contains a seeded secret (header value, key, password), nor a `whsec_` value it did not just create."""
    text = response.text
    headers = " ".join(f"{k}: {', '.join(v)}" for k, v in response.headers.items())
    observable = f"{headers}\n{text}"
    for secret in SECRETS:
        if secret and secret in observable:
            raise AssertionError(f"the response contains the seeded secret {secret[:4]}… ({len(secret)} characters)")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    fresh = _generated_here(case, body)
    for value in WHSEC.findall(observable):
        # The answer that created it may be checked more than once; any other answer is a leak.
        if value in fresh and shown_once.get(value, id(response)) == id(response):
            continue
        raise AssertionError(f"the response contains a signing secret in full ({value[:10]}…) after its creation")
    for value in fresh:
        shown_once[value] = id(response)
    return None
