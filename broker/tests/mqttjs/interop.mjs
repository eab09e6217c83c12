// Interop: MQTT.js (pinned in package.json) against a broker, 3.1.1 and 5.0:
// QoS 0/1/2, retained set and clear, Will on a lost connection, wildcards,
// shared subscriptions (5.0) and session resumption. Prints one line per
// check; exits 1 if any failed.
//   node interop.mjs HOST PORT
import mqtt from 'mqtt';

const [host, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 1883)];
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
      ...options,
    });
    c.inbox = [];
    c.on('message', (topic, payload, packet) => {
      c.inbox.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    });
    c.once('connect', (ack) => resolve([c, ack]));
    c.once('error', reject);
  });
}

// The messages `client` receives from now on, once `count` have arrived or
// `ms` have passed.
function collect(client, count, ms = 2000) {
  const start = client.inbox.length;
  return collectFrom(client, start, count, ms);
}

// The same, counting from message `start` of the inbox.
function collectFrom(client, start, count, ms = 2000) {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const poll = () => {
      if (client.inbox.length - start >= count || Date.now() >= deadline) {
        resolve(client.inbox.slice(start));
      } else {
        setTimeout(poll, 10);
      }
    };
    poll();
  });
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
    const [late] = await connect(version);
    const none = collect(late, 1, 500);
    await late.subscribeAsync(t('r'), { qos: 1 });
    check(`${v} retained cleared`, (await none).length === 0);
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
    const msgs = await got;
    await new Promise((r) => setTimeout(r, 300));
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
    const gotA = collect(a, 10, 1500);
    const gotB = collect(b, 10, 1500);
    for (let i = 0; i < 10; i++) await pub.publishAsync(t('shared'), `${i}`, { qos: 1 });
    const all = [...(await gotA), ...(await gotB)].map((m) => Number(m.payload)).sort((x, y) => x - y);
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
console.log(`${checks - failures} of ${checks} checks passed`);
process.exit(failures === 0 ? 0 : 1);
