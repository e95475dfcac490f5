"""The API's listening socket (gateway.cli.failures.bind): connections accepted on it send small writes at once.

With Nagle's algorithm on, an answer written as two sends (headers, then body) waits for the client's delayed ACK,
~40 ms on every request of a keep-alive connection; asyncio turns it off only for sockets that say they are TCP.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from gateway.cli.failures import bind


def test_connections_accepted_on_the_api_socket_have_nagle_off():
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    seen: list[int] = []

    async def main() -> None:
        done = asyncio.Event()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()
            done.set()

        server = await asyncio.start_server(on_connect, sock=sock)
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(done.wait(), 10)
        writer.close()
        server.close()
        await server.wait_closed()

    # a thread of its own: a test run before this one (the browser tests) may leave an event loop in this thread
    runner = threading.Thread(target=lambda: asyncio.run(main()))
    runner.start()
    runner.join(20)
    assert seen and seen[0] != 0
