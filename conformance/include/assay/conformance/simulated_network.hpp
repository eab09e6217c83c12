// The simulated transport: our broker engine in process (the in-process
// Harness, as EngineNetwork), but over links that behave like TCP on a bad
// network: every write, both ways, is cut into chunks of random size (a
// packet arrives in pieces, split at any byte) and each chunk arrives after
// a latency plus random jitter, in order (across connections too: one
// path, so a client's next connection does not overtake its last). Time is
// virtual and moves only in
// wait(); every random choice comes from the seed, so a run replays. The
// suite's cases must hold over it exactly as over a clean link: nothing in
// MQTT may depend on how TCP cuts a stream or on how fast it carries it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "assay/broker/harness.hpp"
#include "assay/conformance/network.hpp"

namespace assay::conformance {

// How the simulated links carry bytes, each way.
struct LinkProfile {
  Duration latency = std::chrono::milliseconds(2);  // one way
  Duration jitter = std::chrono::milliseconds(8);   // added, uniform in [0, jitter]
  std::size_t max_chunk = 7;                        // chunks of 1..max_chunk bytes
};

class SimulatedNetwork : public Network {
 public:
  using Profile = LinkProfile;
  explicit SimulatedNetwork(std::uint64_t seed, Profile profile = {},
                            broker::EngineConfig config = {}, std::size_t shards = 1);
  ~SimulatedNetwork() override;

  std::unique_ptr<Link> connect() override;
  Time now() override { return now_; }
  void wait(Time until) override;
  std::string describe() const override;

  // Chunks carried so far, both ways (a test checks packets were split).
  std::uint64_t chunks() const { return chunks_; }

 private:
  class SimLink;
  friend class SimLink;
  // A chunk on its way: to the broker or to a client link.
  struct InFlight {
    std::uint64_t link;  // our number for the connection
    bool to_broker;
    mqtt::Bytes bytes;
    bool close = false;  // the sender closed after these bytes
  };
  void send(std::uint64_t link, bool to_broker, mqtt::ByteView bytes, bool close);
  Time arrival(std::uint64_t link, bool to_broker);
  void arrive(InFlight& f);
  void flush();
  std::uint64_t random();

  Profile profile_;
  std::uint64_t state_;
  Time now_{0};
  broker::Harness broker_;
  std::map<std::uint64_t, SimLink*> links_;                 // by our number
  std::map<broker::Harness::Link, std::uint64_t> numbers_;  // the harness's link -> ours
  std::multimap<Time, InFlight> in_flight_;                 // in arrival order
  std::map<bool, Time> last_;                               // per direction: in order
  std::uint64_t made_ = 0;
  std::uint64_t news_ = 0;
  std::uint64_t chunks_ = 0;
};

}  // namespace assay::conformance
