"""Exactly one paid job and one upload per spec, whatever happens to the replies.

A fault-injecting proxy (tests/faultproxy.py) sits in front of the fake cloud and spoils requests before
or *after* the server acted on them (500, dropped connection, slow past the client's timeout, garbage
JSON, ...). The real SDKs drive it; what counts is what the server ends with."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from orchestrator.cli import main
from tests.fakecloud import FakeCloud
from tests.faultproxy import FaultProxy
from tests.orchestrator.test_jobs import OPENAI_KEY, TOGETHER_KEY, run
from tests.orchestrator.test_jobs import spec as spec

TIMEOUT = 1.0  # the SDKs' request timeout in these tests (ADSFT_TIMEOUT)
ROUTES = {
    "openai": {"upload": ("POST", r"/files$"), "create": ("POST", r"/fine_tuning/jobs$")},
    "together": {
        "upload": ("POST", r"/files$"),
        "put": ("PUT", r"/upload/"),
        "create": ("POST", r"/fine-tunes$"),
    },
}


@pytest.fixture
def stack(monkeypatch):
    """The fake clouds, each behind a fault proxy; the SDKs talk to the proxies."""
    clouds = {"openai": FakeCloud("openai").start(), "together": FakeCloud("together").start()}
    proxies = {name: FaultProxy(cloud.base_url).start() for name, cloud in clouds.items()}
    monkeypatch.setenv("OPENAI_BASE_URL", proxies["openai"].base_url)
    monkeypatch.setenv("TOGETHER_BASE_URL", proxies["together"].base_url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
    monkeypatch.setenv("ADSFT_TIMEOUT", str(TIMEOUT))
    yield clouds, proxies
    for item in (*proxies.values(), *clouds.values()):
        item.stop()


def uploads(cloud: FakeCloud) -> int:
    return len(cloud.files)


def submit(capsys, spec, provider: str) -> tuple[int, dict | None, str]:
    code = main(["submit", str(spec), "--yes", "--json", "--provider", provider])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


CASES = [
    (provider, step, kind, when)
    for provider in ("openai", "together")
    for step in ROUTES[provider]
    for kind in ("500", "drop", "slow", "malformed")
    for when in ("before", "after")
]


@pytest.mark.parametrize(("provider", "step", "kind", "when"), CASES, ids=["-".join(c) for c in CASES])
def test_one_job_and_one_upload_whatever_happens_to_the_reply(stack, spec, capsys, provider, step, kind, when):
    clouds, proxies = stack
    method, path = ROUTES[provider][step]
    proxies[provider].fault(method, path, kind, when=when, times=1, delay=TIMEOUT * 1.5)
    code, job, err = submit(capsys, spec, provider)
    assert "Traceback" not in err
    assert code == 0, err
    cloud = clouds[provider]
    assert len(cloud.jobs) == 1 and uploads(cloud) == 1, (cloud.jobs, cloud.files, proxies[provider].log)
    assert job["remote_id"] in cloud.jobs
    code, again, _ = submit(capsys, spec, provider)
    assert code == 0 and again["id"] == job["id"] and again["reused"] is True
    assert len(cloud.jobs) == 1 and uploads(cloud) == 1


@pytest.mark.parametrize("kind", ["html", "empty", "502"])
@pytest.mark.parametrize("provider", ["openai", "together"])
def test_foreign_replies_after_create_are_reconciled(stack, spec, capsys, provider, kind):
    clouds, proxies = stack
    method, path = ROUTES[provider]["create"]
    proxies[provider].fault(method, path, kind, when="after", times=1)
    code, job, err = submit(capsys, spec, provider)
    assert code == 0 and "Traceback" not in err, err
    assert len(clouds[provider].jobs) == 1 and job["remote_id"] in clouds[provider].jobs


@pytest.mark.parametrize("provider", ["openai", "together"])
def test_a_lookup_that_fails_too_is_an_error_and_the_next_submit_reconciles(stack, spec, capsys, provider):
    clouds, proxies = stack
    method, path = ROUTES[provider]["create"]
    proxies[provider].fault(method, path, "500", when="after", times=1)
    proxies[provider].fault("GET", r"/fine_tuning/jobs$|/fine-tunes$", "500", when="before", times=50)
    code, _, err = submit(capsys, spec, provider)
    assert code == 1 and "Traceback" not in err and "may have gone through" in err
    proxies[provider].faults.clear()
    code, job, err = submit(capsys, spec, provider)
    assert code == 0, err
    assert len(clouds[provider].jobs) == 1 and job["remote_id"] in clouds[provider].jobs


def test_together_training_not_available_falls_back_to_the_next_provider(stack, spec, capsys):
    clouds, proxies = stack
    proxies["together"].fault("POST", r"/fine-tunes$", "403_training_not_available", when="before", times=5)
    code = main(["submit", str(spec), "--yes", "--json", "--provider", "together,openai"])
    out = capsys.readouterr()
    assert code == 0 and json.loads(out.out)["provider"] == "openai"
    assert "skipped together" in out.err and "training_not_available" in out.err
    assert len(clouds["together"].jobs) == 0 and len(clouds["openai"].jobs) == 1


def _submit_process(spec, provider: str) -> subprocess.Popen:
    code = "import sys; from orchestrator.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "submit", str(spec), "--yes", "--json", "--provider", provider],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ADSFT_TIMEOUT": "20"},
    )


@pytest.mark.parametrize("provider", ["openai", "together"])
def test_four_concurrent_submits_make_one_upload_and_one_job(stack, spec, provider):
    clouds, proxies = stack
    method, path = ROUTES[provider]["create"]
    proxies[provider].fault(method, path, "slow", when="after", times=4, delay=1.0)  # a wide window
    procs = [_submit_process(spec, provider) for _ in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0 and "Traceback" not in err and "IntegrityError" not in err, err
    ids = {json.loads(out)["id"] for _, out, _ in results}
    cloud = clouds[provider]
    assert len(ids) == 1 and len(cloud.jobs) == 1 and uploads(cloud) == 1
    assert sum(1 for m, p, _ in proxies[provider].log if m == method and re.search(path, p)) == 1  # one create


@pytest.mark.parametrize("provider", ["openai", "together"])
@pytest.mark.parametrize("step", ["upload", "create"])
def test_kill_9_while_waiting_on_a_reply_then_resubmit(stack, spec, capsys, provider, step):
    clouds, proxies = stack
    method, path = ROUTES[provider][step]
    proxies[provider].fault(method, path, "slow", when="after", times=1, delay=30)
    proc = _submit_process(spec, provider)
    deadline = time.monotonic() + 60
    while not any(m == method and f for m, _, f in proxies[provider].log) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the server has acted; the reply is held back
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    code, job, err = submit(capsys, spec, provider)  # the dead holder's lease is taken over
    assert code == 0 and "Traceback" not in err, err
    cloud = clouds[provider]
    assert len(cloud.jobs) == 1 and uploads(cloud) == 1 and job["remote_id"] in cloud.jobs


def test_status_and_list_work_while_a_submit_holds_the_lease(stack, spec, capsys):
    _, proxies = stack
    proxies["openai"].fault("POST", r"/fine_tuning/jobs$", "slow", when="after", times=1, delay=3)
    proc = _submit_process(spec, "openai")
    time.sleep(1.5)
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0 and isinstance(json.loads(out), list)
    assert proc.wait(timeout=60) == 0
