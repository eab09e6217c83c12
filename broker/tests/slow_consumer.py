#!/usr/bin/env python3
"""A subscriber that stops reading must not make `assay broker` hold
unbounded output for it, nor keep its connection open for ever:

1. past `output_buffer_limit` bytes it is disconnected, and the broker goes
   on serving everyone else;
2. a connection the broker has closed (here: taken over by a new connection
   with the same client id) whose last bytes its client does not read is
   closed after a grace period (`closing_grace`, which the test sets to 1 s),
   read or not.

Starts `assay broker` on its own loopback port (stopped by PID at the end)
and drives it with raw MQTT 3.1.1 clients: subscribers with a small receive
buffer that do not read, and a publisher flooding their topic at QoS 0.
Nothing waits for time to pass: the test waits for the broker's log lines
(listening, disconnecting the slow consumer, closing after the grace) and
for packets; timeouts only turn an event that never comes into a failure.

  slow_consumer.py ASSAY_BINARY PORT
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

assay, port = sys.argv[1], int(sys.argv[2])
LIMIT = 16 * 1024 * 1024
PAYLOAD = 16 * 1024
MESSAGES = 4000  # 64 MiB in all: four times the limit and the kernel's buffers
STUCK_MESSAGES = 750  # 12 MiB: more than the kernel buffers, less than them and the limit
GRACE = 1  # seconds: the broker's closing_grace, set in its configuration below
DEADLINE = 60  # seconds after which an event that has not come fails the test


class Log:
    """The broker's log, read line by line as it is written; wait_for()
    returns when a line holds `text` (already or later)."""

    def __init__(self, stream):
        self.lines = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text):
        with self.changed:
            if not self.changed.wait_for(lambda: any(text in l for l in self.lines), DEADLINE):
                raise SystemExit(f"FAIL: the broker did not log '{text}':\n" + "\n".join(self.lines))


def packet(first, body):
    n, length = len(body), bytearray()
    while True:
        b, n = n % 128, n // 128
        length.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(length) + body


def utf8(s):
    return len(s).to_bytes(2, "big") + s.encode()


def connect(client_id, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(packet(0x10, utf8("MQTT") + bytes([4, 0x02, 0, 60]) + utf8(client_id)))
    ack = s.recv(4)
    if ack != bytes([0x20, 2, 0, 0]):
        raise SystemExit(f"FAIL {client_id}: expected CONNACK 0, got {ack.hex()}")
    return s


def subscriber(client_id):
    s = connect(client_id, rcvbuf=4096)
    s.sendall(packet(0x82, (1).to_bytes(2, "big") + utf8("slow/topic") + bytes([0])))
    suback = s.recv(5)
    if suback != bytes([0x90, 3, 0, 1, 0]):
        raise SystemExit(f"FAIL: expected SUBACK granting QoS 0, got {suback.hex()}")
    return s


def flood(pub, message, count):
    for _ in range(count):
        pub.sendall(message)
    pub.sendall(packet(0xC0, b""))  # PINGREQ: the PINGRESP says all was read
    if pub.recv(2) != bytes([0xD0, 0]):
        raise SystemExit("FAIL: the publisher got no PINGRESP")


def read_to_end(s):
    """Reads until the end of the stream, which the broker has closed; (bytes,
    whether it ended: false only if it did not within DEADLINE of silence)."""
    received = 0
    s.settimeout(DEADLINE)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return received, True
            received += len(chunk)
    except ConnectionResetError:
        return received, True
    except socket.timeout:
        return received, False


def main():
    work = tempfile.mkdtemp()
    conf = os.path.join(work, "broker.json")
    with open(conf, "w") as f:
        json.dump({"listeners": [{"address": "127.0.0.1", "port": port}], "threads": 1,
                   "log_level": "info", "output_buffer_limit": LIMIT,
                   "closing_grace": GRACE}, f)
    broker = subprocess.Popen([assay, "broker", "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    log = Log(broker.stderr)
    try:
        log.wait_for(f"listening on 127.0.0.1:{port}")
        pub = connect("fast-publisher")
        message = packet(0x30, utf8("slow/topic") + b"x" * PAYLOAD)

        # 1. Past the limit.
        sub = subscriber("slow-subscriber")
        flood(pub, message, MESSAGES)
        log.wait_for("unread by its client: disconnecting it")
        received, closed = read_to_end(sub)
        published = MESSAGES * len(message)
        print(f"1. published {published} bytes; the subscriber received {received} before "
              f"{'the close' if closed else f'{DEADLINE} s of silence'}")
        if not closed:
            raise SystemExit("FAIL: the subscriber that stopped reading was not disconnected")
        if received >= published // 2:
            raise SystemExit("FAIL: the broker held far more than output_buffer_limit for it")
        again = connect("after-the-slow-one")
        again.close()
        print("ok   slow consumer disconnected past output_buffer_limit; broker still serving")

        # 2. Below the limit, closed by the broker, never read.
        stuck = subscriber("stuck-subscriber")
        flood(pub, message, STUCK_MESSAGES)
        connect("stuck-subscriber").close()  # takes the session over: the old connection ends
        log.wait_for("its client did not read its last")  # after closing_grace
        received, closed = read_to_end(stuck)
        published = STUCK_MESSAGES * len(message)
        print(f"2. published {published} bytes; the stuck subscriber, reading only once the "
              f"broker had closed it, received {received} before "
              f"{'the close' if closed else f'{DEADLINE} s of silence'}")
        if not closed:
            raise SystemExit("FAIL: the taken-over connection was never closed")
        if received >= published * 3 // 4:
            raise SystemExit("FAIL: the broker kept the closed connection open until it was read")
        print("ok   a closed connection whose client does not read ends after the grace period")
        pub.close()
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
    if broker.returncode != 0:
        raise SystemExit(f"FAIL: the broker exited with {broker.returncode} on SIGTERM")


main()
