// `assay pub`: publish one message (-m, -f, -s, -n), the same one again
// (--repeat, --repeat-delay), or one per line of stdin (-l), with
// mosquitto_pub's flags. Waits for each message's QoS flow, then
// disconnects.
#include "pub_command.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>

#include "assay/mqtt/topic.hpp"
#include "client_tool.hpp"

namespace assay::tools {

using namespace mqtt;

namespace {

struct PubArgs {
  ClientArgs client;
  std::optional<std::string> topic;
  std::optional<std::string> message;
  std::optional<std::string> file;
  bool stdin_file = false;
  bool stdin_line = false;
  bool null_message = false;
  bool retain = false;
  int repeat = 1;
  double repeat_delay = 0;
};

// -l reads stdin on a thread of its own (a regular file cannot be waited
// on) and hands lines over in batches; at most `window` messages are
// published and not yet complete, so memory stays bounded however fast
// stdin is.
class LineReader {
 public:
  static constexpr std::size_t window = 8192;

  explicit LineReader(std::function<void(std::vector<std::string>, bool eof)> deliver)
      : deliver_(std::move(deliver)) {}
  ~LineReader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    room_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // A message handed over has completed.
  void completed() {
    {
      std::lock_guard lock(mutex_);
      --outstanding_;
    }
    room_.notify_one();
  }

 private:
  void run() {
    std::vector<std::string> batch;
    std::string partial;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      const std::size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
      std::size_t start = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') continue;
        partial.append(buf.data() + start, i - start);
        batch.push_back(std::move(partial));
        partial.clear();
        start = i + 1;
      }
      partial.append(buf.data() + start, n - start);
      const bool eof = n == 0;
      if (eof && !partial.empty()) batch.push_back(std::move(partial));  // a last line without \n
      if (!hand_over(batch, eof) || eof) return;
      batch.clear();
    }
  }
  bool hand_over(std::vector<std::string>& batch, bool eof) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] {
      return stopping_ || outstanding_ + batch.size() <= window || outstanding_ == 0;
    });
    if (stopping_) return false;
    outstanding_ += batch.size();
    lock.unlock();
    deliver_(std::move(batch), eof);
    return true;
  }

  std::function<void(std::vector<std::string>, bool)> deliver_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t outstanding_ = 0;
  bool stopping_ = false;
};

std::optional<std::string> read_all(std::istream& in) {
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return s;
}

int run(const CLI::App& cmd, const PubArgs& a) {
  Prepared prepared;
  try {
    prepared = prepare(cmd, a.client, Tool::pub);
  } catch (const UsageError& e) {
    return usage_error("pub", e.what());
  }
  const int modes = (a.message ? 1 : 0) + (a.file ? 1 : 0) + (a.stdin_file ? 1 : 0) +
                    (a.stdin_line ? 1 : 0) + (a.null_message ? 1 : 0);
  if (modes > 1) return usage_error("pub", "-m, -f, -s, -l and -n: give one");
  std::string topic = a.topic.value_or(prepared.url_topic.value_or(""));
  if (a.topic && prepared.url_topic) {
    // The later of -t and -L wins, as with mosquitto_pub.
    for (const CLI::Option* o : cmd.parse_order()) {
      if (o->check_name("-L")) topic = *prepared.url_topic;
      if (o->check_name("-t")) topic = *a.topic;
    }
  }
  if (topic.empty() || modes == 0) {
    return usage_error("pub", "both a topic (-t) and a message (-m, -f, -s, -l or -n) are needed");
  }
  if (validate_topic_name(topic, prepared.options.engine.connect.version)) {
    return usage_error("pub", "-t " + topic + ": not a valid topic name (no '+' or '#')");
  }
  if (a.repeat < 1) return usage_error("pub", "--repeat must be 1 or more");
  if (a.repeat_delay < 0) return usage_error("pub", "--repeat-delay must be 0 or more");

  std::string payload;
  if (a.message) payload = *a.message;
  if (a.file) {
    std::ifstream in(*a.file, std::ios::binary);
    auto all = in ? read_all(in) : std::nullopt;
    if (!all) {
      std::cerr << "Error: cannot read file '" << *a.file << "' (-f)\n";
      return exit_code::error;
    }
    payload = std::move(*all);
  }
  if (a.stdin_file) {
    auto all = read_all(std::cin);
    if (!all || all->empty()) {
      std::cerr << "Error: nothing on stdin to publish (-s)\n";
      return exit_code::error;
    }
    payload = std::move(*all);
  }
  if (payload.size() > 268'435'455 - 64)
    return usage_error("pub", "the message is too large for MQTT");

  // What mosquitto_pub puts in CONNECT: a Receive Maximum of 20 (5.0).
  auto& engine = prepared.options.engine;
  if (engine.connect.version == Version::v5 &&
      !engine.connect.properties.contains(PropertyId::receive_maximum)) {
    engine.connect.properties.add(PropertyId::receive_maximum, 20u);
  }
  // Aliases only when asked for (-D publish topic-alias N).
  Properties publish_props = prepared.publish;
  engine.topic_aliases = publish_props.erase(PropertyId::topic_alias) > 0;
  // A single message ends with its connection; -l rides out a reconnect.
  engine.reconnect.enabled = a.stdin_line;
  engine.reconnect.initial = std::chrono::seconds(1);
  engine.queue.max_messages = LineReader::window + 16;
  engine.queue.max_bytes = std::size_t{1} << 30;

  ClientTool tool(a.client, std::move(prepared), "pub");
  client::Client& c = tool.client();
  auto make = [&](std::string body) {
    Publish m;
    m.topic = topic;
    m.payload = SharedBytes(std::string_view(body));
    m.qos = static_cast<QoS>(a.client.qos);
    m.retain = a.retain;
    m.properties = publish_props;
    return m;
  };
  // A refused message: said, and the exit code is its reason code.
  auto check = [&](client::error_code ec) {
    if (!ec) return;
    tool.error("Warning: Publish failed: " + ec.message() + ".");
    if (tool.exit_code() == 0 && ec.category() == client::reason_category()) {
      tool.finish(ec.value(), Disconnect{ReasonCode::success, tool.prepared().disconnect, {}});
    }
  };
  const Disconnect bye{ReasonCode::success, tool.prepared().disconnect, {}};

  boost::asio::steady_timer delay(tool.io);
  int sent = 0;
  std::function<void()> publish_next = [&] {
    c.async_publish(make(payload), [&](client::error_code ec, ReasonCode) {
      check(ec);
      if (++sent >= a.repeat) return tool.finish(tool.exit_code(), bye);
      delay.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(a.repeat_delay)));
      delay.async_wait([&](client::error_code e) {
        if (!e) publish_next();
      });
    });
  };

  std::unique_ptr<LineReader> reader;
  std::size_t in_flight = 0;
  bool eof = false;
  c.async_connect([&](client::error_code ec, const Connack&) {
    if (ec) return tool.abort(tool.connect_failed(ec));
    if (!a.stdin_line) return publish_next();
    reader = std::make_unique<LineReader>([&](std::vector<std::string> lines, bool at_end) {
      boost::asio::post(tool.io, [&, lines = std::move(lines), at_end]() mutable {
        for (std::string& line : lines) {
          ++in_flight;
          c.async_publish(make(std::move(line)), [&](client::error_code e, ReasonCode) {
            check(e);
            --in_flight;
            reader->completed();
            if (eof && in_flight == 0) tool.finish(tool.exit_code(), bye);
          });
        }
        eof = eof || at_end;
        if (eof && in_flight == 0) tool.finish(tool.exit_code(), bye);
      });
    });
    reader->start();
  });
  tool.io.run();
  reader.reset();
  return tool.exit_code();
}

}  // namespace

void add_pub_command(CLI::App& app) {
  auto a = std::make_shared<PubArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pub",
      "Publish a message, or one per line of stdin, to an MQTT broker (mosquitto_pub's "
      "flags; see docs/client.md)");
  add_client_flags(*cmd, a->client, Tool::pub);
  cmd->add_option("-t,--topic", a->topic, "Topic to publish to")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("-m,--message", a->message, "The message")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("-f,--file", a->file, "Send this file's contents as the message")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_flag("-s,--stdin-file", a->stdin_file, "Send all of stdin as one message");
  cmd->add_flag("-l,--stdin-line", a->stdin_line,
                "Send each line of stdin as a message (empty lines too)");
  cmd->add_flag("-n,--null-message", a->null_message, "Send an empty message");
  cmd->add_flag("-r,--retain", a->retain, "Retain the message");
  cmd->add_option("--repeat", a->repeat, "Publish the message this many times")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--repeat-delay", a->repeat_delay,
                  "Seconds from one message's delivery to the next publish")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->callback([cmd, a] {
    const int status = run(*cmd, *a);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace assay::tools
