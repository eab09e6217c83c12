// What authorisation costs per delivered message: one engine, 100
// publisher/subscriber pairs, QoS 0 PUBLISH packets (64-byte payloads, 32 per
// read) on each publisher's own topic, with
//   - no security (AllowAll: the default),
//   - FileSecurity with a password file only (logins checked; no ACL, so no
//     per-message check),
//   - FileSecurity with an ACL: every PUBLISH asks may_publish() and every
//     copy may_read() (a pattern rule with %u, as a deployed fleet has).
// Items per second is messages routed and delivered (encoded for the
// subscriber). The ratio of the ACL row to the first is the price of the
// per-message checks (docs/broker.md, "Authorisation").
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "assay/broker/engine.hpp"
#include "assay/broker/security/file_security.hpp"
#include "assay/mqtt/codec.hpp"

namespace {

using namespace assay;
using namespace assay::broker;
using mqtt::Bytes;

constexpr int pairs = 100;
constexpr int batch = 32;   // PUBLISH packets per read
constexpr int rounds = 20;  // reads per publisher per iteration

Bytes connect_bytes(const std::string& id, const std::string& user) {
  mqtt::Connect c;
  c.client_id = id;
  c.keep_alive = 0;
  c.username = user;
  c.password = Bytes{'p', 'w'};
  return mqtt::encode(mqtt::Packet{c}, mqtt::Version::v5);
}

enum class Mode { none, passwords, acl };

std::shared_ptr<security::FileSecurity> make_security(Mode mode, const std::filesystem::path& dir) {
  if (mode == Mode::none) return nullptr;
  security::PasswordFile passwords;
  for (int i = 0; i < pairs; ++i) {
    passwords.set("user" + std::to_string(i), security::PasswordHash::make("pw", 1000));
  }
  std::ofstream(dir / "passwd") << passwords.text();
  // Each user writes and reads its own subtree; a few rules besides, as a
  // real file has, so the check is not a single comparison.
  std::ofstream(dir / "acl") << "topic read public/#\n"
                                "pattern readwrite bench/%u/#\n"
                                "pattern read status/%c\n"
                                "pattern deny bench/%u/secret/#\n";
  security::SecurityOptions o;
  o.allow_anonymous = false;
  o.password_file = (dir / "passwd").string();
  if (mode == Mode::acl) o.acl_file = (dir / "acl").string();
  auto opened = security::FileSecurity::open(o, {});
  if (auto* error = std::get_if<std::string>(&opened)) throw std::runtime_error(*error);
  return std::get<std::shared_ptr<security::FileSecurity>>(opened);
}

void BM_Authorisation(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(0));
  const auto dir = std::filesystem::temp_directory_path() / "assay-acl-bench";
  std::filesystem::create_directories(dir);
  EngineConfig config;
  config.sys_interval = mqtt::Duration{0};
  if (const auto s = make_security(mode, dir)) {
    config.authenticator = s;
    config.authorizer = s;
  }
  Engine engine(config, mqtt::Time{0});
  std::uint64_t delivered_bytes = 0;
  auto drain = [&] {
    while (auto out = engine.poll_output())
      delivered_bytes += out->bytes.size();
  };
  std::vector<ConnectionId> publishers;
  std::vector<Bytes> batches;
  mqtt::Publish p;
  p.payload = mqtt::SharedBytes(Bytes(64, 0x2A));
  for (int i = 0; i < pairs; ++i) {
    const std::string user = "user" + std::to_string(i);
    const std::string topic = "bench/" + user + "/t";
    const ConnectionId sub = *engine.open(mqtt::Time{0}, "127.0.0.1:1");
    engine.receive(sub, connect_bytes("sub" + std::to_string(i), user), mqtt::Time{0});
    mqtt::Subscribe subscribe;
    subscribe.packet_id = 1;
    subscribe.subscriptions.push_back({topic, {}});
    engine.receive(sub, mqtt::encode(mqtt::Packet{subscribe}, mqtt::Version::v5), mqtt::Time{0});
    const ConnectionId pub = *engine.open(mqtt::Time{0}, "127.0.0.1:2");
    engine.receive(pub, connect_bytes("pub" + std::to_string(i), user), mqtt::Time{0});
    drain();
    Bytes bytes;
    p.topic = topic;
    for (int k = 0; k < batch; ++k)
      mqtt::encode(mqtt::Packet{p}, mqtt::Version::v5, bytes);
    publishers.push_back(pub);
    batches.push_back(std::move(bytes));
  }
  const std::uint64_t setup_bytes = delivered_bytes;
  for (auto _ : state) {
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < publishers.size(); ++i) {
        engine.receive(publishers[i], batches[i], mqtt::Time{0});
        drain();
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * pairs * rounds * batch);
  // Bytes delivered per message published: about 85 when every message
  // reached its subscriber (the ACL lets each user read its own topic), 0
  // when the checks dropped them.
  const double published = static_cast<double>(state.iterations()) * pairs * rounds * batch;
  state.counters["out_bytes/msg"] =
      published == 0 ? 0 : static_cast<double>(delivered_bytes - setup_bytes) / published;
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Authorisation)
    ->ArgName("mode")
    ->Arg(static_cast<int>(Mode::none))
    ->Arg(static_cast<int>(Mode::passwords))
    ->Arg(static_cast<int>(Mode::acl))
    ->Unit(benchmark::kMillisecond);

}  // namespace
