// A temperature sensor: publishes a reading to sensor/temperature every
// --interval-ms at QoS 1, retained (a backend that starts later still gets
// the last reading), for --count readings, then disconnects. Written with
// C++20 coroutines (asio::use_awaitable).
//
//   sensor [--host H] [--port P] [--id ID] [--count N] [--interval-ms MS]
#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "assay/client/client.hpp"

namespace asio = boost::asio;
using namespace assay;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string id = "sensor-0001";
  int count = 10;
  int interval_ms = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--host")
      host = argv[i + 1];
    else if (flag == "--port")
      port = static_cast<std::uint16_t>(std::stoi(argv[i + 1]));
    else if (flag == "--id")
      id = argv[i + 1];
    else if (flag == "--count")
      count = std::stoi(argv[i + 1]);
    else if (flag == "--interval-ms")
      interval_ms = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "sensor: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }

  asio::io_context io;
  client::Options options;
  options.engine.servers = {{host, port}};
  options.engine.connect.client_id = id;
  options.engine.connect.version = mqtt::Version::v5;
  client::Client sensor(io.get_executor(), options);

  int status = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await sensor.async_connect(asio::use_awaitable);
          std::mt19937 gen(std::random_device{}());
          std::normal_distribution<double> step(0.0, 0.2);
          double celsius = 21.0;
          asio::steady_timer timer(io);
          for (int i = 0; i < count; ++i) {
            celsius += step(gen);
            char reading[32];
            std::snprintf(reading, sizeof reading, "%.2f", celsius);
            // Completes at PUBACK: the broker owns the reading.
            co_await sensor.async_publish("sensor/temperature", reading, mqtt::QoS::at_least_once,
                                          true, asio::use_awaitable);
            std::printf("sent %s\n", reading);
            std::fflush(stdout);
            timer.expires_after(std::chrono::milliseconds(interval_ms));
            co_await timer.async_wait(asio::use_awaitable);
          }
          co_await sensor.async_disconnect(asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
          // A refused CONNACK arrives here as its reason code, e.g. 0x85
          // (Client Identifier not valid) from a broker with an id rule.
          std::fprintf(stderr, "sensor: %s (%s:%d)\n", e.code().message().c_str(),
                       e.code().category().name(), e.code().value());
          status = 1;
          sensor.stop();
        }
      },
      asio::detached);
  io.run();
  return status;
}
