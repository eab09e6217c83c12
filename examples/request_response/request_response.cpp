// Request/response over MQTT 5.0 (Response Topic and Correlation Data).
//
//   request_response serve [--host H] [--port P]      answers requests on svc/time
//   request_response ask N [--host H] [--port P]      sends N requests, prints each answer
//
// The asker names its own response topic in every request and numbers the
// requests in Correlation Data; the server answers on that topic with the
// same Correlation Data, so the asker can match answers to questions.
#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>

#include "assay/client/client.hpp"
#include "assay/client/request_response.hpp"

namespace asio = boost::asio;
using namespace assay;

namespace {

constexpr const char* service = "svc/time";

client::Options options_for(const std::string& host, std::uint16_t port, std::string id) {
  client::Options o;
  o.engine.servers = {{host, port}};
  o.engine.connect.client_id = std::move(id);
  o.engine.connect.version = mqtt::Version::v5;
  return o;
}

int serve(asio::io_context& io, client::Client& c) {
  c.set_message_handler([&](const mqtt::Publish& request) {
    char now[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(now, sizeof now, "%H:%M:%S", std::gmtime(&t));
    const std::string answer =
        "time " + std::string(now) + " for " + std::string(request.payload.as_chars());
    if (auto response =
            client::make_response(request, mqtt::SharedBytes(std::string_view(answer)))) {
      c.async_publish(std::move(*response), [](client::error_code, mqtt::ReasonCode) {});
    }
  });
  int status = 0;
  c.async_connect([&](client::error_code ec, const mqtt::Connack&) {
    if (ec) {
      std::fprintf(stderr, "serve: %s\n", ec.message().c_str());
      status = 1;
      return c.stop();
    }
    c.async_subscribe(service, mqtt::QoS::at_least_once,
                      [&](client::error_code e, mqtt::ReasonCode) {
                        if (e) {
                          status = 1;
                          return c.stop();
                        }
                        std::printf("serving %s\n", service);
                        std::fflush(stdout);
                      });
  });
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](client::error_code, int) { c.async_disconnect([](client::error_code) {}); });
  io.run();
  return status;
}

int ask(asio::io_context& io, client::Client& c, int n, const std::string& id) {
  const std::string reply_to = std::string(service) + "/response/" + id;
  std::map<std::uint8_t, bool> answered;
  int status = 0;
  c.set_message_handler([&](const mqtt::Publish& response) {
    const mqtt::Bytes* corr = response.properties.binary(mqtt::PropertyId::correlation_data);
    if (corr == nullptr || corr->size() != 1 || !answered.contains((*corr)[0])) {
      std::fprintf(stderr, "ask: an answer that matches no question\n");
      status = 1;
      return;
    }
    std::printf("answer %u: %.*s\n", (*corr)[0], static_cast<int>(response.payload.size()),
                reinterpret_cast<const char*>(response.payload.data()));
    std::fflush(stdout);
    answered[(*corr)[0]] = true;
    if (std::all_of(answered.begin(), answered.end(), [](const auto& a) { return a.second; })) {
      c.async_disconnect([](client::error_code) {});
    }
  });
  c.async_connect([&](client::error_code ec, const mqtt::Connack&) {
    if (ec) {
      std::fprintf(stderr, "ask: %s\n", ec.message().c_str());
      status = 1;
      return c.stop();
    }
    c.async_subscribe(
        reply_to, mqtt::QoS::at_least_once, [&](client::error_code e, mqtt::ReasonCode) {
          if (e) {
            status = 1;
            return c.stop();
          }
          for (int i = 1; i <= n; ++i) {
            const auto number = static_cast<std::uint8_t>(i);
            answered[number] = false;
            c.async_publish(
                client::make_request(
                    service, mqtt::SharedBytes(std::string_view("question " + std::to_string(i))),
                    reply_to, mqtt::Bytes{number}),
                [](client::error_code, mqtt::ReasonCode) {});
          }
        });
  });
  io.run();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: request_response serve|ask N [--host H] [--port P]\n");
    return 2;
  }
  const std::string role = argv[1];
  int first_flag = 2;
  int n = 0;
  if (role == "ask") {
    if (argc < 3) return 2;
    n = std::stoi(argv[2]);
    first_flag = 3;
    if (n < 1 || n > 255) {
      std::fprintf(stderr, "ask: N must be 1 to 255\n");
      return 2;
    }
  } else if (role != "serve") {
    std::fprintf(stderr, "usage: request_response serve|ask N [--host H] [--port P]\n");
    return 2;
  }
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  for (int i = first_flag; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--host")
      host = argv[i + 1];
    else if (flag == "--port")
      port = static_cast<std::uint16_t>(std::stoi(argv[i + 1]));
  }
  asio::io_context io;
  // At least 10 characters: the example broker refuses shorter client ids.
  const std::string id = "rr-" + role + "-" + std::to_string(::getpid());
  client::Client c(io.get_executor(), options_for(host, port, id));
  return role == "serve" ? serve(io, c) : ask(io, c, n, id);
}
