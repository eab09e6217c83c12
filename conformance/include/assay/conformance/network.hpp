// The transport interface the conformance cases are written against: a
// Network opens Links (one per MQTT network connection) to the broker under
// test and owns the clock. Three implementations: TcpNetwork (asio/, any
// broker over TCP), EngineNetwork (our broker engine in process, with a
// fake clock, so the whole suite runs in unit tests in seconds) and
// SimulatedNetwork (the same engine behind links that split and delay
// every write, from a seed).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "assay/mqtt/time.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::conformance {

using mqtt::Duration;
using mqtt::Time;

// The broker cannot be reached (connection refused, name not resolved...).
struct NetworkError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Link {
 public:
  virtual ~Link() = default;
  virtual void write(mqtt::ByteView bytes) = 0;
  // Appends whatever has arrived to `out`; false when nothing had.
  virtual bool read(mqtt::Bytes& out) = 0;
  // The broker closed the connection (or reset it) and every byte it sent
  // before has been read.
  virtual bool peer_closed() const = 0;
  // Closes our side at once, without DISCONNECT (a network failure, as far
  // as the broker can tell).
  virtual void close() = 0;
  // Sends `bytes` as one WebSocket text message, for the case that checks
  // that a broker takes MQTT in binary messages only [MQTT-6.0.0-1]; false,
  // and nothing sent, when the link does not carry WebSocket.
  virtual bool write_text_message(mqtt::ByteView) { return false; }
};

class Network {
 public:
  virtual ~Network() = default;
  // A new connection to the broker; throws NetworkError.
  virtual std::unique_ptr<Link> connect() = 0;
  virtual Time now() = 0;
  // Returns once some link has news (bytes or a close) or at `until`,
  // whichever is first. May return early; callers loop.
  virtual void wait(Time until) = 0;
  // "tcp 127.0.0.1:1883", "in-process engine".
  virtual std::string describe() const = 0;
};

}  // namespace assay::conformance
