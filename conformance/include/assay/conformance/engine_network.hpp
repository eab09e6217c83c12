// The in-process transport: our broker engine, in the in-process Harness
// (assay/broker/harness.hpp), with a fake clock. Time moves only in wait(),
// straight to the next engine deadline, so cases that wait for a keep-alive
// or a will delay finish at once. With shards > 1 the harness runs that many
// engines as one broker, the way `assay broker --threads N` does
// (connections handed to their client id's shard, messages forwarded between
// shards), on one thread: the suite then checks the sharded engine too.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "assay/broker/harness.hpp"
#include "assay/conformance/network.hpp"

namespace assay::conformance {

class EngineNetwork : public Network {
 public:
  explicit EngineNetwork(broker::EngineConfig config = {}, std::size_t shards = 1);
  ~EngineNetwork() override;

  std::unique_ptr<Link> connect() override;
  Time now() override { return now_; }
  void wait(Time until) override;
  std::string describe() const override;

  broker::Engine& engine(std::size_t shard = 0) { return broker_.engine(shard); }
  // How many connections moved to another shard after their CONNECT.
  std::size_t handoffs() const { return broker_.handoffs(); }

  // A hook that sees every chunk the engine sends to a connection and may
  // change it (tests use it to build a faulty broker that loses messages).
  // `connection` numbers the network's connections from 1 in the order made.
  using Tamper = std::function<void(std::uint64_t connection, mqtt::Bytes& bytes)>;
  void set_tamper(Tamper t) { tamper_ = std::move(t); }
  // The same for every chunk a connection sends to the engine.
  void set_inbound_tamper(Tamper t) { inbound_tamper_ = std::move(t); }

 private:
  class EngineLink;
  friend class EngineLink;
  void flush();

  Time now_{0};
  broker::Harness broker_;
  std::map<broker::Harness::Link, EngineLink*> links_;
  std::uint64_t news_ = 0;
  std::uint64_t made_ = 0;
  Tamper tamper_;
  Tamper inbound_tamper_;
};

}  // namespace assay::conformance
