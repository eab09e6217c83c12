#!/usr/bin/env python3
"""Measures `assay broker` against Mosquitto in the same run, with the same
load and the same settings (TCP_NODELAY on, no limit on in-flight messages
to a client, 1000 queued messages per session):

- broker CPU microseconds per delivered message (utime + stime of the broker
  process from /proc, before and after each scenario, also shown apart: the
  kernel's share is the sockets' work, the same for any broker that makes
  the same system calls), and end-to-end latency
  percentiles, for 1-to-1 at QoS 0/1/2, fan-in 100-to-1 and fan-out 1-to-100,
  64-byte payloads;
- broker memory per idle connection at 10,000 connections (VmRSS growth),
  for clients without Keep Alive and with 60 s, each on a freshly started
  broker.

The load comes from two generators (--generator assay|mosquitto|both; both
by default, assay alone with --smoke and --instructions):

- `assay bench`, our own client engine, whose write loop coalesces what
  a connection has to send into one system call;
- `peer_load` (bench/peer_load.c, built here with `cc ... -lmosquitto`, so
  it needs libmosquitto-dev): a harness on libmosquitto's public API that
  writes each packet (PUBLISH, PUBACK, PUBREC, ...) with its own system call
  as devices and most client libraries do, at the same rate as `assay
  bench` with at most 500 messages in flight in all.

Each generator gets its own table: the broker sees fewer, larger reads
under the first and one packet per read under the second, and the second
is what deployed brokers meet.

Both brokers run side by side and take turns: each scenario runs on one,
then on the other, and the whole set runs --rounds times (3 by default),
the brokers going first in turn, so that both meet the shared machine in
the same state; with both generators, each scenario runs with the first
generator on both brokers, then with the second. Prints, one table per
generator, the median of each figure over the rounds and the ratio
assay/Mosquitto (below 1 is better for assay), with each round's ratio
beside it; the idle-memory rows (always loaded by `assay bench -s idle`)
follow as a table of their own. Each scenario's "floor" row sets assay's
kernel time against Mosquitto's whole CPU time: the lowest CPU ratio that
cutting assay's user-space work alone could reach. With --smoke, only a short load
against `assay broker` that must deliver every QoS 1 and 2 message (the CI
load smoke test).

With --instructions, both brokers run under `valgrind --tool=callgrind`
instead, and the table gives the instructions each executes in user space
per delivered message (counted only while each load runs, connecting and
subscribing included), at a tenth of the rates above: a count that does not
move with the machine's load, for comparing rounds of changes or two
binaries (--other BINARY measures a second assay in place of Mosquitto).
It needs valgrind; the kernel's work is not in it. --generator works
here too (one table per generator).

--scale F multiplies every scenario's message count by F (1 by default;
e.g. 0.2 for a quick look; rates stay, so runs get shorter).

`assay broker` runs with --threads 1 unless --threads N says otherwise:
Mosquitto is single-threaded, and CPU per delivery is compared thread for
thread; the multi-threaded figures are a separate run.

With --persistence, the table is instead QoS 1 from one publisher to one
subscriber as fast as acknowledgements allow (deliveries per second and CPU
per delivery) on five brokers side by side: assay with persistence_sync
`every` (nothing acknowledged before it is on disk), `interval` (1000 ms)
and off, and Mosquitto with `persistence true` (its autosave) and without;
ratios are to Mosquitto with persistence. The load is peer_load's, whose
clients keep their sessions there (3.1.1, CleanSession 0) and which keeps
at most 500 messages published and not yet delivered (`assay bench` has no
such window). With --tls, 1-to-1 QoS 1 at
10,000 messages a second over TLS (a throwaway CA and certificate made
with openssl) against Mosquitto over TLS, loaded by peer_load alone
(`assay bench` has no TLS), which verifies the certificate.

  compare_brokers.py ASSAY_BINARY [--smoke | --instructions [--other BINARY]] [--rounds N]
                     [--persistence] [--tls]
                     [--generator assay|mosquitto|both] [--scale F]
                     [--threads N] [--port-base N] [--json FILE]

--json FILE writes every round's result: per broker, "scenarios" keyed by
generator ("assay", "mosquitto") then by scenario, and
"idle_bytes_per_connection".
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

assay = sys.argv[1]
smoke = "--smoke" in sys.argv
instructions = "--instructions" in sys.argv
other = sys.argv[sys.argv.index("--other") + 1] if "--other" in sys.argv else None
port_base = int(sys.argv[sys.argv.index("--port-base") + 1]) if "--port-base" in sys.argv else 28890
threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else \
    1 if smoke else 3
generator = sys.argv[sys.argv.index("--generator") + 1] if "--generator" in sys.argv else \
    "assay" if smoke or instructions else "both"
if generator not in ("assay", "mosquitto", "both"):
    raise SystemExit(f"--generator {generator}: assay, mosquitto or both")
GENERATORS = ("assay", "mosquitto") if generator == "both" else (generator,)
GENERATOR_LABELS = {
    "assay": "load: assay bench (our client engine, batched writes)",
    "mosquitto": "load: libmosquitto peer_load (one packet per write, as devices do)",
}
PEER_WINDOW = 500  # peer_load: messages in flight in all, as in issue 18's harness
scale = float(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 1.0
peer_load = None  # the built bench/peer_load.c, when a generator needs it
tick = os.sysconf("SC_CLK_TCK")

SCENARIOS = [  # name, scenario, qos, clients, messages, rate
    ("1-to-1 QoS 0", "pairs", 0, 1, 50000, 10000),
    ("1-to-1 QoS 1", "pairs", 1, 1, 50000, 10000),
    ("1-to-1 QoS 2", "pairs", 2, 1, 50000, 10000),
    ("fan-in 100-to-1 QoS 1", "fan-in", 1, 100, 50000, 10000),
    ("fan-out 1-to-100 QoS 1", "fan-out", 1, 100, 1000, 500),
]
IDLE_KEEP_ALIVES = (0, 60)  # none, and what most clients use
if smoke:
    SCENARIOS = [("smoke 10 pairs QoS 1", "pairs", 1, 10, 5000, 5000),
                 ("smoke fan-out 1-to-20 QoS 2", "fan-out", 2, 20, 200, 200)]
if instructions:  # callgrind runs the broker tens of times slower
    SCENARIOS = [(name, scenario, qos, clients, messages // 10, rate // 10)
                 for name, scenario, qos, clients, messages, rate in SCENARIOS]
if scale != 1.0:
    SCENARIOS = [(name, scenario, qos, clients, max(1, round(messages * scale)), rate)
                 for name, scenario, qos, clients, messages, rate in SCENARIOS]


def wait_port(port):
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def cpu_ticks(pid):
    """(user, kernel) clock ticks the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # utime, stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Broker:
    def __init__(self, name, argv, port, work):
        self.name, self.port = name, port
        self.log = open(os.path.join(work, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        wait_port(port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def build_peer_load(work):
    """Builds bench/peer_load.c (not part of the CMake build) into work."""
    global peer_load
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_load.c")
    binary = os.path.join(work, "peer_load")
    out = subprocess.run(["cc", "-O2", "-o", binary, source, "-lmosquitto", "-lpthread"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"building {source} failed (libmosquitto-dev installed? "
                         f"tools/bootstrap installs it):\n{out.stderr}")
    peer_load = binary


def bench(port, scenario, qos, clients, messages, rate, generator="assay"):
    """One load run; both generators print the same JSON fields."""
    if generator == "mosquitto":
        return bench_peer(port, scenario, qos, clients, messages, rate)
    out = subprocess.run([assay, "bench", f"127.0.0.1:{port}", "-s", scenario, "-q", str(qos),
                          "-n", str(clients), "-m", str(messages), "-r", str(rate),
                          "--payload", "64", "--json"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"assay bench failed ({scenario} qos {qos}): {out.stderr}{out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1])


bench_peer_extra = []  # more peer_load arguments (--cafile, --persistent), per comparison


def bench_peer(port, scenario, qos, clients, messages, rate):
    publishers = 1 if scenario == "fan-out" else clients
    subscribers = 1 if scenario == "fan-in" else clients
    out = subprocess.run([peer_load, "--host", "127.0.0.1", "--port", str(port),
                          "--scenario", scenario, "--qos", str(qos), "--messages", str(messages),
                          "--publishers", str(publishers), "--subscribers", str(subscribers),
                          "--window", str(PEER_WINDOW), "--rate", str(rate), "--payload", "64",
                          "--timeout", "240", *bench_peer_extra],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"peer_load failed ({scenario} qos {qos}): {out.stderr}{out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_one(broker, generator, name, scenario, qos, clients, messages, rate):
    user_before, kernel_before = cpu_ticks(broker.proc.pid)
    r = bench(broker.port, scenario, qos, clients, messages, rate, generator)
    user_after, kernel_after = cpu_ticks(broker.proc.pid)
    per = 1e6 / tick / max(r["delivered"], 1)
    r["cpu_user_us_per_delivery"] = (user_after - user_before) * per
    r["cpu_kernel_us_per_delivery"] = (kernel_after - kernel_before) * per
    r["cpu_us_per_delivery"] = r["cpu_user_us_per_delivery"] + r["cpu_kernel_us_per_delivery"]
    return r


def cpu(r):
    return r["cpu_us_per_delivery"]


def user(r):
    return r["cpu_user_us_per_delivery"]


def kernel(r):
    return r["cpu_kernel_us_per_delivery"]


def p50(r):
    return r["latency_us"]["p50"]


def p99(r):
    return r["latency_us"]["p99"]


# Each row of the report: its name, the figure taken from assay's result and
# the one taken from Mosquitto's.
ROWS = (("CPU us/delivery", cpu, cpu),
        ("- of it user", user, user),
        ("- of it kernel", kernel, kernel),
        ("latency p50 us", p50, p50),
        ("latency p99 us", p99, p99),
        # How low the CPU ratio could go if assay's user time were zero: its
        # kernel time (the sockets' work) against Mosquitto's total.
        ("floor: assay kernel vs mosquitto CPU", kernel, cpu))


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def measure_rounds(brokers):
    """Every scenario `rounds` times on each broker, the brokers taking turns
    scenario by scenario (and going first in turn), so that both meet the
    machine in the same state; with two generators, each scenario runs with
    the one on both brokers, then with the other. Returns, per generator,
    broker and scenario, the rounds."""
    results = {g: {b.name: {name: [] for name, *_ in SCENARIOS} for b in brokers}
               for g in GENERATORS}
    for round_ in range(rounds):
        for scenario in SCENARIOS:
            for g in GENERATORS:
                for b in brokers[round_ % len(brokers):] + brokers[:round_ % len(brokers)]:
                    results[g][b.name][scenario[0]].append(measure_one(b, g, *scenario))
    return results


def callgrind(pid, *commands):
    for command in commands:
        subprocess.run(["callgrind_control", *command.split(), str(pid)], check=True,
                       capture_output=True, timeout=60)


def measure_instructions(broker, out_file):
    """Instructions per delivery, counted by callgrind while each load runs;
    per generator, then scenario."""
    results = {g: {} for g in GENERATORS}
    dump = 0
    for name, scenario, qos, clients, messages, rate in SCENARIOS:
        for g in GENERATORS:
            dump += 1
            callgrind(broker.proc.pid, "-z", "-i on")
            r = bench(broker.port, scenario, qos, clients, messages, rate, g)
            callgrind(broker.proc.pid, "-i off", "-d")
            with open(f"{out_file}.{dump}") as f:
                totals = next(int(line.split()[1]) for line in f if line.startswith("totals:"))
            r["instructions_per_delivery"] = totals / max(r["delivered"], 1)
            results[g][name] = r
    return results


def instructions_table(work):
    brokers = [("assay", assay_argv(assay, port_base), port_base)]
    if other:
        brokers.append(("other", assay_argv(other, port_base + 1), port_base + 1))
    else:
        brokers.append(("mosquitto", mosquitto_argv(work, port_base + 1, as_root=True),
                        port_base + 1))
    results = {}
    for name, argv, port in brokers:
        out_file = os.path.join(work, f"{name}.callgrind")
        b = Broker(name, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                          f"--callgrind-out-file={out_file}"] + argv, port, work)
        try:
            results[name] = measure_instructions(b, out_file)
        finally:
            b.stop()
    peer = brokers[1][0]
    for g in GENERATORS:
        a, m = results["assay"][g], results[peer][g]
        if len(GENERATORS) > 1 or g != "assay":
            print(GENERATOR_LABELS[g])
        print(f"instructions per delivery, assay broker --threads {threads} vs {peer}")
        print(f"| scenario | assay | {peer} | ratio |")
        print("|---|---|---|---|")
        for name, *_ in SCENARIOS:
            x, y = a[name]["instructions_per_delivery"], m[name]["instructions_per_delivery"]
            ratio = f"{x / y:.2f}" if y else "-"
            print(f"| {name} | {x:,.0f} | {y:,.0f} | {ratio} |")
        print()
    return results


def write_json(results):
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(results, f, indent=2)


def assay_argv(binary, port):
    return [binary, "broker", "--bind", "127.0.0.1", "-p", str(port), "-q", "--threads", threads]


def mosquitto_argv(work, port, as_root=False):
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        # Under callgrind, run as root Mosquitto would switch to its own
        # user, which cannot write callgrind's output file: `user root`.
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                "set_tcp_nodelay true\nmax_inflight_messages 0\n"
                "max_queued_messages 1000\nmax_connections -1\n"
                + ("user root\n" if as_root and os.geteuid() == 0 else ""))
    return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", conf]


def idle_memory(broker, keep_alive, connections=10000):
    time.sleep(0.5)
    before = rss_kib(broker.proc.pid)
    proc = subprocess.Popen([assay, "bench", f"127.0.0.1:{broker.port}", "-s", "idle", "-n",
                             str(connections), "--hold", "30", "-k", str(keep_alive)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("connected"):
        proc.kill()
        raise SystemExit(f"{broker.name}: idle connections failed: {proc.stderr.read()}")
    time.sleep(1.0)
    after = rss_kib(broker.proc.pid)
    proc.kill()
    proc.wait()
    return (after - before) * 1024 / connections


def report(rounds_of, label):
    """Prints the medians over the rounds and their ratio, and each round's
    ratio beside them."""
    a, m = rounds_of["assay"], rounds_of["mosquitto"]
    print(label)
    print(f"assay broker --threads {threads}, median of {rounds} rounds"
          + (f", message counts x{scale:g}" if scale != 1.0 else ""))
    print("| scenario | metric | assay | mosquitto | ratio | ratio per round |")
    print("|---|---|---|---|---|---|")
    for name, *_ in SCENARIOS:
        for metric, get_assay, get_peer in ROWS:
            xs, ys = [get_assay(r) for r in a[name]], [get_peer(r) for r in m[name]]
            x, y = median(xs), median(ys)
            ratio = f"{x / y:.2f}" if y else "-"
            each = ", ".join(f"{p / q:.2f}" if q else "-" for p, q in zip(xs, ys))
            print(f"| {name} | {metric} | {x:.2f} | {y:.2f} | {ratio} | {each} |")


# --persistence and --tls: what a deployed broker pays, against Mosquitto
# configured the same way, each variant a broker of its own.
PERSISTENCE_LOAD = ("1-to-1 QoS 1, as fast as deliveries allow", "pairs", 1, 1, 100000, 0)
TLS_LOAD = ("1-to-1 QoS 1 over TLS, 10k msg/s", "pairs", 1, 1, 50000, 10000)


def write_file(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def assay_config_argv(work, name, port, extra):
    config = {"listeners": [{"address": "127.0.0.1", "port": port}]}
    config["listeners"][0].update(extra.pop("listener", {}))
    config.update(extra)
    path = write_file(work, f"{name}.json", json.dumps(config))
    return [assay, "broker", "-c", path, "-q", "--threads", "1"]


def mosquitto_conf_argv(work, name, port, lines):
    conf = write_file(work, f"{name}.conf",
                      f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                      "max_inflight_messages 0\nmax_queued_messages 1000\n" + lines)
    return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", conf]


def make_certificates(work):
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl)."""
    def run(*argv):
        subprocess.run(["openssl", *argv], check=True, capture_output=True, cwd=work)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
        "server.key", "-out", "server.csr")
    write_file(work, "san.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-days", "2", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-extfile", "san.cnf", "-out", "server.pem")
    # Mosquitto started as root drops to its own user before reading them.
    os.chmod(work, 0o755)
    os.chmod(os.path.join(work, "server.key"), 0o644)
    return {k: os.path.join(work, f) for k, f in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def compare_variants(work, title, load, variants, reference, generators, peer_args):
    """Each variant (label, argv, port) as its own broker, all running side
    by side, taking turns per round; prints throughput and CPU per delivery
    against the reference variant's."""
    global bench_peer_extra
    bench_peer_extra = peer_args
    name, scenario, qos, clients, messages, rate = load
    load = (name, scenario, qos, clients, max(1, round(messages * scale)), rate)
    running = []
    results = {g: {label: [] for label, *_ in variants} for g in generators}
    try:
        for label, argv, port in variants:
            running.append((label, Broker(f"variant-{port}", argv, port, work)))
        for round_ in range(rounds):
            order = running[round_ % len(running):] + running[:round_ % len(running)]
            for g in generators:
                for label, broker in order:
                    results[g][label].append(measure_one(broker, g, *load))
    finally:
        bench_peer_extra = []
        for _, b in running:
            b.stop()
    for g in generators:
        print(f"{title}: {load[0]}, {GENERATOR_LABELS[g]}, median of {rounds} rounds")
        print(f"| broker | deliveries/s | ratio to {reference} | CPU us/delivery | ratio | "
              "latency p50 us | p99 us |")
        print("|---|---|---|---|---|---|---|")
        ref = results[g][reference]
        ref_rate = median([r["deliveries_per_second"] for r in ref])
        ref_cpu = median([cpu(r) for r in ref])
        for label, *_ in variants:
            rs = results[g][label]
            rate = median([r["deliveries_per_second"] for r in rs])
            c = median([cpu(r) for r in rs])
            print(f"| {label} | {rate:.0f} | {rate / ref_rate:.2f} | {c:.2f} | {c / ref_cpu:.2f} | "
                  f"{median([p50(r) for r in rs]):.0f} | {median([p99(r) for r in rs]):.0f} |")
        print()
    return results


def persistence_comparison(work):
    p = port_base
    variants = [
        ("assay, persistence every", assay_config_argv(work, "every", p, {
            "persistence_file": os.path.join(work, "every.log"), "persistence_sync": "every"}), p),
        ("assay, persistence interval 1000 ms", assay_config_argv(work, "interval", p + 1, {
            "persistence_file": os.path.join(work, "interval.log"),
            "persistence_sync": "interval", "persistence_sync_interval": 1000}), p + 1),
        ("assay, no persistence", assay_config_argv(work, "volatile", p + 2, {}), p + 2),
        ("mosquitto, persistence true", mosquitto_conf_argv(work, "mosq-persist", p + 3,
            f"persistence true\npersistence_location {work}/\n"), p + 3),
        ("mosquitto, no persistence", mosquitto_conf_argv(work, "mosq-volatile", p + 4, ""), p + 4),
    ]
    # peer_load alone, with at most 500 messages published and not yet
    # delivered (--end-to-end): `assay bench` at full speed has no window
    # and overruns the subscriber's 1000-message queue (assay then refuses
    # with 0x97, Quota exceeded; 3.1.1 closes the publisher).
    # Its clients keep their sessions (3.1.1 CleanSession 0), so the
    # subscriber's session holds every message on its way.
    return compare_variants(work, "persistence", PERSISTENCE_LOAD, variants,
                            "mosquitto, persistence true", ("mosquitto",),
                            ["--version", "3.1.1", "--persistent", "--end-to-end"])


def tls_comparison(work):
    certs = make_certificates(work)
    p = port_base
    variants = [
        ("assay over TLS", assay_config_argv(work, "tls", p, {"listener": {"tls": {
            "cert_file": certs["cert"], "key_file": certs["key"]}}}), p),
        ("mosquitto over TLS", mosquitto_conf_argv(work, "mosq-tls", p + 1,
            f"cafile {certs['ca']}\ncertfile {certs['cert']}\nkeyfile {certs['key']}\n"), p + 1),
    ]
    # `assay bench` has no TLS: peer_load alone, verifying the certificate.
    return compare_variants(work, "TLS", TLS_LOAD, variants, "mosquitto over TLS",
                            ("mosquitto",), ["--cafile", certs["ca"]])


def main():
    work = tempfile.mkdtemp()
    try:
        if "mosquitto" in GENERATORS or "--tls" in sys.argv or "--persistence" in sys.argv:
            build_peer_load(work)
        if instructions:
            write_json(instructions_table(work))
            return
        if "--persistence" in sys.argv or "--tls" in sys.argv:
            results = {}
            if "--persistence" in sys.argv:
                results["persistence"] = persistence_comparison(work)
            if "--tls" in sys.argv:
                results["tls"] = tls_comparison(work)
            write_json(results)
            return
        brokers = [("assay", assay_argv(assay, port_base), port_base)]
        if not smoke:
            brokers.append(("mosquitto", mosquitto_argv(work, port_base + 1), port_base + 1))
        running = []
        try:
            for name, argv, port in brokers:
                running.append(Broker(name, argv, port, work))
            rounds_of = measure_rounds(running)
        finally:
            for b in running:
                b.stop()
        if smoke:
            # Every message published and every copy delivered, whatever the
            # bench's own exit status says (QoS 1 and 2: nothing may be lost).
            lost = False
            for (name, _, _, clients, messages, _) in SCENARIOS:
                for r in rounds_of[GENERATORS[0]]["assay"][name]:
                    print(f"{name}: {r['published']} of {messages} published, "
                          f"{r['delivered']} of {r['expected']} delivered, "
                          f"p99 {r['latency_us']['p99']} us")
                    lost = lost or r["published"] != messages or r["delivered"] != r["expected"]
            if lost:
                raise SystemExit("FAIL: messages were lost")
            return
        idle = {}
        for name, argv, port in brokers:
            for keep_alive in IDLE_KEEP_ALIVES:
                b = Broker(name, argv, port, work)  # a fresh one for each
                try:
                    idle[name, keep_alive] = idle_memory(b, keep_alive)
                finally:
                    b.stop()
        for g in GENERATORS:
            report(rounds_of[g], GENERATOR_LABELS[g])
            print()
        print("idle connections (assay bench -s idle), a freshly started broker for each row")
        print("| scenario | metric | assay | mosquitto | ratio |")
        print("|---|---|---|---|---|")
        for keep_alive in IDLE_KEEP_ALIVES:
            x, y = idle["assay", keep_alive], idle["mosquitto", keep_alive]
            print(f"| 10,000 idle connections, Keep Alive {keep_alive} s | bytes/connection "
                  f"| {x:.0f} | {y:.0f} | {x / y:.2f} |")
        write_json({name: {"scenarios": {g: rounds_of[g][name] for g in GENERATORS},
                           "idle_bytes_per_connection": {
                               str(k): idle[name, k] for k in IDLE_KEEP_ALIVES}}
                    for name, *_ in brokers})
    finally:
        shutil.rmtree(work, ignore_errors=True)

main()
