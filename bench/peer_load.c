/* peer_load: a load generator for any MQTT broker on libmosquitto's public
 * API, the "load that is not ours" of bench/compare_brokers.py (issue 18).
 * Not part of the CMake build: the script builds it with
 *   cc -O2 -o peer_load bench/peer_load.c -lmosquitto -lpthread
 *
 * Every client is a libmosquitto instance, all driven by one thread through
 * libmosquitto's external-loop API (mosquitto_socket, mosquitto_loop_read,
 * mosquitto_loop_write, mosquitto_loop_misc) around one poll(). Called
 * outside its callbacks and without its own thread, libmosquitto writes each
 * packet with its own system call the moment it is queued: one PUBLISH per
 * write, one PUBACK/PUBREC/PUBCOMP per write, as devices and most client
 * libraries do (unlike `assay bench`, whose client engine batches a loop
 * turn's packets into one write).
 *
 * Subscribers connect and subscribe first; then publishers connect, and
 * once all are up the publishers take turns publishing N messages in all,
 * at --rate messages per second (0: as fast as the window allows), with at
 * most --window messages in flight in total (published but not yet reported
 * by on_publish: acknowledged at QoS 1/2, written at QoS 0). Each payload
 * starts with its send time (CLOCK_MONOTONIC ns, native byte order, as
 * `assay bench` does), so subscribers measure end-to-end latency.
 *
 * The run ends when every message is acknowledged and every expected
 * delivery has arrived (N per subscriber for fan-out, N in all for pairs
 * and fan-in; QoS 0: or two seconds after the last publish), or when
 * --timeout seconds pass. It prints one JSON line with the fields of
 * `assay bench --json` (published, expected, acknowledged, delivered,
 * seconds, deliveries_per_second, latency_us {p50, p90, p99, max}) plus
 * p50_us and p99_us, and exits 1 if any QoS 1/2 delivery or
 * acknowledgement is missing or a connection failed.
 *
 *   peer_load [--host H] [--port P] [--scenario pairs|fan-in|fan-out]
 *             [--qos Q] [--messages N] [--publishers K] [--subscribers M]
 *             [--window W] [--rate R] [--payload BYTES] [--timeout S]
 *             [--version 5|3.1.1] [--cafile PEM] [--persistent] [--end-to-end]
 * (one_to_one, fan_in and fan_out are accepted as scenario names too.)
 * --cafile: TLS, verifying the broker's certificate (and its name) against
 * PEM. --persistent (with --version 3.1.1): every client keeps its session
 * (CleanSession 0), so that the broker's store is in the path of every
 * message. --end-to-end: the window counts messages not yet delivered
 * rather than not yet acknowledged, so that "as fast as possible" is as
 * fast as the broker delivers, never faster than its queues can hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum scenario { PAIRS, FAN_IN, FAN_OUT };

struct client {
  struct mosquitto *m;
  int index;
  int subscriber;
  int connected;
  int subscribed;
  char topic[64]; /* publishers: where they publish; subscribers: the filter */
};

static const char *host = "127.0.0.1";
static int port = 1883;
static enum scenario scenario = PAIRS;
static const char *scenario_name = "pairs";
static int qos = 0;
static long messages = 10000;
static int publishers = 1;
static int subscribers = 1;
static long window_size = 500;
static double rate = 0;
static long payload = 64;
static const char *cafile = NULL;
static int persistent = 0;
static int end_to_end = 0;
static double timeout_s = 120;
static int version = MQTT_PROTOCOL_V5;
static const char *version_name = "5";

static struct client *clients;
static int client_count;
static long published, acknowledged, delivered, expected;
static int errors;
static int finished;
static int64_t *latencies;
static long latency_count;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fail(const char *what, int rc) {
  if (finished) return;
  ++errors;
  fprintf(stderr, "peer_load: %s: %s\n", what, mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  struct client *c = obj;
  if (rc != 0) {
    ++errors;
    fprintf(stderr, "peer_load: connection refused: %s\n", mosquitto_connack_string(rc));
    return;
  }
  c->connected = 1;
  if (c->subscriber) {
    int s = mosquitto_subscribe(m, NULL, c->topic, qos);
    if (s != MOSQ_ERR_SUCCESS) fail("subscribe", s);
  }
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted) {
  struct client *c = obj;
  (void)m;
  (void)mid;
  if (count < 1 || granted[0] >= 128) {
    ++errors;
    fprintf(stderr, "peer_load: subscription to %s refused\n", c->topic);
    return;
  }
  c->subscribed = 1;
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
  (void)m;
  (void)obj;
  (void)mid;
  ++acknowledged;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
  (void)m;
  (void)obj;
  ++delivered;
  if (msg->payloadlen >= 8 && latency_count < expected) {
    int64_t sent;
    memcpy(&sent, msg->payload, 8);
    latencies[latency_count++] = now_ns() - sent;
  }
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
  (void)m;
  (void)obj;
  if (!finished) fail("connection lost", rc == 0 ? MOSQ_ERR_CONN_LOST : rc);
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The same rank as `assay bench`: element p * (n - 1) of the sorted values. */
static long percentile_us(double p) {
  if (latency_count == 0) return 0;
  return (long)(latencies[(long)(p * (double)(latency_count - 1))] / 1000);
}

static void usage(void) {
  fprintf(stderr,
          "usage: peer_load [--host H] [--port P] [--scenario pairs|fan-in|fan-out] [--qos Q]\n"
          "                 [--messages N] [--publishers K] [--subscribers M] [--window W]\n"
          "                 [--rate R] [--payload BYTES] [--timeout S] [--version 5|3.1.1]\n"
          "                 [--cafile PEM] [--persistent] [--end-to-end]\n");
  exit(2);
}

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--persistent")) {
      persistent = 1;
      continue;
    }
    if (!strcmp(a, "--end-to-end")) {
      end_to_end = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--scenario")) {
      if (!strcmp(v, "pairs") || !strcmp(v, "one_to_one")) {
        scenario = PAIRS, scenario_name = "pairs";
      } else if (!strcmp(v, "fan-in") || !strcmp(v, "fan_in")) {
        scenario = FAN_IN, scenario_name = "fan-in";
      } else if (!strcmp(v, "fan-out") || !strcmp(v, "fan_out")) {
        scenario = FAN_OUT, scenario_name = "fan-out";
      } else {
        usage();
      }
    } else if (!strcmp(a, "--qos")) qos = atoi(v);
    else if (!strcmp(a, "--messages")) messages = atol(v);
    else if (!strcmp(a, "--publishers")) publishers = atoi(v);
    else if (!strcmp(a, "--subscribers")) subscribers = atoi(v);
    else if (!strcmp(a, "--window")) window_size = atol(v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--payload")) payload = atol(v);
    else if (!strcmp(a, "--timeout")) timeout_s = atof(v);
    else if (!strcmp(a, "--cafile")) cafile = v;
    else if (!strcmp(a, "--version")) {
      if (!strcmp(v, "5")) version = MQTT_PROTOCOL_V5, version_name = "5";
      else if (!strcmp(v, "3.1.1")) version = MQTT_PROTOCOL_V311, version_name = "3.1.1";
      else usage();
    } else usage();
  }
  if (qos < 0 || qos > 2 || messages < 1 || publishers < 1 || subscribers < 1 || window_size < 1)
    usage();
  if (persistent && version != MQTT_PROTOCOL_V311) {
    fprintf(stderr, "peer_load: --persistent needs --version 3.1.1\n");
    exit(2);
  }
  if (scenario == PAIRS && publishers != subscribers) {
    fprintf(stderr, "peer_load: pairs needs as many publishers as subscribers\n");
    exit(2);
  }
  if (scenario == FAN_IN && subscribers != 1) subscribers = 1;
  if (scenario == FAN_OUT && publishers != 1) publishers = 1;
  if (payload < 8) payload = 8;
}

static void add_client(struct client *c, int index, int subscriber) {
  char id[64];
  snprintf(id, sizeof id, "%s%d-%ld", subscriber ? "ps" : "pp", index, (long)getpid());
  c->index = index;
  c->subscriber = subscriber;
  /* Topics of this run alone: sessions kept by an earlier run (--persistent)
   * must not receive its messages. */
  const long run = (long)getpid();
  if (scenario == FAN_OUT) snprintf(c->topic, sizeof c->topic, "bench/%ld/out", run);
  else if (scenario == FAN_IN)
    snprintf(c->topic, sizeof c->topic, subscriber ? "bench/%ld/in/+" : "bench/%ld/in/%d", run,
             index);
  else snprintf(c->topic, sizeof c->topic, "bench/%ld/pair/%d", run, index);
  c->m = mosquitto_new(id, !persistent, c);
  if (!c->m) {
    fprintf(stderr, "peer_load: mosquitto_new failed\n");
    exit(1);
  }
  mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, version);
  mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);  /* as `assay bench` */
  mosquitto_int_option(c->m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);  /* libmosquitto's default: 20 */
  mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, 65535);
  mosquitto_max_inflight_messages_set(c->m, 0);  /* MQTT 3.1.1: no client-side limit */
  if (cafile && mosquitto_tls_set(c->m, cafile, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "peer_load: --cafile %s: not usable\n", cafile);
    exit(2);
  }
  mosquitto_connect_callback_set(c->m, on_connect);
  mosquitto_subscribe_callback_set(c->m, on_subscribe);
  mosquitto_publish_callback_set(c->m, on_publish);
  mosquitto_message_callback_set(c->m, on_message);
  mosquitto_disconnect_callback_set(c->m, on_disconnect);
  int rc = mosquitto_connect(c->m, host, port, 60);
  if (rc != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "peer_load: connect to %s:%d: %s\n", host, port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    exit(1);
  }
}

/* One turn of the event loop: poll every socket (for writing too where
 * libmosquitto has output queued), read and write what is ready, and let
 * libmosquitto keep its timers. */
static void turn(struct pollfd *fds, int timeout_ms, int first, int last) {
  for (int i = first; i < last; ++i) {
    fds[i].fd = mosquitto_socket(clients[i].m);
    fds[i].events = POLLIN | (mosquitto_want_write(clients[i].m) ? POLLOUT : 0);
    fds[i].revents = 0;
  }
  int n = poll(fds + first, (nfds_t)(last - first), timeout_ms);
  if (n < 0 && errno != EINTR) {
    perror("peer_load: poll");
    exit(1);
  }
  for (int i = first; i < last && n > 0; ++i) {
    struct mosquitto *m = clients[i].m;
    if (fds[i].fd < 0) continue;
    int rc;
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
      rc = mosquitto_loop_read(m, 1);
      if (rc != MOSQ_ERR_SUCCESS && !finished) fail("read", rc);
    }
    if ((fds[i].revents & POLLOUT) && mosquitto_want_write(m)) {
      rc = mosquitto_loop_write(m, 1);
      if (rc != MOSQ_ERR_SUCCESS && !finished) fail("write", rc);
    }
  }
}

static void misc(int first, int last) {
  for (int i = first; i < last; ++i) mosquitto_loop_misc(clients[i].m);
}

static int all_up(int first, int last) {
  for (int i = first; i < last; ++i)
    if (!clients[i].connected || (clients[i].subscriber && !clients[i].subscribed)) return 0;
  return 1;
}

static void wait_up(struct pollfd *fds, int first, int last) {
  const int64_t deadline = now_ns() + 30 * (int64_t)1000000000;
  while (!all_up(first, last) && errors == 0) {
    if (now_ns() > deadline) {
      fprintf(stderr, "peer_load: clients did not connect and subscribe within 30 s\n");
      exit(1);
    }
    turn(fds, 10, first, last);
    misc(first, last);
  }
  if (errors) exit(1);
}

/* What the window counts: published and not yet acknowledged, or with
 * --end-to-end, published and not yet delivered to every subscriber. */
static long in_flight(long copies) {
  return end_to_end ? published * copies - delivered : published - acknowledged;
}

int main(int argc, char **argv) {
  parse(argc, argv);
  mosquitto_lib_init();
  client_count = publishers + subscribers;
  clients = calloc((size_t)client_count, sizeof *clients);
  struct pollfd *fds = calloc((size_t)client_count, sizeof *fds);
  const long copies = scenario == FAN_OUT ? subscribers : 1;
  expected = messages * copies;
  latencies = malloc((size_t)expected * sizeof *latencies);
  char *body = malloc((size_t)payload);
  if (!clients || !fds || !latencies || !body) return 1;
  memset(body, 'x', (size_t)payload);

  /* Subscribers first, every one subscribed before a publisher connects. */
  for (int i = 0; i < subscribers; ++i) add_client(&clients[i], i, 1);
  wait_up(fds, 0, subscribers);
  for (int i = 0; i < publishers; ++i) add_client(&clients[subscribers + i], i, 0);
  wait_up(fds, 0, client_count);

  const int64_t started = now_ns();
  const int64_t deadline = started + (int64_t)(timeout_s * 1e9);
  int64_t last_publish = 0, last_misc = started, finished_at = 0;
  while (errors == 0) {
    const int64_t t = now_ns();
    if (published == messages && acknowledged == messages && delivered >= expected) break;
    if (qos == 0 && published == messages && acknowledged == messages &&
        t - last_publish > 2 * (int64_t)1000000000)
      break;
    if (t > deadline) {
      fprintf(stderr, "peer_load: deadline of %.0f s passed\n", timeout_s);
      break;
    }
    if (published < messages) {
      long due = rate > 0 ? (long)((double)(t - started) / 1e9 * rate) + 1 : messages;
      if (due > messages) due = messages;
      while (published < due && in_flight(copies) < window_size && errors == 0) {
        struct client *p = &clients[subscribers + (int)(published % publishers)];
        const int64_t sent = now_ns();
        memcpy(body, &sent, 8);
        /* Outside a callback and unthreaded: written at once, one packet. */
        int rc = mosquitto_publish(p->m, NULL, p->topic, (int)payload, body, qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
          fail("publish", rc);
          break;
        }
        ++published;
      }
      if (published == messages) last_publish = now_ns();
    }
    turn(fds, 1, 0, client_count);
    if (t - last_misc > 100000000) {
      misc(0, client_count);
      last_misc = t;
    }
  }
  finished_at = now_ns();
  finished = 1;
  for (int i = 0; i < client_count; ++i) {
    mosquitto_disconnect(clients[i].m);
    mosquitto_destroy(clients[i].m);
  }
  mosquitto_lib_cleanup();

  const double seconds = (double)(finished_at - started) / 1e9;
  qsort(latencies, (size_t)latency_count, sizeof *latencies, compare_i64);
  const long p50 = percentile_us(0.50), p90 = percentile_us(0.90), p99 = percentile_us(0.99),
             pmax = percentile_us(1.0);
  printf("{\"generator\":\"peer_load\",\"scenario\":\"%s\",\"version\":\"%s\",\"qos\":%d,"
         "\"publishers\":%d,\"subscribers\":%d,\"payload\":%ld,\"window\":%ld,\"rate\":%g,"
         "\"published\":%ld,\"expected\":%ld,\"acknowledged\":%ld,\"delivered\":%ld,"
         "\"seconds\":%.6f,\"deliveries_per_second\":%.1f,"
         "\"latency_us\":{\"p50\":%ld,\"p90\":%ld,\"p99\":%ld,\"max\":%ld},"
         "\"p50_us\":%ld,\"p99_us\":%ld,\"errors\":%d}\n",
         scenario_name, version_name, qos, publishers, subscribers, payload, window_size, rate,
         published, expected, acknowledged, delivered, seconds,
         seconds > 0 ? (double)delivered / seconds : 0.0, p50, p90, p99, pmax, p50, p99, errors);
  fflush(stdout);
  if (errors) return 1;
  if (qos > 0 && (published < messages || acknowledged < published || delivered < expected))
    return 1;
  return 0;
}
