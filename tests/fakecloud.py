"""A fake fine-tuning cloud on 127.0.0.1 for tests and benchmarks: the OpenAI and Together endpoints adsft
uses, with realistic payloads, driven by the real SDKs. Only the network edge is fake.

Jobs advance one status per `GET` of the job. Faults are injected per route:
    cloud.fault("POST", r"/fine_tuning/jobs$", "429", times=1)
kinds: 429 (with Retry-After), 500, drop (close the connection), slow (sleep), 403_training_not_available,
malformed (invalid JSON with 200). These act *before* the server does; tests/faultproxy.py, in front of
this server, also spoils replies *after* the server acted. `cloud.fail_jobs = True` makes new jobs fail.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

OPENAI_FLOW = ["validating_files", "queued", "running", "succeeded"]
TOGETHER_FLOW = ["pending", "queued", "running", "uploading", "completed"]


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default backlog (5) refuses bursts of concurrent clients
    daemon_threads = True


def _multipart(body: bytes, headers: dict) -> tuple[str | None, bytes, str | None]:
    """The uploaded file's name and bytes, and the `purpose` field, from a multipart/form-data body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    name, content, purpose = None, b"", None
    for part in message.iter_parts() if message.is_multipart() else []:
        field = part.get_param("name", header="content-disposition")
        if part.get_filename():
            name, content = part.get_filename(), part.get_payload(decode=True) or b""
        elif field == "purpose":
            purpose = (part.get_payload(decode=True) or b"").decode()
    return name, content, purpose


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    kind: str
    times: int
    delay: float = 0.0


@dataclass
class Job:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    created: float
    metadata: dict
    flow: list[str]
    step: int = 0
    fail: bool = False
    cancelled: bool = False
    paused: bool = False
    hyper: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.paused:
            return "paused"
        if self.fail and self.step >= 2:
            return "failed" if self.flow is OPENAI_FLOW else "error"
        return self.flow[min(self.step, len(self.flow) - 1)]


def adapter_archive(files: dict[str, bytes | str] | None = None, folder: str = "adapter", kind: str = "zstd") -> bytes:
    """What Together sends as fine-tuned weights: a zstd-compressed tar of an adapter folder (or a zip)."""
    import io
    import tarfile
    import zipfile

    files = {"adapter_config.json": json.dumps({"peft_type": "LORA"}), **(files or {})}
    raw = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(raw, "w") as zf:
            for name, data in files.items():
                zf.writestr(f"{folder}/{name}" if folder else name, data)
        return raw.getvalue()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            blob = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(f"{folder}/{name}" if folder else name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    if kind == "tar":
        return raw.getvalue()
    import zstandard

    return zstandard.ZstdCompressor().compress(raw.getvalue())


class FakeCloud:
    def __init__(self, flavour: str, latency: float = 0.0) -> None:
        assert flavour in ("openai", "together")
        self.flavour = flavour
        self.latency = latency
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}  # OpenAI file bytes, by id
        self.checksums: dict[str, str] = {}
        self.jobs: dict[str, Job] = {}
        self.faults: list[Fault] = []
        self.fail_jobs = False
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, headers)
        self.bodies: list[bytes] = []
        self.completion_text = "Откройте вклад под 16% годовых на 6 месяцев в приложении."
        self.completion_fn: Callable[[dict], str] | None = None  # the reply for a request (default: completion_text)
        self.download_body: bytes | None = None  # what /finetune/download sends (default: adapter_archive())
        self.lock = threading.RLock()  # routes run under it: server-side state changes one at a time
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if self.flavour == "openai" else root

    def start(self) -> FakeCloud:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, method: str, path: str, kind: str, times: int = 1, delay: float = 0.0) -> None:
        self.faults.append(Fault(method, re.compile(path), kind, times, delay))

    def count(self, method: str, path: str) -> int:
        pattern = re.compile(path)
        return sum(1 for m, p, _ in self.requests if m == method and pattern.search(p))

    # ------------------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes; with Nagle's algorithm on, the body would wait for the
            # client's delayed ACK of the headers (up to 40 ms a response). Real servers set TCP_NODELAY too.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, payload: Any = None, headers: dict | None = None, raw: bytes | None = None):
                body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                body = self._body()
                with cloud.lock:
                    cloud.requests.append((method, url.path, dict(self.headers)))
                    cloud.bodies.append(body)
                    fault = next(
                        (f for f in cloud.faults if f.method == method and f.path.search(url.path) and f.times > 0),
                        None,
                    )
                    if fault:
                        fault.times -= 1
                if cloud.latency:
                    time.sleep(cloud.latency)
                if fault and self._fault(fault):
                    return
                try:
                    with cloud.lock:
                        status, payload, headers, raw = cloud.route(
                            method,
                            url.path,
                            parse_qs(url.query),
                            body,
                            dict(self.headers),
                            f"http://127.0.0.1:{cloud.port}",
                        )
                except KeyError as exc:
                    status, payload, headers, raw = 404, {"error": {"message": f"not found: {exc}"}}, None, None
                self._send(status, payload, headers, raw)

            def _fault(self, fault: Fault) -> bool:
                if fault.kind == "429":
                    self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": "0"})
                elif fault.kind == "500":
                    self._send(500, {"error": {"message": "internal error"}})
                elif fault.kind == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif fault.kind == "slow":
                    time.sleep(fault.delay)
                    return False
                elif fault.kind == "403_training_not_available":
                    self._send(
                        403,
                        {
                            "error": {
                                "message": "Fine-tuning is not available for this organization.",
                                "type": "invalid_request_error",
                                "code": "training_not_available",
                            }
                        },
                    )
                elif fault.kind == "malformed":
                    self._send(200, raw=b'{"id": "ft-broken", "status": ')
                return True

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        return Handler

    # routes ---------------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict, body: bytes, headers: dict, root: str):
        if path.endswith("/chat/completions") and method == "POST":
            return 200, self._completion(json.loads(body or b"{}")), None, None
        if self.flavour == "openai":
            return self._openai(method, path, query, body, headers)
        return self._together(method, path, query, body, headers, root)

    def _completion(self, req: dict) -> dict:
        prompt = sum(len(str(m.get("content", "")).split()) for m in req.get("messages", []))
        text = self.completion_fn(req) if self.completion_fn else self.completion_text
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:8],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt + len(text.split()),
            },
        }

    def _new_job(
        self, model: str, training_file: str, validation_file: str | None, metadata: dict, hyper: dict, prefix: str
    ) -> Job:
        if training_file not in self.files:
            raise KeyError(training_file)
        job = Job(
            f"{prefix}{uuid.uuid4().hex[:10]}",
            model,
            training_file,
            validation_file,
            time.time(),
            metadata or {},
            OPENAI_FLOW if self.flavour == "openai" else TOGETHER_FLOW,
            fail=self.fail_jobs,
            hyper=hyper,
        )
        self.jobs[job.id] = job
        return job

    def _advance(self, job: Job) -> None:
        if not job.cancelled and not job.paused:
            job.step += 1

    # OpenAI ----------------------------------------------------------------------------------------
    def _openai_job(self, job: Job) -> dict:
        done = job.status == "succeeded"
        return {
            "id": job.id,
            "object": "fine_tuning.job",
            "created_at": int(job.created),
            "model": job.model,
            "fine_tuned_model": f"ft:{job.model}:adsft::{job.id[-6:]}" if done else None,
            "finished_at": int(time.time()) if done else None,
            "organization_id": "org-test",
            "result_files": [],
            "seed": 0,
            "status": job.status,
            "trained_tokens": 123456 if done else None,
            "training_file": job.training_file,
            "validation_file": job.validation_file,
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "error": (
                {
                    "code": "invalid_training_file",
                    "message": "Training file has too few examples.",
                    "param": "training_file",
                }
                if job.status == "failed"
                else None
            ),
            "metadata": job.metadata,
            "method": job.hyper or {"type": "supervised"},
        }

    def _openai_method_problem(self, req: dict) -> str | None:
        """What the fine-tuning API says about a job's `method` (supervised or dpo, as documented): DPO takes
        preference lines (`input`, `preferred_output`, `non_preferred_output`) and a `beta` in (0, 2]."""
        method = req.get("method") or {"type": "supervised"}
        kind = method.get("type")
        if kind not in ("supervised", "dpo"):
            return f"method.type {kind!r} is not supported"
        extra = set(method) - {"type", kind}
        if extra:
            return f"unexpected key(s) in method: {sorted(extra)}"
        hyper = (method.get(kind) or {}).get("hyperparameters") or {}
        allowed = {"n_epochs", "batch_size", "learning_rate_multiplier"} | ({"beta"} if kind == "dpo" else set())
        if set(hyper) - allowed:
            return f"unexpected hyperparameter(s) for {kind}: {sorted(set(hyper) - allowed)}"
        if kind == "dpo" and "beta" in hyper and not 0 < float(hyper["beta"]) <= 2:
            return "beta must be in (0, 2]"
        first = (self.contents.get(req.get("training_file"), b"").splitlines() or [b"{}"])[0]
        line = json.loads(first or b"{}")
        if kind == "dpo" and not {"input", "preferred_output", "non_preferred_output"} <= set(line):
            return "the training file is not in the preference format a DPO job needs"
        if kind == "supervised" and "messages" not in line:
            return "the training file is not in the chat format a supervised job needs"
        return None

    def _openai(self, method: str, path: str, query: dict, body: bytes, headers: dict):
        if path == "/v1/files" and method == "POST":
            file_id = "file-" + uuid.uuid4().hex[:12]
            name, content, purpose = _multipart(body, headers)
            with self.lock:
                self.files[file_id] = {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": int(time.time()),
                    "filename": name or "train.jsonl",
                    "purpose": purpose or "fine-tune",
                    "status": "processed",
                }
                self.contents[file_id] = content
            return 200, self.files[file_id], None, None
        if path == "/v1/files" and method == "GET":
            purpose = (query.get("purpose") or [None])[0]
            data = [f for f in self.files.values() if purpose in (None, f["purpose"])]
            data.sort(key=lambda f: f["created_at"], reverse=True)
            return 200, {"object": "list", "data": data, "has_more": False}, None, None
        if path == "/v1/fine_tuning/jobs" and method == "POST":
            req = json.loads(body)
            refused = self._openai_method_problem(req)
            if refused:
                return 400, {"error": {"message": refused, "type": "invalid_request_error", "code": None}}, None, None
            job = self._new_job(
                req["model"],
                req["training_file"],
                req.get("validation_file"),
                req.get("metadata"),
                req.get("method") or {},
                "ftjob-",
            )
            return 200, self._openai_job(job), None, None
        if path == "/v1/fine_tuning/jobs" and method == "GET":
            wanted = {k[len("metadata[") : -1]: v[0] for k, v in query.items() if k.startswith("metadata[")}
            jobs = [j for j in self.jobs.values() if all(j.metadata.get(k) == v for k, v in wanted.items())]
            return 200, {"object": "list", "data": [self._openai_job(j) for j in jobs], "has_more": False}, None, None
        m = re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)(?:/(\w+))?", path)
        if m:
            job = self.jobs[m.group(1)]
            action = m.group(2)
            if action is None and method == "GET":
                self._advance(job)
                return 200, self._openai_job(job), None, None
            if action == "cancel":
                job.cancelled = True
            elif action == "pause":
                job.paused = True
            elif action == "resume":
                job.paused = False
            elif action == "events":
                return 200, self._openai_events(job, query), None, None
            elif action == "checkpoints":
                return 200, self._openai_checkpoints(job), None, None
            return 200, self._openai_job(job), None, None
        raise KeyError(path)

    def _openai_events(self, job: Job, query: dict) -> dict:
        events = [
            {
                "id": f"ftevent-{job.id}-{i}",
                "object": "fine_tuning.job.event",
                "created_at": int(job.created) + i,
                "level": "info",
                "message": f"Step {i}/{job.step * 3}: training loss={2.0 / (i + 1):.3f}",
                "data": {"step": i, "train_loss": 2.0 / (i + 1)},
                "type": "metrics",
            }
            for i in range(job.step * 3)
        ]
        events.reverse()  # newest first, as the API does
        after = (query.get("after") or [None])[0]
        if after:
            ids = [e["id"] for e in events]
            events = events[ids.index(after) + 1 :] if after in ids else []
        limit = int((query.get("limit") or [20])[0])
        return {"object": "list", "data": events[:limit], "has_more": len(events) > limit}

    def _openai_checkpoints(self, job: Job) -> dict:
        data = [
            {
                "id": f"ftckpt-{job.id}-{s}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": int(job.created),
                "fine_tuned_model_checkpoint": f"ft:{job.model}:adsft::{job.id[-6:]}:ckpt-step-{s}",
                "fine_tuning_job_id": job.id,
                "metrics": {"step": s, "train_loss": 1.0 / s},
                "step_number": s,
            }
            for s in range(10, 10 * job.step + 1, 10)
        ]
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    # Together --------------------------------------------------------------------------------------
    def _together_job(self, job: Job) -> dict:
        done = job.status == "completed"
        events = [
            {
                "object": "fine-tune-event",
                "created_at": iso(job.created + i),
                "level": "info",
                "message": f"Epoch {i} complete",
                "type": "epoch_complete",
            }
            for i in range(job.step)
        ]
        if job.status == "error":
            events.append(
                {
                    "object": "fine-tune-event",
                    "created_at": iso(time.time()),
                    "level": "error",
                    "message": "Job failed: CUDA out of memory.",
                    "type": "job_error",
                }
            )
        return {
            "id": job.id,
            "created_at": iso(job.created),
            "updated_at": iso(time.time()),
            "status": job.status,
            "model": job.model,
            "model_output_name": f"user/{job.model.split('/')[-1]}-adsft-{job.id[-6:]}",
            "adapter_output_name": None,
            "training_file": job.training_file,
            "validation_file": job.validation_file or "",
            "n_epochs": job.hyper.get("n_epochs", 1),
            "suffix": job.hyper.get("suffix"),
            "random_seed": job.hyper.get("random_seed"),
            "training_method": job.hyper.get("training_method") or {"method": "sft"},
            "from_checkpoint": job.hyper.get("from_checkpoint"),
            "token_count": 250000 if done else None,
            "total_price": 1_230_000_000 if done else None,
            "events": events,
            "user_id": "user-test",
        }

    def _together_method_problem(self, req: dict) -> tuple[str | None, str]:
        """Together's rules for a job's training method (sft or dpo) and its start (`model` or
        `from_checkpoint` of a finished job, never both); the model the job trains."""
        method = (req.get("training_method") or {"method": "sft"}).get("method")
        if method not in ("sft", "dpo"):
            return f"training_method {method!r} is not supported", ""
        start = req.get("from_checkpoint")
        if start and req.get("model"):
            return "specify either a model or a checkpoint, not both", ""
        model = req.get("model") or ""
        if start:
            parent = self.jobs.get(start.split(":")[0])
            if parent is None or parent.status != "completed":
                return f"checkpoint {start!r} is not a completed fine-tuning job", ""
            model = parent.model
        if not model:
            return "specify a model or a checkpoint", ""
        return None, model

    def _together(self, method: str, path: str, query: dict, body: bytes, headers: dict, root: str):
        if path == "/v1/files" and method == "POST":
            checksum = re.search(rb'name="checksum"\r\n\r\n([^\r]+)', body)
            name = re.search(rb'name="file_name"\r\n\r\n([^\r]+)', body)
            key = checksum.group(1).decode() if checksum else uuid.uuid4().hex
            if key in self.checksums and self.files[self.checksums[key]]["uploaded"]:
                return 409, {"file_id": self.checksums[key], "message": "file already exists"}, None, None
            file_id = self.checksums.get(key) or "file-" + uuid.uuid4().hex[:12]  # bytes not sent yet: same id
            self.checksums[key] = file_id
            self.files[file_id] = {
                "name": name.group(1).decode() if name else "train.jsonl",
                "bytes": 0,
                "uploaded": False,
            }
            return 302, {}, {"Location": f"{root}/upload/{file_id}", "X-Together-File-Id": file_id}, None
        m = re.fullmatch(r"/upload/([^/]+)", path)
        if m and method == "PUT":
            self.files[m.group(1)].update(bytes=len(body), uploaded=True)
            return 200, {}, None, None
        m = re.fullmatch(r"/v1/files/([^/]+)(/preprocess)?", path)
        if m:
            f = self.files[m.group(1)]
            return (
                200,
                {
                    "id": m.group(1),
                    "bytes": f["bytes"],
                    "created_at": int(time.time()),
                    "filename": f["name"],
                    "FileType": "jsonl",
                    "object": "file",
                    "purpose": "fine-tune",
                    "processing_status": "COMPLETED",
                },
                None,
                None,
            )
        if path == "/v1/fine-tunes/models/limits":
            model = query.get("model_name", [""])[0]
            if "llama" not in model.lower() and "qwen" not in model.lower():
                return 404, {"error": {"message": f"model {model} is not available for fine-tuning"}}, None, None
            return (
                200,
                {
                    "model_name": model,
                    "default_gradient_accumulation_steps": 1,
                    "max_learning_rate": 1.0,
                    "min_learning_rate": 1e-8,
                    "max_num_checkpoints": 20,
                    "max_num_epochs": 20,
                    "max_num_evals": 100,
                    "max_seq_length_sft": 8192,
                    "max_seq_length_dpo": 8192,
                    "merge_output_lora": True,
                    "min_max_seq_length": 512,
                    "supports_full_training": True,
                    "lora_training": {
                        "default_rank": 8,
                        "max_batch_size": 96,
                        "max_batch_size_dpo": 48,
                        "max_rank": 64,
                        "min_batch_size": 8,
                        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
                    },
                    "full_training": {"max_batch_size": 96, "max_batch_size_dpo": 48, "min_batch_size": 8},
                },
                None,
                None,
            )
        if path == "/v1/fine-tunes/estimate-price" and method == "POST":
            return (
                200,
                {
                    "estimation_available": True,
                    "estimated_total_price": 1.23,
                    "allowed_to_proceed": True,
                    "user_limit": 100.0,
                    "estimated_train_token_count": 250000,
                    "estimated_eval_token_count": 0,
                },
                None,
                None,
            )
        if path == "/v1/fine-tunes" and method == "POST":
            req = json.loads(body)
            refused, model = self._together_method_problem(req)
            if refused:
                return 400, {"error": {"message": refused}}, None, None
            job = self._new_job(model, req["training_file"], req.get("validation_file") or None, {}, req, "ft-")
            return 200, self._together_job(job), None, None
        if path == "/v1/fine-tunes" and method == "GET":
            return 200, {"data": [self._together_job(j) for j in self.jobs.values()]}, None, None
        if path == "/v1/finetune/download":
            job = self.jobs[query["ft_id"][0]]
            body = self.download_body if self.download_body is not None else adapter_archive({"job": job.id})
            return 200, None, {"Content-Disposition": "attachment"}, body
        m = re.fullmatch(r"/v1/fine-tunes/([^/]+)(?:/(\w+))?", path)
        if m:
            job = self.jobs[m.group(1)]
            action = m.group(2)
            if action is None:
                self._advance(job)
                return 200, self._together_job(job), None, None
            if action == "cancel":
                job.cancelled = True
                return 200, self._together_job(job), None, None
            if action == "events":
                return 200, {"data": self._together_job(job)["events"]}, None, None
            if action == "checkpoints":
                return (
                    200,
                    {
                        "data": [
                            {
                                "checkpoint_type": "Intermediate",
                                "created_at": iso(job.created),
                                "step": s,
                                "path": f"s3://ckpt/{job.id}/{s}",
                            }
                            for s in range(10, 10 * job.step + 1, 10)
                        ]
                    },
                    None,
                    None,
                )
        raise KeyError(path)
