#!/usr/bin/env python3
"""A subscriber that stops reading must not make `assay broker` hold
unbounded output for it: past `output_buffer_limit` bytes it is disconnected,
and the broker goes on serving everyone else.

Starts `assay broker` on its own loopback port (stopped by PID at the end),
subscribes a raw MQTT 3.1.1 client with a small receive buffer that never
reads, floods its topic with QoS 0 messages from another client, then checks
that the subscriber was closed after far less than was published, that the
broker logged why, and that a new client still connects.

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
LIMIT = 256 * 1024
PAYLOAD = 8 * 1024
MESSAGES = 4000  # 32 MiB in all: 128 times the limit


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
        sub = connect("slow-subscriber", rcvbuf=4096)
        sub.sendall(packet(0x82, (1).to_bytes(2, "big") + utf8("slow/topic") + bytes([0])))
        suback = sub.recv(5)
        if suback != bytes([0x90, 3, 0, 1, 0]):
            raise SystemExit(f"FAIL: expected SUBACK granting QoS 0, got {suback.hex()}")

        pub = connect("fast-publisher")
        message = packet(0x30, utf8("slow/topic") + b"x" * PAYLOAD)
        for _ in range(MESSAGES):
            pub.sendall(message)
        pub.sendall(packet(0xC0, b""))  # PINGREQ: the PINGRESP says all was read
        if pub.recv(2) != bytes([0xD0, 0]):
            raise SystemExit("FAIL: the publisher got no PINGRESP")

        # Only now does the subscriber read: it must find the end of the stream
        # after at most what the kernel buffers and the limit held.
        received, closed = 0, False
        sub.settimeout(5)
        try:
            while True:
                chunk = sub.recv(65536)
                if not chunk:
                    closed = True
                    break
                received += len(chunk)
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        published = MESSAGES * len(message)
        print(f"published {published} bytes; the subscriber received {received} before "
              f"{'the close' if closed else 'a 5 s silence'}")
        if not closed:
            raise SystemExit("FAIL: the subscriber that stopped reading was not disconnected")
        if received >= published // 4:
            raise SystemExit("FAIL: the broker held far more than output_buffer_limit for it")

        again = connect("after-the-slow-one")
        again.close()
        pub.close()
        log.seek(0)
        text = log.read()
        if "unread by its client" not in text:
            raise SystemExit(f"FAIL: the broker did not log the disconnection:\n{text}")
        print("ok   slow consumer disconnected past output_buffer_limit; broker still serving")
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


main()
