// 5.0 enhanced authentication through the engine with the broker's real
// FileSecurity: SCRAM-SHA-256 logins and re-authentications, packet by
// packet, with the statements of §4.12 they check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "assay/broker/security/file_security.hpp"
#include "assay/scram/scram.hpp"
#include "world.hpp"

namespace assay::broker::test {
namespace {

using security::FileSecurity;
using security::PasswordFile;
using security::PasswordHash;

const std::string method = "SCRAM-SHA-256";

Bytes bytes_of(const std::string& s) {
  return Bytes(s.begin(), s.end());
}
std::string text_of(const Bytes* b) {
  return b ? std::string(b->begin(), b->end()) : std::string();
}

// The client side of an exchange, answering the broker's challenges over a
// raw client Connection.
struct ScramPeer {
  ScramPeer(std::string user, std::string password) : scram(std::move(user), std::move(password)) {}
  scram::Client scram;
  std::size_t answered = 0;  // AuthReceived events handled so far
  std::optional<scram::Failure> failure;

  // Answers every challenge received since the last call; returns the
  // server-final message of an AUTH 0x00, if one came.
  std::optional<std::string> answer(World& w, Client& c) {
    std::optional<std::string> final_message;
    for (bool moved = true; moved;) {
      moved = false;
      const auto auths = c.all<event::AuthReceived>();
      for (; answered < auths.size(); ++answered) {
        const Auth& a = auths[answered].auth;
        // [MQTT-4.12.0-5]: every AUTH carries the CONNECT's method.
        const std::string* m = a.properties.string(PropertyId::authentication_method);
        EXPECT_TRUE(m != nullptr && *m == method);
        const std::string data = text_of(a.properties.binary(PropertyId::authentication_data));
        if (a.reason_code == ReasonCode::success) {
          final_message = data;
          continue;
        }
        EXPECT_EQ(a.reason_code, ReasonCode::continue_authentication);  // [MQTT-4.12.0-2]
        auto reply = scram.respond(data);
        if (auto* f = std::get_if<scram::Failure>(&reply)) {
          failure = *f;
          return final_message;
        }
        Auth out;
        out.reason_code = ReasonCode::continue_authentication;  // [MQTT-4.12.0-3]
        out.properties.add(PropertyId::authentication_method, method);
        out.properties.add(PropertyId::authentication_data, bytes_of(std::get<std::string>(reply)));
        c.conn->auth(std::move(out), w.now);
        moved = true;
      }
      if (moved) w.pump();
    }
    return final_message;
  }
};

class EngineScram : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("assay-engine-scram-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    PasswordFile file;
    file.set("alice", PasswordHash::make_scram("a-pass", scram::minimum_iterations));
    file.set("carol", PasswordHash::make_scram("c-pass", scram::minimum_iterations));
    file.set("bob", PasswordHash::make("b-pass", 1000));  // no SCRAM credential
    write("passwd", file.text());
    write("acl", "user alice\ntopic readwrite alice/#\nuser carol\ntopic readwrite carol/#\n");
    options_.allow_anonymous = false;
    options_.password_file = (dir_ / "passwd").string();
    options_.acl_file = (dir_ / "acl").string();
    auto opened = FileSecurity::open(
        options_, [this](security::Severity, const std::string& line) { log_.push_back(line); });
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<FileSecurity>>(opened))
        << std::get<std::string>(opened);
    security_ = std::get<std::shared_ptr<FileSecurity>>(opened);
    config_.authenticator = security_;
    config_.authorizer = security_;
    world_ = std::make_unique<World>(config_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
  }

  // A CONNECT carrying SCRAM's client-first message, answered to the end.
  Client& scram_connect(World& w, ScramPeer& peer, std::string id, std::size_t shard = 0,
                        std::uint32_t expiry = 0) {
    Connect c = World::make_connect(std::move(id), Version::v5, true, expiry);
    c.properties.add(PropertyId::authentication_method, method);
    c.properties.add(PropertyId::authentication_data, bytes_of(peer.scram.first()));
    Client& client = w.connect(std::move(c), {}, shard);
    peer.answer(w, client);
    return client;
  }

  // The broker's server-final message in the CONNACK verifies.
  static void expect_connected_and_verified(const Client& c, const ScramPeer& peer) {
    const auto connected = c.all<event::Connected>();
    ASSERT_EQ(connected.size(), 1u);
    const Properties& p = connected[0].connack.properties;
    const std::string* m = p.string(PropertyId::authentication_method);
    ASSERT_TRUE(m != nullptr);
    EXPECT_EQ(*m, method);  // [MQTT-4.12.0-5]
    const std::string final_message = text_of(p.binary(PropertyId::authentication_data));
    EXPECT_FALSE(peer.scram.verify(final_message).has_value()) << final_message;
  }

  static ReasonCode refusal(const Client& c) {
    const auto refused = c.all<event::ConnectRefused>();
    EXPECT_EQ(refused.size(), 1u);
    return refused.empty() ? ReasonCode::success : refused[0].connack.reason_code;
  }

  // A re-authentication as `peer`, answered to its end; the server-final
  // message of an AUTH 0x00, if one came.
  std::optional<std::string> reauthenticate_fully(World& w, Client& c, ScramPeer& peer) {
    peer.answered = c.all<event::AuthReceived>().size();
    reauthenticate(w, c, peer);
    return peer.answer(w, c);
  }

  // The connection was closed with a DISCONNECT: its Reason Code.
  static ReasonCode disconnect_code(const Client& c) {
    EXPECT_TRUE(c.closed);
    const auto got = c.all<event::DisconnectReceived>();
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? ReasonCode::success : got[0].disconnect.reason_code;
  }

  void reauthenticate(World& w, Client& c, ScramPeer& peer) {
    Auth a;
    a.reason_code = ReasonCode::re_authenticate;  // [MQTT-4.12.1-1]
    a.properties.add(PropertyId::authentication_method, method);
    a.properties.add(PropertyId::authentication_data, bytes_of(peer.scram.first()));
    c.conn->auth(std::move(a), w.now);
    w.pump();
  }

  std::filesystem::path dir_;
  security::SecurityOptions options_;
  std::vector<std::string> log_;
  std::shared_ptr<FileSecurity> security_;
  EngineConfig config_;
  std::unique_ptr<World> world_;
};

TEST_F(EngineScram, LoginChallengesThenConnacksWithTheServerSignature) {
  // MQTT-4.12.0-2, MQTT-4.12.0-3, MQTT-4.12.0-5
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "s1");
  EXPECT_EQ(peer.answered, 1u);  // one challenge: server-first
  ASSERT_FALSE(peer.failure.has_value()) << peer.failure->detail;
  expect_connected_and_verified(c, peer);
  // The ACL sees the user SCRAM proved.
  ScramPeer second("alice", "a-pass");
  Client& sub = scram_connect(w, second, "s2");
  w.subscribe(sub, "alice/#", QoS::at_most_once);
  w.publish(c, "alice/t", QoS::at_least_once, "mine");
  w.publish(c, "alice/t2", QoS::at_least_once, "mine too");
  w.publish(c, "carol/t", QoS::at_least_once, "not mine");
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"mine", "mine too"}));
  const auto acks = c.all<event::PublishCompleted>();
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[2].reason_code, ReasonCode::not_authorized);
}

TEST_F(EngineScram, WrongPasswordIsRefusedWith0x86AndClosed) {
  // MQTT-4.12.0-4
  World& w = *world_;
  ScramPeer peer("alice", "guess");
  Client& c = scram_connect(w, peer, "s1");
  EXPECT_EQ(refusal(c), ReasonCode::bad_user_name_or_password);
  EXPECT_TRUE(c.closed);
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("user \"alice\""), std::string::npos) << log_.back();
  EXPECT_NE(log_.back().find("wrong password"), std::string::npos) << log_.back();
  for (const std::string& line : log_)
    EXPECT_EQ(line.find("guess"), std::string::npos) << line;
}

TEST_F(EngineScram, UnknownUserAndUserWithoutScramCredentialFailTheSameWay) {
  World& w = *world_;
  ScramPeer ghost("ghost", "x");
  EXPECT_EQ(refusal(scram_connect(w, ghost, "g")), ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(ghost.answered, 1u);  // challenged like a real account
  ScramPeer bob("bob", "b-pass");
  EXPECT_EQ(refusal(scram_connect(w, bob, "b")), ReasonCode::bad_user_name_or_password);
  EXPECT_NE(log_.back().find("not a SCRAM credential"), std::string::npos) << log_.back();
}

TEST_F(EngineScram, UnknownMethodIsRefusedWith0x8C) {
  // MQTT-4.12.0-1
  World& w = *world_;
  Connect c = World::make_connect("m");
  c.properties.add(PropertyId::authentication_method, std::string("SCRAM-SHA-1"));
  Client& client = w.connect(std::move(c));
  EXPECT_EQ(refusal(client), ReasonCode::bad_authentication_method);
  EXPECT_TRUE(client.all<event::AuthReceived>().empty());
  EXPECT_TRUE(client.closed);
}

TEST_F(EngineScram, ConnectUserNameMustBeTheProvedUser) {
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Connect c = World::make_connect("u");
  c.username = "carol";
  c.properties.add(PropertyId::authentication_method, method);
  c.properties.add(PropertyId::authentication_data, bytes_of(peer.scram.first()));
  Client& client = w.connect(std::move(c));
  peer.answer(w, client);
  EXPECT_EQ(refusal(client), ReasonCode::bad_user_name_or_password);
}

TEST_F(EngineScram, MalformedClientFirstIsRefused) {
  World& w = *world_;
  Connect c = World::make_connect("bad");
  c.properties.add(PropertyId::authentication_method, method);
  c.properties.add(PropertyId::authentication_data, bytes_of("n=alice"));
  EXPECT_EQ(refusal(w.connect(std::move(c))), ReasonCode::not_authorized);
  Connect none = World::make_connect("none");
  none.properties.add(PropertyId::authentication_method, method);  // no data at all
  EXPECT_EQ(refusal(w.connect(std::move(none))), ReasonCode::not_authorized);
}

TEST_F(EngineScram, ReauthenticationSucceedsWhileTheConnectionServes) {
  // MQTT-4.12.1-1
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "r");
  expect_connected_and_verified(c, peer);
  w.subscribe(c, "alice/#", QoS::at_least_once);
  ScramPeer again("alice", "a-pass");
  again.answered = c.all<event::AuthReceived>().size();
  reauthenticate(w, c, again);
  // Messages flow between the steps of the exchange.
  w.publish(c, "alice/during", QoS::at_least_once, "during");
  const auto final_message = again.answer(w, c);
  ASSERT_TRUE(final_message.has_value());
  EXPECT_FALSE(again.scram.verify(*final_message).has_value());
  EXPECT_FALSE(c.closed);
  w.publish(c, "alice/after", QoS::at_least_once, "after");
  EXPECT_EQ(payloads(c), (std::vector<std::string>{"during", "after"}));
}

TEST_F(EngineScram, FailedReauthenticationDisconnects) {
  // MQTT-4.12.1-2
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "r");
  ScramPeer wrong("alice", "changed");
  reauthenticate_fully(w, c, wrong);
  // DISCONNECT has no 0x86: Not authorized.
  EXPECT_EQ(disconnect_code(c), ReasonCode::not_authorized);
}

TEST_F(EngineScram, ReauthenticationCannotChangeTheUser) {
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "r");
  ScramPeer carol("carol", "c-pass");
  reauthenticate_fully(w, c, carol);
  EXPECT_EQ(disconnect_code(c), ReasonCode::not_authorized);
}

TEST_F(EngineScram, AnswerToNoChallengeIsAProtocolError) {
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "r");
  Auth a;
  a.reason_code = ReasonCode::continue_authentication;
  a.properties.add(PropertyId::authentication_method, method);
  c.conn->auth(std::move(a), w.now);
  w.pump();
  EXPECT_EQ(disconnect_code(c), ReasonCode::protocol_error);
}

TEST_F(EngineScram, PlainPasswordLoginWorksAgainstAScramCredential) {
  World& w = *world_;
  Connect c = World::make_connect("plain");
  c.username = "alice";
  c.password = bytes_of("a-pass");
  EXPECT_EQ(w.connect(std::move(c)).all<event::Connected>().size(), 1u);
  Connect wrong = World::make_connect("plain2");
  wrong.username = "alice";
  wrong.password = bytes_of("nope");
  EXPECT_EQ(refusal(w.connect(std::move(wrong))), ReasonCode::bad_user_name_or_password);
}

// Guesses made in parallel: every exchange started before the first
// failure, but the lockout is checked again when each proof comes.
TEST_F(EngineScram, TheLockoutIsCheckedAgainWhenTheProofComes) {
  World& w = *world_;
  std::vector<std::unique_ptr<ScramPeer>> peers;
  std::vector<Client*> clients;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(std::make_unique<ScramPeer>("alice", i < 4 ? "guess" : "a-pass"));
    Connect c = World::make_connect("p" + std::to_string(i));
    c.properties.add(PropertyId::authentication_method, method);
    c.properties.add(PropertyId::authentication_data, bytes_of(peers.back()->scram.first()));
    clients.push_back(&w.connect(std::move(c)));
  }
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(clients[static_cast<std::size_t>(i)]->all<event::AuthReceived>().size(), 1u);
  for (int i = 0; i < 5; ++i)
    peers[static_cast<std::size_t>(i)]->answer(w, *clients[static_cast<std::size_t>(i)]);
  // Four wrong proofs lock the address out: the right one is refused
  // unchecked.
  EXPECT_EQ(refusal(*clients[4]), ReasonCode::bad_user_name_or_password);
  EXPECT_NE(log_.back().find("login refused unchecked"), std::string::npos) << log_.back();
}

// A certificate that names the user (or a re-authentication) sets the user
// the exchange must prove: another is refused at its first message.
TEST_F(EngineScram, AnExchangeExpectingOneUserRefusesAnother) {
  ConnectContext context{"10.0.0.1:5000", Time{0}, {}, {}};
  context.expected_user = "carol";
  auto exchange = security_->exchange(method, "c", context);
  ASSERT_TRUE(exchange != nullptr);
  scram::Client alice("alice", "a-pass");
  const auto step = exchange->step(bytes_of(alice.first()), Time{0});
  EXPECT_EQ(step.kind, AuthExchange::Step::Kind::refused);
  EXPECT_NE(log_.back().find("not the connection's user \"carol\""), std::string::npos)
      << log_.back();
  auto right = security_->exchange(method, "c", context);
  scram::Client carol("carol", "c-pass");
  EXPECT_EQ(right->step(bytes_of(carol.first()), Time{0}).kind,
            AuthExchange::Step::Kind::challenge);
  EXPECT_EQ(security_->exchange("PLAIN", "c", context), nullptr);
}

TEST_F(EngineScram, AnAssignedClientIdIsGivenOnce) {
  World& w = *world_;
  ScramPeer peer("alice", "a-pass");
  Client& c = scram_connect(w, peer, "");
  const auto connected = c.all<event::Connected>();
  ASSERT_EQ(connected.size(), 1u);
  const std::string* id =
      connected[0].connack.properties.string(PropertyId::assigned_client_identifier);
  ASSERT_TRUE(id != nullptr);
  EXPECT_EQ(*id, "assay-1");  // the id the exchange ran under, not a second one
  ScramPeer next("alice", "a-pass");
  Client& after = scram_connect(w, next, "");
  ASSERT_EQ(after.all<event::Connected>().size(), 1u);
  EXPECT_EQ(*after.all<event::Connected>()[0].connack.properties.string(
                PropertyId::assigned_client_identifier),
            "assay-2");
}

TEST_F(EngineScram, TakeoverAcrossShardsAfterTheExchange) {
  // The CONNECT goes to its client id's home engine, which runs the
  // exchange and takes the session over, draining the old connection first.
  config_.drain_before_takeover = true;
  World w(config_, 2);
  ScramPeer first("alice", "a-pass");
  Client& old = scram_connect(w, first, "roaming", 0, 600);
  expect_connected_and_verified(old, first);
  w.subscribe(old, "alice/#", QoS::at_least_once);
  for (std::size_t shard : {0u, 1u}) {
    ScramPeer next("alice", "a-pass");
    Connect c = World::make_connect("roaming", Version::v5, false, 600);
    c.properties.add(PropertyId::authentication_method, method);
    c.properties.add(PropertyId::authentication_data, bytes_of(next.scram.first()));
    Client& now = w.connect(std::move(c), {}, shard);
    next.answer(w, now);
    expect_connected_and_verified(now, next);
    EXPECT_TRUE(now.all<event::Connected>()[0].connack.session_present);
  }
}

}  // namespace
}  // namespace assay::broker::test
