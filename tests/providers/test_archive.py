"""Downloads are unpacked by what the bytes are (zstd tar, gzip tar, tar, zip), whatever they are named."""

from __future__ import annotations

import io
import tarfile

import pytest

from providers.archive import sniff, unpack
from providers.errors import ProviderError
from tests.fakecloud import adapter_archive

pytest.importorskip("zstandard")


@pytest.mark.parametrize("kind", ["zstd", "zip", "tar"])
def test_archives_are_unpacked_by_content_into_the_folder(tmp_path, kind):
    blob = tmp_path / "adapter.tar.zst"  # the name says zstd whatever the content: it is not trusted
    blob.write_bytes(adapter_archive({"adapter_model.safetensors": b"\0" * 64}, folder="wrapped", kind=kind))
    assert sniff(blob) == kind
    dest = unpack(blob, tmp_path / "out")
    assert sorted(p.name for p in dest.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]


def test_an_archive_without_a_wrapping_folder_is_kept_as_is(tmp_path):
    blob = tmp_path / "x.bin"
    blob.write_bytes(adapter_archive(folder=""))
    assert [p.name for p in unpack(blob, tmp_path / "out").iterdir()] == ["adapter_config.json"]


def test_unknown_bytes_and_escaping_members_are_refused(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"ADAPTER:not an archive")
    with pytest.raises(ProviderError, match="not an archive"):
        unpack(junk, tmp_path / "out")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    evil = tmp_path / "evil.tar"
    evil.write_bytes(raw.getvalue())
    with pytest.raises(ProviderError, match="unsafe"):
        unpack(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()
