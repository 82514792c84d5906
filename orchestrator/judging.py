"""Judging scoring attempts off the event loop: the rule checks run in worker processes.

A rule check costs about a millisecond of CPU; at high concurrency that, not the network, bounds a
scoring run, and a thread would hold the interpreter lock the event loop needs. The workers are forked
once, before the event loop starts, from a process that has already loaded the rule packs and the
run's briefs, so they start with both in memory and are sent only (language, text, brief id).

Each worker is one socket pair: the event loop writes length-prefixed requests through an asyncio
stream (never blocking, whatever the worker's backlog) and one reader task per worker settles the
replies' futures. That costs the loop a few tens of microseconds a check, where a ProcessPoolExecutor
(a manager thread, a wake-up pipe, a future per check handed between threads) costs it several times
more. Where fork is not available (or one core is all there is), the checks run in one thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from orchestrator.errors import AdsftError
from rules import Brief, RulePack, load_pack

_PACKS: dict[str, RulePack] = {}  # this process's packs (a forked worker inherits the parent's)
_HEADER = struct.Struct("!I")  # each message: its length, then a pickle


def pack(language: str) -> RulePack:
    if language not in _PACKS:
        _PACKS[language] = load_pack(language)
    return _PACKS[language]


def check(language: str, text: str, brief: Brief) -> tuple[bool, list[dict]]:
    """Whether the text passes the language's pack for this brief, and its error-level violations."""
    result = pack(language).check(text, brief)
    return result.passed, [v.as_dict() for v in result.violations if v.level == "error"]


def _read_exactly(stream: object, size: int) -> bytes | None:
    data = stream.read(size)  # type: ignore[attr-defined]
    return data if data is not None and len(data) == size else None


def _serve(sock: socket.socket, briefs: dict[str, Brief], parents_ends: list[socket.socket]) -> None:
    """A worker: check each request, reply in order; stop when the parent closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then closes the pipe
    for end in parents_ends:  # inherited copies would keep the pipes open after the parent closes them
        end.close()
    stream = sock.makefile("rwb")
    while True:
        header = _read_exactly(stream, _HEADER.size)
        if header is None:
            return
        body = _read_exactly(stream, _HEADER.unpack(header)[0])
        if body is None:
            return
        number, language, text, brief = pickle.loads(body)
        try:
            reply = (number, True, check(language, text, briefs[brief] if isinstance(brief, str) else brief))
        except Exception as exc:  # handed to the awaiting caller, as an executor would
            reply = (number, False, AdsftError(f"a rule check failed: {exc!r}"))
        payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            stream.write(_HEADER.pack(len(payload)) + payload)
            stream.flush()
        except OSError:  # the parent is gone
            return


class _Worker:
    def __init__(self, briefs: dict[str, Brief], others: list[_Worker]) -> None:
        self.sock, child = socket.socketpair()
        context = multiprocessing.get_context("fork")
        ends = [self.sock, *(w.sock for w in others)]
        self.process = context.Process(target=_serve, args=(child, briefs, ends), daemon=True)
        self.process.start()
        child.close()
        self.pending: dict[int, asyncio.Future] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.reading: asyncio.Task | None = None
        self.stopped: AdsftError | None = None

    async def connect(self) -> None:
        reader, self.writer = await asyncio.open_connection(sock=self.sock)
        self.reading = asyncio.get_running_loop().create_task(self._replies(reader))

    async def _replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
                number, ok, value = pickle.loads(await reader.readexactly(size))
                future = self.pending.pop(number, None)
                if future is not None and not future.done():  # a cancelled caller no longer waits
                    future.set_result(value) if ok else future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.stopped = AdsftError("a rule checker process stopped", fix="run the score command again to resume")
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(self.stopped)
            self.pending.clear()

    def send(self, number: int, request: tuple) -> asyncio.Future:
        assert self.writer is not None
        future = asyncio.get_running_loop().create_future()
        if self.stopped is not None:
            future.set_exception(self.stopped)
            return future
        self.pending[number] = future
        payload = pickle.dumps((number, *request), protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_HEADER.pack(len(payload)) + payload)  # buffered by the transport: never blocks
        return future

    async def disconnect(self) -> None:
        if self.writer is not None:
            self.writer.close()
            if self.reading is not None:
                await asyncio.gather(self.reading, return_exceptions=True)
            self.writer = self.reading = None

    def stop(self) -> None:
        self.sock.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Judges:
    """A pool of rule checkers for one scoring run (a context manager; `check` on one event loop)."""

    def __init__(self, languages: set[str], briefs: Iterable[Brief] = (), workers: int | None = None) -> None:
        for language in sorted(languages):
            pack(language)  # loaded here, once, before any worker is forked
        self.briefs = {b.id: b for b in briefs}  # sent by id: the workers hold them from the fork
        count = workers if workers is not None else min(4, max(1, (os.cpu_count() or 1) - 1))
        self.workers: list[_Worker] = []
        self.thread: ThreadPoolExecutor | None = None
        if "fork" in multiprocessing.get_all_start_methods() and count >= 1 and (os.cpu_count() or 1) > 1:
            for _ in range(count):  # forked now, while there is no event loop
                self.workers.append(_Worker(self.briefs, self.workers))
        else:
            self.thread = ThreadPoolExecutor(1, thread_name_prefix="judge")
        self.numbers = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connecting: asyncio.Task | None = None

    async def check(self, language: str, text: str, brief: Brief) -> tuple[bool, list[dict]]:
        loop = asyncio.get_running_loop()
        if self.thread is not None:
            return await loop.run_in_executor(self.thread, check, language, text, brief)
        if self.loop is not loop:  # the streams belong to one event loop: opened once, by the first caller
            self.loop, self.connecting = loop, loop.create_task(self._connect())
        if self.connecting is not None:
            await asyncio.shield(self.connecting)
        worker = min(self.workers, key=lambda w: len(w.pending))
        self.numbers += 1
        key = brief.id if self.briefs.get(brief.id) is brief else brief
        return await worker.send(self.numbers, (language, text, key))

    async def _connect(self) -> None:
        for worker in self.workers:
            await worker.connect()
        self.connecting = None

    async def aclose(self) -> None:
        """Close the streams on the loop that opened them (the end of a run); `close` then stops the
        workers."""
        for worker in self.workers:
            await worker.disconnect()
        self.loop = None

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
        if self.thread is not None:
            self.thread.shutdown(wait=True)

    def __enter__(self) -> Judges:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
