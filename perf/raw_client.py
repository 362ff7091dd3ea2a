"""A lean keep-alive HTTP/1.1 client on asyncio streams, for load that must cost its sender little.

The load suite's abuse phase runs its readers and its attacker on the two cores the server
runs on. Through httpx they spent 2 to 4 ms of CPU per request (the readers 7.4 CPU s for about
3,500 reads in a 10 s phase, the attacker 3.9 CPU s for 966 submissions), which the kernel took
from the server and from each other; a real reader's or attacker's CPU is not the server
machine's. This client writes each request in one call and reads answers framed by
Content-Length (or chunked): about 0.25 ms per request (1.2 CPU s for 4,711 reads, 0.37 CPU s
for 1,726 submissions). It speaks only to 127.0.0.1.
"""

import asyncio
import json
from typing import Any


class RawClient:
    """Keep-alive connections to one server, reused one request at a time each."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """Send one request; return its status and body. Raise OSError if the answer is lost."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        reader, writer = (
            self._idle.pop()
            if self._idle
            else await asyncio.open_connection("127.0.0.1", self.port)
        )
        try:
            writer.write(head + payload)
            status, answer, keep = await _read_answer(reader)
        except BaseException:
            writer.close()
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return status, answer

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    status = int(status_line.split()[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            keep = value != "close"
    if not chunked:
        return status, await reader.readexactly(length), keep
    parts = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()  # the blank line after the last chunk
    return status, b"".join(parts), keep
