// Persistence: an engine restarted from its store (after a crash that lost
// whatever was not synced) keeps everything it acknowledged.
#include "world.hpp"

namespace assay::broker::test {
namespace {

EngineConfig with(const std::shared_ptr<MemoryStore>& store) {
  EngineConfig c;
  c.store = store;
  c.sys_interval = Duration{0};
  return c;
}

TEST(MemoryStore, ACrashLosesWhatWasNotSynced) {
  MemoryStore store;
  store.put_session("a", Bytes{1});
  store.put_retained("t", Bytes{2});
  store.sync();
  store.put_session("b", Bytes{3});
  store.erase_session("a");
  EXPECT_EQ(store.load().sessions.size(), 1u);  // b, a erased: what a reader sees now
  store.crash();
  const auto c = store.load();
  ASSERT_EQ(c.sessions.size(), 1u);
  EXPECT_EQ(c.sessions.at("a"), Bytes{1});
  EXPECT_EQ(c.retained.at("t"), Bytes{2});
}

// The engine syncs before an input's output can leave: after every input
// nothing is pending, so a crash at any point between inputs loses nothing
// a client was told.
TEST(Persistence, EveryInputIsSyncedBeforeItsOutput) {
  auto store = std::make_shared<MemoryStore>();
  World w(with(store));
  Client& sub = w.connect(World::make_connect("sub", Version::v5, true, 3600));
  EXPECT_EQ(store->unsynced(), 0u);
  w.subscribe(sub, "t", QoS::at_least_once);
  EXPECT_EQ(store->unsynced(), 0u);
  Client& pub = w.connect(World::make_connect("pub"));
  const std::size_t before = store->syncs();
  w.publish(pub, "t", QoS::at_least_once, "m");
  EXPECT_EQ(store->unsynced(), 0u);
  EXPECT_GT(store->syncs(), before);
}

// A QoS 1 message acknowledged (PUBACK) to its publisher while the
// subscriber was offline survives a crash [MQTT-4.5.0-1], [MQTT-4.3.2-4].
TEST(Persistence, AnAcknowledgedMessageForAnOfflineSessionSurvivesACrash) {
  auto store = std::make_shared<MemoryStore>();
  {
    World w(with(store));
    Client& sub = w.connect(World::make_connect("sub", Version::v5, true, 3600));
    w.subscribe(sub, "t/#", QoS::exactly_once, {}, 5);
    w.drop(sub);
    Client& pub = w.connect(World::make_connect("pub"));
    w.publish(pub, "t/1", QoS::at_least_once, "one");
    w.publish(pub, "t/2", QoS::exactly_once, "two");
    ASSERT_EQ(pub.all<event::PublishCompleted>().size(), 2u);
    store->crash();
  }
  World w(with(store));
  Client& back = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  ASSERT_EQ(back.all<event::Connected>().size(), 1u);
  EXPECT_TRUE(back.all<event::Connected>()[0].connack.session_present);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(back.messages()[0].properties.subscription_identifiers(),
            std::vector<std::uint32_t>{5});
  // The subscription came back too.
  Client& pub = w.connect(World::make_connect("pub2"));
  w.publish(pub, "t/3", QoS::at_least_once, "three");
  EXPECT_EQ(payloads(back).back(), "three");
}

// A message sent to a connected subscriber and not yet acknowledged is in
// flight in its session: after the crash it is sent again, with DUP
// [MQTT-4.4.0-1].
TEST(Persistence, AMessageInFlightAtTheCrashIsResent) {
  auto store = std::make_shared<MemoryStore>();
  {
    World w(with(store));
    Client& sub = w.connect(World::make_connect("sub", Version::v5, true, 3600));
    w.subscribe(sub, "t", QoS::at_least_once);
    Client& pub = w.connect(World::make_connect("pub"));
    // The subscriber's network is gone before its PUBACK could leave.
    w.publish_unpumped(pub, "t", QoS::at_least_once, "flying");
    store->crash();  // the engine synced before its output: nothing lost
  }
  World w(with(store));
  Client& back = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  const auto got = back.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload.as_chars(), "flying");
  EXPECT_TRUE(got[0].dup);
}

TEST(Persistence, MQTT_3_3_1_5_RetainedMessagesSurvive) {
  auto store = std::make_shared<MemoryStore>();
  {
    World w(with(store));
    Client& pub = w.connect(World::make_connect("pub"));
    w.publish(pub, "r/a", QoS::at_least_once, "kept", true);
    w.publish(pub, "r/b", QoS::at_least_once, "gone", true);
    w.publish(pub, "r/b", QoS::at_most_once, "", true);  // cleared [MQTT-3.3.1-6]
    store->crash();
  }
  World w(with(store));
  EXPECT_EQ(w.engine.stats().retained, 1u);
  Client& sub = w.connect(World::make_connect("sub"));
  w.subscribe(sub, "r/#", QoS::at_least_once);
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(sub.messages()[0].retain);
}

// The crash ended every connection without DISCONNECT: their Wills are
// published when the broker starts [MQTT-3.1.2-8], and a session that
// expired with its connection is gone.
TEST(Persistence, MQTT_3_1_2_8_WillsOfConnectionsOpenAtTheCrashArePublished) {
  auto store = std::make_shared<MemoryStore>();
  {
    World w(with(store));
    Client& watcher = w.connect(World::make_connect("watcher", Version::v5, true, 3600));
    w.subscribe(watcher, "wills/#", QoS::at_least_once);
    Connect c = World::make_connect("device", Version::v5, true, 0);
    c.will =
        Will{"wills/device", SharedBytes(std::string_view("lost")), QoS::at_least_once, false, {}};
    w.connect(std::move(c));
    w.drop(watcher);
    store->crash();
  }
  World w(with(store));
  EXPECT_EQ(w.engine.stats().sessions, 1u);  // the device's session ended with it
  Client& back = w.connect(World::make_connect("watcher", Version::v5, false, 3600));
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"lost"}));
}

// A DISCONNECT with Success takes the Will away [MQTT-3.1.2-10], and the
// store hears of it: the restarted broker does not publish it. (The
// simulator found a restart publishing it.)
TEST(Persistence, MQTT_3_1_2_10_AWillTakenAwayByDisconnectStaysAwayAfterACrash) {
  auto store = std::make_shared<MemoryStore>();
  {
    World w(with(store));
    Client& watcher = w.connect(World::make_connect("watcher", Version::v5, true, 3600));
    w.subscribe(watcher, "wills/#", QoS::at_least_once);
    w.drop(watcher);
    Connect c = World::make_connect("device", Version::v5, true, 3600);
    c.will =
        Will{"wills/device", SharedBytes(std::string_view("lost")), QoS::at_least_once, false, {}};
    Client& device = w.connect(std::move(c));
    device.conn->disconnect(Disconnect{}, w.now);
    w.pump();
    store->crash();
  }
  World w(with(store));
  EXPECT_EQ(w.engine.stats().sessions, 2u);  // both sessions outlive their connections
  Client& back = w.connect(World::make_connect("watcher", Version::v5, false, 3600));
  EXPECT_TRUE(payloads(back).empty());
}

// QoS 2 from a publisher: PUBREC was sent, then the crash. The publisher
// resumes and sends PUBREL; the message is not delivered a second time
// [MQTT-4.3.3-10].
TEST(Persistence, MQTT_4_3_3_10_Qos2ReceivedBeforeTheCrashIsDeliveredOnce) {
  auto store = std::make_shared<MemoryStore>();
  Session publisher_session;
  {
    World w(with(store));
    Client& sub = w.connect(World::make_connect("sub", Version::v5, true, 3600));
    w.subscribe(sub, "q", QoS::exactly_once);
    w.drop(sub);
    Client& pub = w.connect(World::make_connect("pub", Version::v5, true, 3600));
    w.publish_unpumped(pub, "q", QoS::exactly_once, "once");  // PUBREC written, never read
    pub.conn->transport_closed(w.now);
    publisher_session = pub.conn->take_session();  // resends the PUBLISH (DUP)
    store->crash();
  }
  World w(with(store));
  Client& pub =
      w.connect(World::make_connect("pub", Version::v5, false, 3600), std::move(publisher_session));
  const auto done = pub.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  Client& sub = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"once"}));
}

// A record the store kept whole but this engine cannot read (another
// version's format) stops the start, naming it, rather than being dropped.
TEST(Persistence, AnUnreadableRecordStopsTheStartInsteadOfBeingDropped) {
  auto store = std::make_shared<MemoryStore>();
  store->put_session("sensor-7", Bytes{99, 1, 2, 3});
  store->sync();
  try {
    World w(with(store));
    ADD_FAILURE() << "the engine started over an unreadable session record";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("session of client \"sensor-7\""), std::string::npos) << what;
    EXPECT_NE(what.find("format 99"), std::string::npos) << what;
  }
  EXPECT_EQ(store->load().sessions.at("sensor-7"), (Bytes{99, 1, 2, 3}));  // kept
  auto retained = std::make_shared<MemoryStore>();
  retained->put_retained("t", Bytes{1});  // its format, cut short
  retained->sync();
  EXPECT_THROW(World(with(retained)), std::runtime_error);
}

TEST(Persistence, NeedsASingleEngine) {
  EngineConfig c;
  c.store = std::make_shared<MemoryStore>();
  EXPECT_THROW(World(c, 2), std::invalid_argument);
}

}  // namespace
}  // namespace assay::broker::test
