"""The listening socket of each web process (`api.serving`): shared by port, and Nagle off
on what it accepts, without which two web processes answered every request in ~44 ms."""

from __future__ import annotations

import asyncio
import socket

from api.serving import listening_socket


async def test_accepted_connections_have_nagle_off_and_the_port_can_be_shared() -> None:
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)  # a second web process, same port
    try:
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) != 0
        nodelay: list[int] = []

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        servers = [await asyncio.start_server(accepted, sock=s) for s in (first, second)]
        for _ in range(4):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await reader.read() == b""
            writer.close()
        assert len(nodelay) == 4 and all(nodelay), nodelay
        for server in servers:
            server.close()
            await server.wait_closed()
    finally:
        first.close()
        second.close()


def test_a_port_held_without_sharing_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            listening_socket("127.0.0.1", taken.getsockname()[1]).close()
        except OSError:
            return
        raise AssertionError("bound a port another socket holds without SO_REUSEPORT")
