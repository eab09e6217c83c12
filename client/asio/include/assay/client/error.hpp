// Errors of the Asio client, as error codes in Asio's style. Two
// categories: the server's answers (MQTT reason codes >= 0x80: a refused
// CONNACK, a PUBACK with Not authorized, a SUBACK with Quota exceeded...)
// and the client's own (stopped, timed out, expired while queued...).
// Transport failures keep Asio's own codes (connection refused, host not
// found, TLS verification failed).
//
// boost::system::error_code converts to std::error_code; the categories
// convert with it, so `std::error_code ec = e; ec == make_error_code(...)`
// compares as expected.
#pragma once

#include <boost/system/error_code.hpp>

#include "assay/mqtt/reason_code.hpp"

namespace assay::client {

using error_code = boost::system::error_code;

// Values are MQTT 5.0 reason codes (3.1.1 CONNACK return codes map onto
// them: 4 reads as 0x86 Bad User Name or Password).
const boost::system::error_category& reason_category();
error_code make_error_code(mqtt::ReasonCode rc);

enum class Errc {
  stopped = 1,         // the client was stopped or disconnected before the operation ended
  connect_timeout,     // no CONNACK in time
  connection_lost,     // the connection ended before the operation could (the engine retries)
  protocol_violation,  // the server broke the protocol
  expired,             // the message's Message Expiry Interval passed while it was queued
  keep_alive_timeout,  // the server did not answer PINGREQ
  invalid_argument,    // a topic, filter or option the protocol does not allow
};
const boost::system::error_category& client_category();
error_code make_error_code(Errc e);

}  // namespace assay::client
