"""The job lifecycle against a fake cloud on 127.0.0.1, driven by the real openai and together SDKs."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.ledger import Ledger
from tests.fakecloud import FakeCloud
from tests.orchestrator.test_tokens_cost import make_examples

OPENAI_KEY = "sk-adsft-test-RECOGNISABLE-9f8e7d"
TOGETHER_KEY = "tg-adsft-test-RECOGNISABLE-1a2b3c"


@pytest.fixture
def clouds(monkeypatch, tmp_path):
    openai_cloud, together_cloud = FakeCloud("openai").start(), FakeCloud("together").start()
    monkeypatch.setenv("OPENAI_BASE_URL", openai_cloud.base_url)
    monkeypatch.setenv("TOGETHER_BASE_URL", together_cloud.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
    yield openai_cloud, together_cloud
    openai_cloud.stop()
    together_cloud.stop()


@pytest.fixture
def spec(tmp_path):
    make_examples(tmp_path / "train.jsonl", 20, 60, "gpt-4o-mini-2024-07-18")
    path = tmp_path / "job.yaml"
    path.write_text(
        "providers: [openai, together]\nmodel: gpt-4o-mini-2024-07-18\n"
        "models: {together: meta-llama/Meta-Llama-3.1-8B-Instruct-Reference}\n"
        "training_file: train.jsonl\nhyperparameters: {n_epochs: 2}\nsuffix: ads\nseed: 3\n"
    )
    return path


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def submit(capsys, spec, *extra):
    code, out, err = run(capsys, "submit", str(spec), "--yes", "--json", *extra)
    return code, (json.loads(out) if out.strip() else None), err


def test_submit_watch_and_idempotency(clouds, spec, capsys):
    openai_cloud, _ = clouds
    code, job, _ = submit(capsys, spec, "--provider", "openai")
    assert code == 0 and job["provider"] == "openai" and job["status"] == "validating"
    assert set(job) >= {
        "id",
        "provider",
        "remote_id",
        "status",
        "raw_status",
        "model",
        "result_model",
        "created_at",
        "updated_at",
        "estimate_usd",
        "billed_usd",
    }
    code, again, _ = submit(capsys, spec, "--provider", "openai")
    assert again["id"] == job["id"] and again["reused"] is True
    assert openai_cloud.count("POST", r"/fine_tuning/jobs$") == 1
    assert openai_cloud.count("POST", r"/files$") == 1
    code, _, _ = run(capsys, "watch", job["id"], "--interval", "0.05")
    assert code == 0
    code, out, _ = run(capsys, "status", job["id"], "--json")
    done = json.loads(out)
    assert done["status"] == "succeeded" and done["result_model"].startswith("ft:gpt-4o-mini")
    assert done["billed_usd"] == pytest.approx(123456 * 3.0 / 1e6)
    code, out, _ = run(capsys, "events", job["id"], "--json")
    assert len(json.loads(out)) >= 6
    code, out, _ = run(capsys, "cost", job["id"], "--json")
    assert json.loads(out)["billed_usd"] is not None
    code, forced, _ = submit(capsys, spec, "--provider", "openai", "--force")
    assert forced["id"] != job["id"] and openai_cloud.count("POST", r"/fine_tuning/jobs$") == 2
    assert openai_cloud.count("POST", r"/files$") == 1  # uploads are deduplicated by content


@pytest.mark.parametrize(
    ("route", "fault"),
    [
        (r"/fine_tuning/jobs$", "429"),
        (r"/fine_tuning/jobs$", "500"),
        (r"/files$", "500"),
        (r"/files$", "drop"),
        (r"/fine_tuning/jobs$", "slow"),
    ],
)
def test_sdk_retries_transient_faults_without_duplicates(clouds, spec, capsys, route, fault):
    openai_cloud, _ = clouds
    openai_cloud.fault("POST", route, fault, times=1, delay=0.3)
    code, job, _ = submit(capsys, spec, "--provider", "openai")
    assert code == 0 and job["remote_id"]
    assert len(openai_cloud.jobs) == 1


def test_training_not_available_falls_back_to_together(clouds, spec, capsys):
    openai_cloud, together_cloud = clouds
    openai_cloud.fault("POST", r"/fine_tuning/jobs$", "403_training_not_available", times=3)
    code, job, err = submit(capsys, spec)
    assert code == 0 and job["provider"] == "together"
    assert "training_not_available" in err and "skipped openai" in err
    assert job["provider_estimate_usd"] == 1.23
    assert together_cloud.count("PUT", r"/upload/") == 1 and together_cloud.count("POST", r"/preprocess$") == 1
    code, _, _ = run(capsys, "watch", job["id"], "--interval", "0.05")
    code, out, _ = run(capsys, "download", job["id"])
    folder = Path(out.strip())
    assert code == 0 and folder.is_dir()  # unpacked by content: an adapter folder, not an archive
    assert (folder / "adapter_config.json").is_file() and (folder / "job").read_text().startswith("ft-")


def test_malformed_reply_leaves_a_recoverable_ledger(clouds, spec, capsys):
    openai_cloud, _ = clouds
    openai_cloud.fault("POST", r"/fine_tuning/jobs$", "malformed", times=1)
    code, job, err = submit(capsys, spec, "--provider", "openai")
    assert code == 0 and "Traceback" not in err and job["remote_id"]
    assert len(openai_cloud.jobs) == 1  # the malformed reply created no job: looked for, none, created once
    code, again, _ = submit(capsys, spec, "--provider", "openai")
    assert again["id"] == job["id"] and len(openai_cloud.jobs) == 1


def test_crash_between_create_and_record_recovers_the_same_job(clouds, spec, capsys, monkeypatch):
    openai_cloud, _ = clouds
    original = Ledger.update_job

    def crash(self, job_id, **fields):
        if fields.get("phase") == "created":
            raise KeyboardInterrupt
        return original(self, job_id, **fields)

    monkeypatch.setattr(Ledger, "update_job", crash)
    code, _, _ = run(capsys, "submit", str(spec), "--yes", "--provider", "openai")
    assert code == 130 and len(openai_cloud.jobs) == 1
    monkeypatch.setattr(Ledger, "update_job", original)
    code, job, _ = submit(capsys, spec, "--provider", "openai")
    assert code == 0 and len(openai_cloud.jobs) == 1
    assert job["remote_id"] == next(iter(openai_cloud.jobs))


def test_failed_job_is_reported_and_keys_never_leak(clouds, spec, capsys, tmp_path):
    openai_cloud, _ = clouds
    openai_cloud.fail_jobs = True
    outputs = []
    code, job, err = submit(capsys, spec, "--provider", "openai")
    outputs += [json.dumps(job), err]
    code, out, err = run(capsys, "watch", job["id"], "--interval", "0.05")
    outputs += [out, err]
    assert code == 1
    for args in (("status", job["id"], "--json"), ("list", "--json"), ("events", job["id"]), ("sync",)):
        code, out, err = run(capsys, *args)
        outputs += [out, err]
    status = json.loads(outputs[-8])
    assert status["status"] == "failed" and "too few examples" in status["error"]
    db = (Ledger().path).read_bytes() + b"".join(p.read_bytes() for p in Ledger().path.parent.glob("*.sqlite*"))
    for secret in (OPENAI_KEY, TOGETHER_KEY):
        assert all(secret not in text for text in outputs)
        assert secret.encode() not in db
    sent = [v for _, _, h in openai_cloud.requests for k, v in h.items() if k.lower() == "authorization"]
    assert any(OPENAI_KEY in v for v in sent)  # the key was used, and only there


def test_budget_guard_refuses_before_any_upload(clouds, spec, capsys):
    openai_cloud, _ = clouds
    code, _, err = run(capsys, "submit", str(spec), "--yes", "--provider", "openai", "--max-cost", "0.0001")
    assert code == 2 and "budget" in err
    assert openai_cloud.count("POST", r"/files$") == 0


def test_no_key_and_unsupported_model_fall_through(clouds, spec, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    spec.write_text(spec.read_text().replace("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "mistral/unknown"))
    code, _, err = run(capsys, "submit", str(spec), "--yes")
    assert code == 1
    assert "no OpenAI API key" in err and "cannot fine-tune" in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model: gpt-4o-mini-2024-07-18\ntraining_file: train.jsonl\ncolour: red\n", "colour"),
        ("model: gpt-4o-mini-2024-07-18\ntraining_file: missing.jsonl\n", "no such file"),
        ("model: gpt-4o-mini-2024-07-18\ntraining_file: train.jsonl\nhyperparameters: {n_epochs: many}\n", "n_epochs"),
    ],
)
def test_bad_specs_name_file_and_line(clouds, spec, capsys, text, needle):
    spec.write_text(text)
    code, _, err = run(capsys, "submit", str(spec), "--yes")
    assert code == 2 and needle in err and f"{spec}:" in err


def test_sync_refreshes_every_running_job(clouds, spec, capsys):
    for _ in range(3):
        submit(capsys, spec, "--provider", "openai", "--force")
    code, out, _ = run(capsys, "sync", "--json")
    assert code == 0 and len(json.loads(out)) == 3


def test_processes_opening_one_new_ledger_at_once_all_open_it(tmp_path):
    """Each process switches the new file to WAL: two doing so at once deadlock, and SQLite answers one of
    them "database is locked" at once, without waiting (a submit then failed now and then when four
    started together on a fresh home); the loser tries again."""
    code = "import sys; from pathlib import Path; from orchestrator.ledger import Ledger; Ledger(Path(sys.argv[1]))"
    for round_ in range(8):
        path = tmp_path / f"l{round_}.sqlite"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(6)]
        errors = [p.communicate()[1].decode() for p in procs]
        assert all(p.returncode == 0 for p in procs), next(e for e in errors if e)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ledger_is_wal_with_migrations(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = sqlite3.connect(tmp_path / "l.sqlite").execute("PRAGMA user_version").fetchone()[0]
    assert version == 4
