// The in-process transport: our broker engine with a fake clock. Time moves
// only in wait(), straight to the next engine deadline, so cases that wait
// for a keep-alive or a will delay finish at once.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "assay/broker/engine.hpp"
#include "assay/conformance/network.hpp"

namespace assay::conformance {

class EngineNetwork : public Network {
 public:
  explicit EngineNetwork(broker::EngineConfig config = {});
  ~EngineNetwork() override;

  std::unique_ptr<Link> connect() override;
  Time now() override { return now_; }
  void wait(Time until) override;
  std::string describe() const override { return "in-process broker engine"; }

  broker::Engine& engine() { return engine_; }

  // A hook that sees every chunk the engine sends to a connection and may
  // change it (tests use it to build a faulty broker that loses messages).
  using Tamper = std::function<void(std::uint64_t connection, mqtt::Bytes& bytes)>;
  void set_tamper(Tamper t) { tamper_ = std::move(t); }
  // The same for every chunk a connection sends to the engine.
  void set_inbound_tamper(Tamper t) { inbound_tamper_ = std::move(t); }

 private:
  class EngineLink;
  friend class EngineLink;
  void flush();

  Time now_{0};
  broker::Engine engine_;
  std::map<broker::ConnectionId, EngineLink*> links_;
  std::uint64_t news_ = 0;
  Tamper tamper_;
  Tamper inbound_tamper_;
};

}  // namespace assay::conformance
