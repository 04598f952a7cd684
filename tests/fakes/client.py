"""The fake tools' process: `client.py TOOL ARGS...`, run by the `exo`, `kubectl` and `helm` wrappers.

With `FAKE_SERVER` (a Unix socket of tests/fakes/server.py) the call is answered by a fork of a
process that has the fakes already imported: this process hands over its stdin, stdout and
stderr, its environment and working directory, and exits with the answer's code. A call then costs
an interpreter start without `site` and a fork, instead of a full start and the fakes' imports.
Without `FAKE_SERVER` it runs main.py itself. Either way the call is answered by the same code
(main.serve), on this process's own stdio, with its exit code and its Ctrl-C (FAKE_INTERRUPT: SIGINT
to this process's group, which it dies of); a SIGINT this process gets while waiting is passed on.

Only built-in modules here (started with `python -S -I`): every import is paid on every call.
"""

import _signal
import _socket
import marshal
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def receive_all(sock: "_socket.socket") -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def main() -> None:
    address = os.environ.get("FAKE_SERVER")
    if not address:
        script = os.path.join(HERE, "main.py")
        os.execv(sys.executable, [sys.executable, script, *sys.argv[1:]])
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(address)
    present = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            present.append(fd)
        except OSError:
            pass
    payload = marshal.dumps((sys.argv[1], sys.argv[2:], dict(os.environ), os.getcwd(), present))
    framed = len(payload).to_bytes(8, "big") + payload
    rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in present)
    sent = sock.sendmsg([framed], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)] if present else [])
    if sent < len(framed):
        sock.sendall(framed[sent:])
    header = b""
    while len(header) < 4:  # the pid of the fork answering this call
        chunk = sock.recv(4 - len(header))
        if not chunk:
            sys.stderr.write(f"fake {sys.argv[1]}: no answer from the fake server {address}\n")
            sys.exit(70)
        header += chunk
    child = int.from_bytes(header, "big")

    def forward(signum: int, _frame: object) -> None:
        os.kill(child, signum)

    _signal.signal(_signal.SIGINT, forward)
    reply = receive_all(sock)
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    sock.close()
    if not reply:
        sys.stderr.write(f"fake {sys.argv[1]}: no answer from the fake server {address}\n")
        sys.exit(70)
    code, interrupt = marshal.loads(reply)
    if interrupt:  # Ctrl-C in a terminal: SIGINT to every process of the foreground group
        os.killpg(os.getpgrp(), _signal.SIGINT)
        time.sleep(5)
    if code < 0:  # the answer died of a signal (a forwarded SIGINT): so does this process
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
