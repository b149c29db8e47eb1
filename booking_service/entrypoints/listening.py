"""Listening sockets for the service's servers (REST, the sandbox peers; gRPC binds its own), and the
one error a server raises when it cannot listen: CannotListen, which says what, where and why
(failures.py turns it into the command line's one line, naming the flag that moves it)."""

from __future__ import annotations

import errno
import socket

#: What each errno means for a port a person asked for.
_REASONS = {
    errno.EADDRINUSE: "the port is in use",
    errno.EACCES: "not allowed (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's",
}


class CannotListen(OSError):
    """A server could not listen on its address. `what`: the server ("gRPC", "REST", "the sandbox
    peers"); `code`: the errno (EADDRINUSE, EACCES, EADDRNOTAVAIL...; 0 when unknown); `reason`:
    why in words (else the errno's meaning)."""

    def __init__(self, what: str, host: str, port: int, code: int, reason: str = "") -> None:
        reason = reason or _REASONS.get(code, "the server refused the address")
        super().__init__(f"cannot listen for {what} on {_address(host, port)}: {reason}")
        self.what, self.host, self.port, self.code = what, host, port, code


def listen(what: str, host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port (0: any free port); raises CannotListen. Made with proto
    IPPROTO_TCP (socket.create_server leaves it 0): asyncio turns Nagle's algorithm off only for
    such sockets, and with it on every answer waits ~40 ms for a delayed ACK."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CannotListen(
            what, host, port, errno.EADDRNOTAVAIL, f"no such address ({error.strerror})"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # serve --workers: every worker listens on the port, the kernel spreads connections
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
        sock.listen(1024)
    except OSError as error:
        sock.close()
        code = error.errno or 0
        raise CannotListen(what, host, port, code, "" if code in _REASONS else str(error)) from None
    return sock


def diagnose(what: str, host: str, port: int, *, reuse_port: bool = False) -> CannotListen:
    """Why a server that binds by itself (gRPC, which says only "Failed to bind") could not: tries
    the same bind, and names what it meets."""
    try:
        listen(what, host, port, reuse_port=reuse_port).close()
    except CannotListen as found:
        return found
    return CannotListen(what, host, port, 0)


def _address(host: str, port: int) -> str:
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
