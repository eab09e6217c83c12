// `assay sub`: subscribe and print each message, with mosquitto_sub's flags
// and output (-v, -N, -F), or one JSON object per message (--json). Runs
// until -C messages, -W seconds, -E (the SUBACK), --retained-only's end, or
// Ctrl-C; reconnects after a lost connection.
#include "sub_command.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "assay/mqtt/topic.hpp"
#include "client_tool.hpp"
#include "message_format.hpp"

namespace assay::tools {

using namespace mqtt;

namespace {

struct SubArgs {
  ClientArgs client;
  std::vector<std::string> topics;
  std::vector<std::string> filter_out;   // -T
  std::vector<std::string> unsubscribe;  // -U
  int count = 0;                         // -C
  int timeout = 0;                       // -W
  bool exit_after_subscribe = false;     // -E
  bool no_retained = false;              // -R
  bool retained_only = false;
  bool remove_retained = false;
  bool retain_as_published = false;
  bool verbose = false;
  bool no_newline = false;  // -N
  std::optional<std::string> format;
  bool pretty = false;
  bool json = false;
};

void write_out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}

int run(const CLI::App& cmd, const SubArgs& a) {
  Prepared prepared;
  try {
    prepared = prepare(cmd, a.client, Tool::sub);
    if (a.format) check_format(*a.format);
  } catch (const UsageError& e) {
    return usage_error("sub", e.what());
  }
  const Version version = prepared.options.engine.connect.version;
  std::vector<std::string> topics = a.topics;
  if (prepared.url_topic) topics.push_back(*prepared.url_topic);
  if (topics.empty()) return usage_error("sub", "a topic to subscribe to (-t) is needed");
  for (const std::vector<std::string>* list :
       std::initializer_list<const std::vector<std::string>*>{&topics, &a.filter_out,
                                                              &a.unsubscribe}) {
    for (const std::string& f : *list) {
      if (validate_topic_filter(f, version)) {
        const char* flag = list == &topics ? "-t" : list == &a.filter_out ? "-T" : "-U";
        return usage_error("sub", std::string(flag) + " " + f +
                                      ": not a valid topic filter (are '+' and '#' whole levels?)");
      }
    }
  }
  if (a.no_retained && a.retained_only) {
    return usage_error("sub", "-R and --retained-only contradict each other");
  }
  if (a.json && a.format) return usage_error("sub", "--json and -F: give one");
  if (cmd.count("-C") > 0 && a.count < 1) return usage_error("sub", "-C must be 1 or more");
  if (cmd.count("-W") > 0 && a.timeout < 1) return usage_error("sub", "-W must be 1 or more");

  auto& engine = prepared.options.engine;
  if (version == Version::v5 && !engine.connect.properties.contains(PropertyId::receive_maximum)) {
    // As mosquitto_sub: 20, or -C when fewer are wanted.
    const std::uint32_t rm =
        a.count > 0 && a.count < 20 ? static_cast<std::uint32_t>(a.count) : 20u;
    engine.connect.properties.add(PropertyId::receive_maximum, rm);
  }
  engine.topic_aliases = false;
  engine.reconnect.initial = std::chrono::seconds(1);
  engine.reconnect.maximum = std::chrono::seconds(30);

  ClientTool tool(a.client, std::move(prepared), "sub");
  client::Client& c = tool.client();
  const Disconnect bye{ReasonCode::success, tool.prepared().disconnect, {}};
  // Ended by a signal or -W: 5.0 asks for the Will, as mosquitto_sub does.
  const Disconnect interrupted{
      ReasonCode::disconnect_with_will_message, tool.prepared().disconnect, {}};
  bool connected = false;
  bool processing = true;
  int counted = 0;
  std::size_t removals = 0;  // --remove-retained publishes not yet complete
  bool done_after_removals = false;

  auto end = [&](int code) {
    processing = false;
    if (removals > 0) {
      done_after_removals = true;  // the clearing publishes complete first
      return;
    }
    tool.finish(code, bye);
  };

  c.set_message_handler([&](const Publish& m) {
    if (!processing) return;
    if (a.retained_only && !m.retain) return end(exit_code::ok);
    if (m.retain && a.no_retained) return;
    for (const std::string& f : a.filter_out) {
      if (topic_matches(f, m.topic)) return;
    }
    if (a.remove_retained && m.retain) {
      ++removals;
      c.async_publish(m.topic, "", QoS::at_least_once, true, [&](client::error_code, ReasonCode) {
        if (--removals == 0 && done_after_removals) tool.finish(exit_code::ok, bye);
      });
    }
    std::string out;
    std::string json_error;
    if (a.json) {
      out = message_json(m, version, WallClock::now())
                .dump(a.pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else if (a.format) {
      out = render(*a.format, m, a.pretty, &json_error);
    } else if (a.verbose) {
      if (!(a.no_newline && m.payload.empty())) {
        out = m.topic + " " + (m.payload.empty() ? "(null)" : std::string(m.payload.as_chars()));
      }
    } else {
      out = std::string(m.payload.as_chars());
    }
    const bool nothing = !a.json && !a.format && m.payload.empty() && !a.verbose;
    if (!json_error.empty()) tool.error("Error: " + json_error + ".");
    if (!nothing) {
      write_out(out);
      if (!a.no_newline) std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    if (std::ferror(stdout)) return end(exit_code::ok);  // the reader went away
    if (a.count > 0 && ++counted == a.count) end(exit_code::ok);
  });

  std::vector<Subscription> subs;
  for (const std::string& t : topics) {
    Subscription s;
    s.filter = t;
    s.options.qos = static_cast<QoS>(a.client.qos);
    if (version == Version::v5) {
      s.options.retain_as_published = a.retain_as_published;
      if (a.no_retained) s.options.retain_handling = 2;
    }
    subs.push_back(std::move(s));
  }

  c.async_connect([&](client::error_code ec, const Connack&) {
    if (ec) return tool.abort(tool.connect_failed(ec));
    connected = true;
    c.async_subscribe(
        subs,
        [&](client::error_code e, std::vector<ReasonCode> codes) {
          if (e) return;
          if (a.client.debug && !a.client.quiet) {
            std::string line = "Subscribed (mid: 1): ";
            for (std::size_t i = 0; i < codes.size(); ++i)
              line += (i > 0 ? ", " : "") + std::to_string(static_cast<unsigned>(codes[i]));
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
          }
          if (std::all_of(codes.begin(), codes.end(), [](ReasonCode rc) { return is_error(rc); })) {
            tool.error("All subscription requests were denied.");
            return end(exit_code::ok);
          }
          if (a.exit_after_subscribe) end(exit_code::ok);
        },
        tool.prepared().subscribe);
    for (const std::string& u : a.unsubscribe)
      c.async_unsubscribe({u}, [](client::error_code, std::vector<ReasonCode>) {});
  });

  boost::asio::signal_set signals(tool.io, SIGINT, SIGTERM);
  signals.async_wait([&](client::error_code ec, int) {
    if (ec) return;
    if (!connected) return tool.abort(exit_code::not_connected_yet);
    processing = false;
    tool.finish(exit_code::ok, interrupted);
  });
  boost::asio::steady_timer limit(tool.io);
  if (a.timeout > 0) {
    limit.expires_after(std::chrono::seconds(a.timeout));
    limit.async_wait([&](client::error_code ec) {
      if (ec) return;
      if (!connected) return tool.abort(exit_code::not_connected_yet);
      tool.error("Timed out");
      processing = false;
      tool.finish(exit_code::timed_out, interrupted);
    });
  }
  tool.io.run();
  return tool.exit_code();
}

}  // namespace

void add_sub_command(CLI::App& app) {
  auto a = std::make_shared<SubArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sub",
      "Subscribe to topics on an MQTT broker and print each message (mosquitto_sub's flags; "
      "see docs/client.md)");
  add_client_flags(*cmd, a->client, Tool::sub);
  cmd->add_option("-t,--topic", a->topics, "Topic filter to subscribe to (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-T,--filter-out", a->filter_out,
                  "Do not print messages whose topic matches this filter (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-U,--unsubscribe", a->unsubscribe,
                  "Unsubscribe from this filter after subscribing (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-C", a->count, "Exit after this many messages")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("-W", a->timeout, "Exit after this many seconds (exit code 27)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_flag("-E", a->exit_after_subscribe, "Exit once the subscriptions are acknowledged");
  cmd->add_flag("-R", a->no_retained, "Do not print retained messages");
  cmd->add_flag("--retained-only", a->retained_only,
                "Print only retained messages; exit at the first message that is not");
  cmd->add_flag("--remove-retained", a->remove_retained,
                "Clear each retained message received (publish an empty retained message)");
  cmd->add_flag("--retain-as-published", a->retain_as_published,
                "5.0: keep the RETAIN flag of live messages as published");
  cmd->add_flag("-v,--verbose", a->verbose, "Print the topic before the payload");
  cmd->add_flag("-N", a->no_newline, "No newline after each message");
  cmd->add_option("-F", a->format, "Output format (%t topic, %p payload, %j JSON, ... ; see docs)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_flag("--pretty", a->pretty, "Indent JSON output");
  cmd->add_flag("--json", a->json,
                "One JSON object per message: topic, flags, every 5.0 property, payload");
  cmd->callback([cmd, a] {
    const int status = run(*cmd, *a);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace assay::tools
