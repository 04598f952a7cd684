"""`server.py SOCKET`: answers the fake tools' calls (client.py) by forking, the fakes already imported.

A test's bootstrap run makes about a hundred calls; started afresh, each would spend most of its
time starting Python and importing the fakes (and ruamel.yaml for those that parse manifests).
Here that happens once: each connection is answered by a fork that takes over the caller's stdin,
stdout and stderr (passed as file descriptors), environment and working directory, runs
main.serve as main.py would, and replies with the exit code and whether Ctrl-C follows. The caller
forwards a SIGINT it gets to the fork, which then dies of it as main.py would (KeyboardInterrupt).

The server stops when its parent (the pytest process that started it) is gone.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import socket
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_exo  # noqa: F401  (imported once here, not in every call)
import fake_helm  # noqa: F401
import fake_kubectl
import main

fake_kubectl.yaml.load("{}")  # ruamel.yaml too


def receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    data, fds, _flags, _address = socket.recv_fds(conn, 65536, 3)
    size = int.from_bytes(data[:8], "big")
    data = data[8:]
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("the caller hung up")
        data += chunk
    return data, fds


def answer(conn: socket.socket) -> None:
    """In the fork: become the caller's process for one call."""
    payload, fds = receive(conn)
    tool, argv, env, cwd, present = marshal.loads(payload)
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fds[present.index(target)] if target in present else devnull, target)
    for fd in (*fds, devnull):
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = [main.__file__, tool, *argv]
    conn.sendall(os.getpid().to_bytes(4, "big"))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a forwarded Ctrl-C: KeyboardInterrupt
    try:
        code, interrupt = main.serve(tool, argv)
    except KeyboardInterrupt:
        traceback.print_exc()
        code, interrupt = -signal.SIGINT, False
    except SystemExit as exc:
        code, interrupt = exc.code if isinstance(exc.code, int) else 1, False
    except Exception:  # noqa: BLE001  (what an uncaught exception does to main.py: traceback, exit 1)
        traceback.print_exc()
        code, interrupt = 1, False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that is gone: main.py would lose the output too
            stream.flush()
    conn.sendall(marshal.dumps((code, interrupt)))
    conn.shutdown(socket.SHUT_WR)
    conn.recv(1)  # stay alive (a target for forwarded signals) until the caller has its answer


def serve(address: str) -> None:
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(128)
    listener.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.setblocking(True)
        if os.fork() == 0:
            code = 1
            try:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.run must wait for its children
                answer(conn)
                code = 0
            except Exception:  # noqa: BLE001  (a fork must end in os._exit, whatever happened)
                traceback.print_exc()
            finally:
                os._exit(code)
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
