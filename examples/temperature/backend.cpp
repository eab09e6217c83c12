// The backend: subscribes to sensor/temperature at QoS 1 and prints each
// reading (the retained one first, if any), exiting after --count.
// Written with callbacks and a message handler.
//
//   backend [--host H] [--port P] [--id ID] [--count N]
#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <string>

#include "assay/client/client.hpp"

namespace asio = boost::asio;
using namespace assay;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string id = "backend-0001";
  int count = 10;
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
    else {
      std::fprintf(stderr, "backend: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }

  asio::io_context io;
  client::Options options;
  options.engine.servers = {{host, port}};
  options.engine.connect.client_id = id;
  client::Client backend(io.get_executor(), options);

  int received = 0;
  int status = 0;
  backend.set_message_handler([&](const mqtt::Publish& m) {
    std::printf("%s %.*s%s\n", m.topic.c_str(), static_cast<int>(m.payload.size()),
                reinterpret_cast<const char*>(m.payload.data()), m.retain ? " (retained)" : "");
    std::fflush(stdout);
    if (++received == count) backend.async_disconnect([](client::error_code) {});
  });
  backend.async_connect([&](client::error_code ec, const mqtt::Connack&) {
    if (ec) {
      std::fprintf(stderr, "backend: %s\n", ec.message().c_str());
      status = 1;
      return backend.stop();
    }
    backend.async_subscribe(
        "sensor/temperature", mqtt::QoS::at_least_once,
        [&](client::error_code e, mqtt::ReasonCode granted) {
          if (e) {
            std::fprintf(stderr, "backend: subscribe: %s\n", e.message().c_str());
            status = 1;
            return backend.stop();
          }
          std::printf("subscribed, granted QoS %u\n", static_cast<unsigned>(granted));
          std::fflush(stdout);
        });
  });
  io.run();
  return status;
}
