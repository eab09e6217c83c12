// Interop: MQTT.js (pinned in package.json) against a broker, 3.1.1 and 5.0:
// QoS 0/1/2, retained set and clear, Will on a lost connection, wildcards,
// shared subscriptions (5.0) and session resumption. Prints one line per
// check; exits 1 if any failed. Over MQTT's TCP by default; over WebSocket
// (ws), or WebSocket over TLS (wss, trusting the CA in CAFILE), on PATH.
//   node interop.mjs HOST PORT [ws|wss PATH [CAFILE]]
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';

const [host, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 1883)];
const transport = process.argv[4]
  ? {
      protocol: process.argv[4], path: process.argv[5] ?? '/mqtt',
      ...(process.argv[6] ? { ca: readFileSync(process.argv[6]), rejectUnauthorized: true } : {}),
    }
  : {};
const run = Math.random().toString(36).slice(2, 8);
let failures = 0;
let checks = 0;

function check(name, ok, detail = '') {
  checks++;
  if (ok) {
    console.log(`ok   ${name}`);
  } else {
    failures++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

// Connects; every message the client receives from then on is kept in
// `client.inbox`, so none is missed however early it arrives.
function connect(version, options = {}) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({
      host, port, protocolVersion: version, reconnectPeriod: 0, connectTimeout: 5000,
      ...transport, ...options,
    });
    c.inbox = [];
    c.on('message', (topic, payload, packet) => {
      c.inbox.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    });
    c.once('connect', (ack) => resolve([c, ack]));
    c.once('error', reject);
  });
}

// The messages `clients` receive together from message `starts[i]` of each
// inbox on, once `count` have arrived (resolved by the arrivals themselves,
// not by time), or what came when `ms` have passed: a deadline that only
// turns a lost message into a failed check instead of a hung test.
function collectAll(clients, starts, count, ms = 5000) {
  const got = () => clients.flatMap((c, i) => c.inbox.slice(starts[i]));
  return new Promise((resolve) => {
    const done = () => {
      if (got().length < count) return;
      finish();
    };
    const timer = setTimeout(() => finish(), ms);
    const finish = () => {
      clearTimeout(timer);
      for (const c of clients) c.removeListener('message', done);
      resolve(got());
    };
    for (const c of clients) c.on('message', done);
    done();
  });
}

// The messages `client` receives from now on, once `count` have arrived.
function collect(client, count, ms = 5000) {
  return collectAll([client], [client.inbox.length], count, ms);
}

// The same, counting from message `start` of the inbox.
function collectFrom(client, start, count, ms = 5000) {
  return collectAll([client], [start], count, ms);
}

const end = (c) => new Promise((resolve) => c.end(false, {}, resolve));

async function scenarios(version) {
  const v = version === 5 ? 'v5' : 'v311';
  const t = (leaf) => `interop/${run}/${v}/${leaf}`;

  // QoS 0, 1 and 2, delivered at the granted QoS.
  {
    const [sub] = await connect(version);
    await sub.subscribeAsync(t('qos'), { qos: 2 });
    const [pub] = await connect(version);
    const got = collect(sub, 3);
    for (const qos of [0, 1, 2]) await pub.publishAsync(t('qos'), `m${qos}`, { qos });
    const msgs = await got;
    check(`${v} qos 0/1/2`, msgs.map((m) => `${m.payload}@${m.qos}`).join(',') === 'm0@0,m1@1,m2@2',
      JSON.stringify(msgs));
    await end(sub);
    await end(pub);
  }

  // Wildcards: + one level, # the rest (and the parent).
  {
    const [sub] = await connect(version);
    await sub.subscribeAsync([t('w/+/c'), t('h/#')], { qos: 0 });
    const [pub] = await connect(version);
    const got = collect(sub, 3);
    for (const leaf of ['w/b/c', 'w/b/c/d', 'h', 'h/x/y']) await pub.publishAsync(t(leaf), leaf);
    const msgs = await got;
    check(`${v} wildcards`, msgs.map((m) => m.payload).sort().join(',') === 'h,h/x/y,w/b/c',
      JSON.stringify(msgs));
    await end(sub);
    await end(pub);
  }

  // Retained: set, replace, clear.
  {
    const [pub] = await connect(version);
    await pub.publishAsync(t('r'), 'old', { qos: 1, retain: true });
    await pub.publishAsync(t('r'), 'new', { qos: 1, retain: true });
    const [sub] = await connect(version);
    const got = collect(sub, 1);
    await sub.subscribeAsync(t('r'), { qos: 1 });
    const msgs = await got;
    check(`${v} retained`, msgs.length === 1 && msgs[0].payload === 'new' && msgs[0].retain,
      JSON.stringify(msgs));
    await pub.publishAsync(t('r'), '', { qos: 1, retain: true });
    // Cleared: subscribing to the topic and then to one that holds a
    // retained marker, the first message is the marker (the broker sends
    // retained messages filter by filter in the SUBSCRIBE's order), rather
    // than waiting to see that nothing comes.
    await pub.publishAsync(t('r-marker'), 'marker', { qos: 1, retain: true });
    const [late] = await connect(version);
    const first = collect(late, 1);
    await late.subscribeAsync([t('r'), t('r-marker')], { qos: 1 });
    const firsts = await first;
    check(`${v} retained cleared`, firsts.length >= 1 && firsts[0].topic === t('r-marker'),
      JSON.stringify(firsts));
    await pub.publishAsync(t('r-marker'), '', { qos: 1, retain: true });
    for (const c of [pub, sub, late]) await end(c);
  }

  // Will: published when the connection is lost, not after DISCONNECT.
  {
    const [watch] = await connect(version);
    await watch.subscribeAsync(t('will/#'), { qos: 1 });
    const got = collect(watch, 1, 3000);
    const [lost] = await connect(version, { will: { topic: t('will/lost'), payload: 'gone', qos: 1 } });
    const [clean] = await connect(version, { will: { topic: t('will/clean'), payload: 'no', qos: 1 } });
    await end(clean);
    lost.stream.destroy();  // no DISCONNECT: the broker sees a lost connection
    await got;
    // A Will wrongly published for `clean` would have been routed before
    // the broker closed `clean` (which end() waited for), so before the
    // lost one: once a barrier message sent after it is back, the messages
    // before the barrier are all there will be.
    const barrier = collect(watch, 1);
    await watch.publishAsync(t('will/zz-barrier'), 'barrier', { qos: 1 });
    await barrier;
    const msgs = watch.inbox.filter((m) => m.topic !== t('will/zz-barrier'));
    check(`${v} will`, msgs.length === 1 && msgs[0].topic === t('will/lost') && msgs[0].payload === 'gone',
      JSON.stringify(msgs));
    await end(watch);
  }

  // Session resumption: QoS 1 messages published while offline arrive.
  {
    const clientId = `interop${run}${v}`;
    const session = version === 5
      ? { clean: false, clientId, properties: { sessionExpiryInterval: 60 } }
      : { clean: false, clientId };
    const [first] = await connect(version, session);
    await first.subscribeAsync(t('s'), { qos: 1 });
    await end(first);
    const [pub] = await connect(version);
    await pub.publishAsync(t('s'), 'offline', { qos: 1 });
    const [again, ack] = await connect(version, session);
    const msgs = await collectFrom(again, 0, 1);
    check(`${v} session resumption`, ack.sessionPresent && msgs.length === 1 && msgs[0].payload === 'offline',
      `sessionPresent=${ack.sessionPresent} ${JSON.stringify(msgs)}`);
    await end(again);
    const [clear] = await connect(version, { clean: true, clientId });
    await end(clear);
    await end(pub);
  }

  // Shared subscriptions (5.0): each message to one member of the group.
  if (version === 5) {
    const [a] = await connect(version);
    const [b] = await connect(version);
    await a.subscribeAsync(`$share/g${run}/${t('shared')}`, { qos: 1 });
    await b.subscribeAsync(`$share/g${run}/${t('shared')}`, { qos: 1 });
    const [pub] = await connect(version);
    const got = collectAll([a, b], [a.inbox.length, b.inbox.length], 10);
    for (let i = 0; i < 10; i++) await pub.publishAsync(t('shared'), `${i}`, { qos: 1 });
    const all = (await got).map((m) => Number(m.payload)).sort((x, y) => x - y);
    check('v5 shared subscription', all.join(',') === '0,1,2,3,4,5,6,7,8,9', JSON.stringify(all));
    for (const c of [a, b, pub]) await end(c);
  }
}

try {
  await scenarios(4);
  await scenarios(5);
} catch (e) {
  failures++;
  console.log(`FAIL ${e.stack ?? e}`);
}
console.log(`${checks} checks, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
