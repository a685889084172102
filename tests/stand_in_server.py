"""A real HTTP server on 127.0.0.1 for fault tests: slow bodies, silence, endless page chains.

It runs an asyncio server on its own event loop in a thread, so the code under test talks to
it through real sockets with its own loop, exactly as it would to a cloud API. Each connection
carries one request (``Connection: close``); the test's ``answer`` coroutine gets the request
target (path and query) and writes the whole response itself, so it can misbehave at will.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any

Answer = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


class StandInServer:
    """``with StandInServer(answer) as server:`` serves at ``server.url`` until the block ends."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.targets: list[str] = []  # every request target, in arrival order
        self.url = ""

    def __enter__(self) -> StandInServer:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Awaitable[Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(timeout=5)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # connections still trickling or silent
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            self.targets.append(target)
            await self._answer(target, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: that is what these tests provoke
        except asyncio.CancelledError:
            pass  # the test is over (_shutdown); ending quietly keeps asyncio from logging it
        finally:
            writer.close()
            self._tasks.discard(task)


def head(
    status: int = 200,
    *,
    length: int | None = None,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A response head; without ``length`` the body runs until the connection closes."""
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send_json(writer: asyncio.StreamWriter, document: object) -> None:
    body = json.dumps(document).encode()
    writer.write(head(length=len(body), content_type="application/json") + body)


async def trickle(writer: asyncio.StreamWriter, *, every: float, length: int = 10_000) -> None:
    """Headers at once, then one byte of a ``length``-byte body every ``every`` seconds."""
    writer.write(head(length=length, content_type="application/json"))
    for _ in range(length):
        await writer.drain()
        await asyncio.sleep(every)
        writer.write(b" ")


async def never_answer(writer: asyncio.StreamWriter) -> None:
    """Accept the request, then say nothing until the test ends."""
    await asyncio.Event().wait()
