#!/usr/bin/env python3
"""A subscriber that stops reading must not make `assay broker` hold
unbounded output for it, nor keep its connection open for ever:

1. past `output_buffer_limit` bytes it is disconnected, and the broker goes
   on serving everyone else;
2. a connection the broker has closed (here: taken over by a new connection
   with the same client id) whose last bytes its client does not read is
   closed after a grace period, read or not.

Starts `assay broker` on its own loopback port (stopped by PID at the end)
and drives it with raw MQTT 3.1.1 clients: subscribers with a small receive
buffer that do not read, and a publisher flooding their topic at QoS 0.

  slow_consumer.py ASSAY_BINARY PORT
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

assay, port = sys.argv[1], int(sys.argv[2])
LIMIT = 16 * 1024 * 1024
PAYLOAD = 16 * 1024
MESSAGES = 4000  # 64 MiB in all: four times the limit and the kernel's buffers
STUCK_MESSAGES = 750  # 12 MiB: more than the kernel buffers, less than them and the limit
GRACE = 5  # seconds; broker/asio/server.cpp, closing_grace


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
    """Reads until the end of the stream; (bytes, whether it ended within 5 s of silence)."""
    received = 0
    s.settimeout(5)
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


def expect_log(log, text):
    log.seek(0)
    content = log.read()
    if text not in content:
        raise SystemExit(f"FAIL: the broker did not log '{text}':\n{content}")


def main():
    work = tempfile.mkdtemp()
    conf = os.path.join(work, "broker.json")
    with open(conf, "w") as f:
        json.dump({"listeners": [{"address": "127.0.0.1", "port": port}], "threads": 1,
                   "log_level": "warning", "output_buffer_limit": LIMIT}, f)
    log = open(os.path.join(work, "broker.log"), "w+")
    broker = subprocess.Popen([assay, "broker", "-c", conf], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        pub = connect("fast-publisher")
        message = packet(0x30, utf8("slow/topic") + b"x" * PAYLOAD)

        # 1. Past the limit.
        sub = subscriber("slow-subscriber")
        flood(pub, message, MESSAGES)
        received, closed = read_to_end(sub)
        published = MESSAGES * len(message)
        print(f"1. published {published} bytes; the subscriber received {received} before "
              f"{'the close' if closed else 'a 5 s silence'}")
        if not closed:
            raise SystemExit("FAIL: the subscriber that stopped reading was not disconnected")
        if received >= published // 2:
            raise SystemExit("FAIL: the broker held far more than output_buffer_limit for it")
        again = connect("after-the-slow-one")
        again.close()
        expect_log(log, "unread by its client")
        print("ok   slow consumer disconnected past output_buffer_limit; broker still serving")

        # 2. Below the limit, closed by the broker, never read.
        stuck = subscriber("stuck-subscriber")
        flood(pub, message, STUCK_MESSAGES)
        connect("stuck-subscriber").close()  # takes the session over: the old connection ends
        time.sleep(GRACE + 1.5)
        received, closed = read_to_end(stuck)
        published = STUCK_MESSAGES * len(message)
        print(f"2. published {published} bytes; the stuck subscriber, reading only after "
              f"{GRACE + 1.5} s, received {received} before "
              f"{'the close' if closed else 'a 5 s silence'}")
        if not closed:
            raise SystemExit("FAIL: the taken-over connection was never closed")
        if received >= published * 3 // 4:
            raise SystemExit("FAIL: the broker kept the closed connection open until it was read")
        expect_log(log, "did not read its last")
        print("ok   a closed connection whose client does not read ends after the grace period")
        pub.close()
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


main()
