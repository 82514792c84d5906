"""Unpacking downloaded weights by what the bytes are, not by what the file is called.

Together sends fine-tuned weights as a zstd-compressed tar; a zip, a gzip tar or a plain tar is
unpacked too. The result is a folder that `PeftModel.from_pretrained(base, folder)` (or, for merged
weights, `from_pretrained(folder)`) loads: when the archive wraps everything in one top-level folder,
that folder's contents are moved up. Members that would land outside the folder are refused.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

from providers.errors import ProviderError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def sniff(path: Path) -> str:
    """zstd | gzip | zip | tar | unknown, from the file's first bytes."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return "unknown"


def _untar(stream, dest: Path) -> None:
    with tarfile.open(fileobj=stream, mode="r|*") as tar:  # streamed: the archive is never held in memory
        for member in tar:
            target = (dest / member.name).resolve()
            if not target.is_relative_to(dest.resolve()) or member.issym() or member.islnk():
                raise ProviderError(
                    f"the download holds an unsafe entry {member.name!r}", fix="report it to the provider"
                )
            tar.extract(member, dest, filter="data")


def _zstd_reader(path: Path):
    try:
        import zstandard
    except ImportError:
        raise ProviderError(
            "the download is zstd-compressed and the zstandard package is missing",
            fix="pip install zstandard (it comes with adsft[remote])",
        ) from None
    return zstandard.ZstdDecompressor().stream_reader(path.open("rb"), closefd=True)


def _flatten(dest: Path) -> None:
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        for item in inner.iterdir():
            item.rename(dest / item.name)
        inner.rmdir()


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack `archive` into the folder `dest` (replaced if it exists); returns `dest`."""
    kind = sniff(archive)
    tmp = dest.with_name(dest.name + ".unpacking")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        if kind == "zstd":
            with _zstd_reader(archive) as stream:
                _untar(stream, tmp)
        elif kind in ("gzip", "tar"):
            with archive.open("rb") as raw:
                _untar(raw, tmp)
        elif kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                root = tmp.resolve()
                for name in zf.namelist():
                    if not (tmp / name).resolve().is_relative_to(root):
                        raise ProviderError(f"the download holds an unsafe entry {name!r}")
                zf.extractall(tmp)
        else:
            with archive.open("rb") as handle:
                head = handle.read(16)
            raise ProviderError(
                f"the download is not an archive adsft knows (zstd tar, gzip tar, tar or zip; starts {head!r})",
                fix="download it again; if it persists, report it to the provider",
            )
        _flatten(tmp)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, io.UnsupportedOperation) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ProviderError(f"the download could not be unpacked: {exc}", fix="download it again") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    tmp.replace(dest)
    return dest
