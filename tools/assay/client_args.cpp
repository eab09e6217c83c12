#include "client_args.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iostream>
#include <limits>

#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/topic.hpp"
#include "assay/mqtt/utf8.hpp"

namespace assay::tools {

using namespace mqtt;

namespace {

void last_wins(CLI::Option* o) {
  o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A whole decimal number in [min, max], or nullopt.
std::optional<long long> number(const std::string& s, long long min, long long max) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

// The packet a -D command names, and where its properties may stand.
struct Command {
  std::string_view name;
  PropertyContext context;
};
constexpr Command commands[] = {
    {"connect", PropertyContext::connect},       {"publish", PropertyContext::publish},
    {"subscribe", PropertyContext::subscribe},   {"unsubscribe", PropertyContext::unsubscribe},
    {"disconnect", PropertyContext::disconnect}, {"will", PropertyContext::will},
};

// "session-expiry-interval" -> its table entry.
const PropertyInfo* property_named(const std::string& name) {
  for (unsigned id = 1; id < 0x30; ++id) {
    const PropertyInfo* info = property_info(static_cast<std::uint8_t>(id));
    if (info == nullptr) continue;
    std::string key(info->key);
    std::replace(key.begin(), key.end(), '_', '-');
    if (key == name) return info;
  }
  return nullptr;
}

// One -D: COMMAND NAME VALUE, or COMMAND user-property KEY VALUE.
void add_property(const std::vector<std::string>& words, Prepared& p, Connect& connect,
                  Properties& will) {
  const std::string flag = "-D";
  if (words.size() < 3) throw UsageError(flag + " needs COMMAND NAME VALUE");
  const std::string command = lower(words[0]);
  const std::string name = lower(words[1]);
  const auto* cmd = std::find_if(std::begin(commands), std::end(commands),
                                 [&](const Command& c) { return c.name == command; });
  if (cmd == std::end(commands)) {
    throw UsageError(flag + " " + words[0] +
                     ": the command must be connect, publish, subscribe, unsubscribe, "
                     "disconnect or will");
  }
  const PropertyInfo* info = property_named(name);
  if (info == nullptr)
    throw UsageError(flag + " " + words[0] + ": no property named '" + words[1] + "'");
  const bool pair = info->type == PropertyType::utf8_string_pair;
  if (words.size() != (pair ? 4u : 3u)) {
    throw UsageError(flag + " " + words[0] + " " + words[1] + ": needs " +
                     (pair ? "a KEY and a VALUE" : "one VALUE"));
  }
  // Properties the client does not send in that packet, though the spec
  // allows them there (mosquitto refuses the same).
  const bool not_ours =
      (cmd->context == PropertyContext::publish &&
       info->id == PropertyId::subscription_identifier) ||
      (cmd->context == PropertyContext::connect && info->id == PropertyId::authentication_method);
  if (!allowed_in(info->id, cmd->context) || not_ours) {
    throw UsageError(flag + " " + words[0] + " " + words[1] + ": " + std::string(info->name) +
                     " is not allowed in " + command);
  }
  PropertyValue value;
  const std::string& v = words[2];
  switch (info->type) {
    case PropertyType::byte:
    case PropertyType::two_byte_integer:
    case PropertyType::four_byte_integer:
    case PropertyType::variable_byte_integer: {
      const long long max = info->type == PropertyType::byte                ? 255
                            : info->type == PropertyType::two_byte_integer  ? 65535
                            : info->type == PropertyType::four_byte_integer ? 4294967295LL
                                                                            : 268435455;
      const auto n = number(v, 0, max);
      if (!n) {
        throw UsageError(flag + " " + words[0] + " " + words[1] + ": '" + v +
                         "' is not a number from 0 to " + std::to_string(max));
      }
      value = static_cast<std::uint32_t>(*n);
      break;
    }
    case PropertyType::binary_data:
      if (v.size() > 65535) throw UsageError(flag + " " + words[1] + ": longer than 65,535 bytes");
      value = Bytes(v.begin(), v.end());
      break;
    case PropertyType::utf8_string:
      if (check_utf8(v) != Utf8Status::ok)
        throw UsageError(flag + " " + words[1] + ": not valid UTF-8");
      value = v;
      break;
    case PropertyType::utf8_string_pair:
      value = StringPair{v, words[3]};
      break;
  }
  Properties* target = nullptr;
  switch (cmd->context) {
    case PropertyContext::connect:
      target = &connect.properties;
      break;
    case PropertyContext::publish:
      target = &p.publish;
      break;
    case PropertyContext::subscribe:
      target = &p.subscribe;
      break;
    case PropertyContext::unsubscribe:
      target = &p.unsubscribe;
      break;
    case PropertyContext::disconnect:
      target = &p.disconnect;
      break;
    default:
      target = &will;
  }
  if (!info->repeatable && target->contains(info->id)) {
    throw UsageError(flag + " " + words[0] + " " + words[1] + ": given twice");
  }
  try {
    target->add(info->id, std::move(value));
  } catch (const std::invalid_argument& e) {
    throw UsageError(flag + " " + words[0] + " " + words[1] + ": " + e.what());
  }
}

Version parse_version(const std::string& v) {
  if (v == "311" || v == "mqttv311") return Version::v3_1_1;
  if (v == "5" || v == "mqttv5") return Version::v5;
  if (v == "31" || v == "mqttv31") {
    throw UsageError("-V " + v + ": MQTT 3.1 is not supported; use -V 311 (3.1.1) or -V 5");
  }
  throw UsageError("-V " + v + ": the version must be 311 (mqttv311) or 5 (mqttv5)");
}

// mqtt(s)://[user[:password]@]host[:port]/topic
struct Url {
  bool tls = false;
  std::optional<std::string> user;
  std::optional<std::string> password;
  std::string host;
  std::optional<int> port;
  std::string topic;
};
Url parse_url(const std::string& url) {
  Url u;
  const auto scheme_end = url.find("://");
  const std::string scheme = lower(url.substr(0, scheme_end == std::string::npos ? 0 : scheme_end));
  if (scheme == "mqtts") {
    u.tls = true;
  } else if (scheme != "mqtt") {
    throw UsageError("-L " + url + ": the URL must start with mqtt:// or mqtts://");
  }
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  if (slash == std::string::npos) {
    throw UsageError("-L " + url + ": the URL has no topic (mqtt://host[:port]/topic)");
  }
  u.topic = rest.substr(slash + 1);
  rest.resize(slash);
  if (const auto at = rest.find('@'); at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const auto colon = userinfo.find(':'); colon != std::string::npos) {
      u.user = userinfo.substr(0, colon);
      u.password = userinfo.substr(colon + 1);
    } else {
      u.user = userinfo;
    }
  }
  const auto server = client::parse_server(rest, u.tls ? 8883 : 1883);
  if (!server) throw UsageError("-L " + url + ": '" + rest + "' is not host[:port]");
  u.host = server->host;
  if (rest.find(':') != std::string::npos && rest.back() != ']') u.port = server->port;
  return u;
}

}  // namespace

void add_client_flags(CLI::App& cmd, ClientArgs& a, Tool tool) {
  cmd.set_help_flag("--help", "Print this help and exit");
  const bool pub = tool == Tool::pub;
  last_wins(cmd.add_option("-h,--host", a.host, "Broker host (default localhost)"));
  last_wins(cmd.add_option("-p,--port", a.port,
                           "Broker port (default 1883, or 8883 with --cafile/--capath; "
                           "-p 8883 alone turns TLS on with the system's CAs)")
                ->check(CLI::Range(1, 65535)));
  last_wins(cmd.add_option("-L,--url", a.url,
                           "mqtt(s)://[user[:password]@]host[:port]/topic: host, port, "
                           "credentials and topic in one"));
  last_wins(cmd.add_option("--ws", a.websocket,
                           "MQTT over WebSocket on this HTTP path (e.g. /mqtt); secure "
                           "WebSocket with the TLS options. Give the port with -p"));
  last_wins(cmd.add_option("-i,--id", a.id, "Client id (default: none, the broker assigns one)"));
  last_wins(cmd.add_option("-I,--id-prefix", a.id_prefix,
                           "Client id: this prefix followed by the process id"));
  last_wins(cmd.add_option("-u,--username", a.username, "User name"));
  last_wins(cmd.add_option("-P,--pw", a.password, "Password"));
  last_wins(cmd.add_option("--auth", a.auth,
                           "5.0 enhanced authentication with -u and -P: scram-sha-256 (the "
                           "password never crosses the wire, and the broker must prove it "
                           "knows the user's keys); implies -V 5"));
  last_wins(cmd.add_option("-k,--keepalive", a.keep_alive, "Keep Alive in seconds (default 60)")
                ->check(CLI::Range(0, 65535)));
  last_wins(cmd.add_option("-V,--protocol-version", a.version,
                           "MQTT version: 311 (mqttv311, the default) or 5 (mqttv5)"));
  cmd.add_flag("-c,--disable-clean-session", a.no_clean,
               "Keep the session: Clean Start 0, and with 5.0 a session that never "
               "expires unless -x says otherwise (needs -i)");
  last_wins(cmd.add_option("-x", a.expiry, "5.0 Session Expiry Interval in seconds; -1 for never"));
  cmd.add_option("-D,--property", a.properties,
                 "A 5.0 property: -D COMMAND NAME VALUE, or -D COMMAND user-property KEY "
                 "VALUE (COMMAND: connect, publish, subscribe, unsubscribe, disconnect, "
                 "will); implies -V 5")
      ->expected(3, 4)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  last_wins(cmd.add_option("-q,--qos", a.qos,
                           pub ? "QoS of the messages (0, 1 or 2; default 0)"
                               : "QoS of the subscriptions (0, 1 or 2; default 0)")
                ->check(CLI::Range(0, 2)));
  last_wins(cmd.add_option("--will-topic", a.will_topic, "Topic of the Will"));
  last_wins(cmd.add_option("--will-payload", a.will_payload, "Payload of the Will"));
  last_wins(cmd.add_option("--will-qos", a.will_qos, "QoS of the Will")->check(CLI::Range(0, 2)));
  cmd.add_flag("--will-retain", a.will_retain, "Retain the Will");
  last_wins(
      cmd.add_option("--cafile", a.cafile, "TLS: trust the CA certificates in this PEM file"));
  last_wins(
      cmd.add_option("--capath", a.capath, "TLS: trust the CA certificates in this directory"));
  last_wins(cmd.add_option("--cert", a.cert, "TLS: client certificate (PEM)"));
  last_wins(cmd.add_option("--key", a.key, "TLS: client key (PEM)"));
  last_wins(cmd.add_option("--tls-version", a.tls_version,
                           "TLS: lowest version, tlsv1.2 (default) or tlsv1.3"));
  last_wins(cmd.add_option("--tls-alpn", a.alpn, "TLS: ALPN protocol to offer"));
  cmd.add_flag("--tls-use-os-certs", a.os_certs, "TLS on, trusting the system's CA certificates");
  cmd.add_flag("--insecure", a.insecure,
               "TLS: do not check the server's host name (the certificate chain still is)");
  cmd.add_flag("--nodelay", a.nodelay, "Accepted for compatibility (TCP_NODELAY is always on)");
  cmd.add_flag("-d,--debug", a.debug, "Print every packet sent and received");
  cmd.add_flag("--quiet", a.quiet, "Print no errors (exit codes still tell)");
}

Prepared prepare(const CLI::App& cmd, const ClientArgs& a, Tool tool) {
  Prepared p;
  client::ClientConfig& e = p.options.engine;
  Connect& c = e.connect;

  // -D implies 5.0 unless a -V comes after it (as with mosquitto).
  Version version = parse_version(a.version);
  bool seen_v = false;
  bool v_after_d = false;
  for (const CLI::Option* o : cmd.parse_order()) {
    if (o->check_name("-V")) {
      seen_v = true;
      v_after_d = true;
    } else if (o->check_name("-D")) {
      v_after_d = false;
    }
  }
  if (!a.properties.empty() && !(seen_v && v_after_d)) version = Version::v5;
  if (!a.auth.empty()) {
    if (seen_v && version != Version::v5) {
      throw UsageError("--auth: enhanced authentication needs MQTT 5.0 (-V 5)");
    }
    version = Version::v5;
  }
  c.version = version;

  // Where: -L, then -h/-p/-u/-P given after it override it.
  std::string host = a.host;
  std::optional<int> port = a.port;
  std::optional<std::string> user = a.username;
  std::optional<std::string> password = a.password;
  bool tls = !a.cafile.empty() || !a.capath.empty() || a.os_certs;
  if (!a.url.empty()) {
    const Url u = parse_url(a.url);
    bool after = false;
    auto given_after = [&](const char* name) {
      bool result = false;
      after = false;
      for (const CLI::Option* o : cmd.parse_order()) {
        if (o->check_name("-L")) after = true;
        if (after && o->check_name(name)) result = true;
      }
      return result;
    };
    if (!given_after("-h")) host = u.host;
    if (!given_after("-p")) port = u.port ? u.port : std::optional<int>(u.tls ? 8883 : 1883);
    if (!given_after("-u") && u.user) user = u.user;
    if (!given_after("-P") && u.password) password = u.password;
    tls = tls || u.tls;
    p.url_topic = u.topic;
  }
  if (!port) port = tls ? 8883 : 1883;
  if (*port == 8883 && !tls) tls = true;  // as mosquitto: the TLS port means TLS
  e.servers = {client::Server{host, static_cast<std::uint16_t>(*port)}};
  p.target = host + ":" + std::to_string(*port);

  // Who.
  if (a.id && !a.id_prefix.empty()) throw UsageError("-i and -I cannot be used together");
  if (a.id) {
    if (a.id->empty()) throw UsageError("-i: the client id must not be empty");
    c.client_id = *a.id;
  } else if (!a.id_prefix.empty()) {
    c.client_id = a.id_prefix + std::to_string(::getpid());
  }
  if (check_utf8(c.client_id) != Utf8Status::ok)
    throw UsageError("-i: the client id must be UTF-8");
  if (!a.auth.empty()) {
    std::string method = a.auth;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    if (method != scram::method_name) {
      throw UsageError("--auth " + a.auth + ": the method known is scram-sha-256");
    }
    if (!user || !password) throw UsageError("--auth scram-sha-256: needs -u and -P");
    // The user name goes in the SCRAM messages; the password stays here.
    p.scram = std::make_shared<client::ScramAuthenticator>(*user, *password);
    e.authenticator = p.scram;
    c.username = *user;
    password.reset();
  }
  if (user) c.username = *user;
  if (password) {
    if (!user && version == Version::v3_1_1) {
      throw UsageError("-P: MQTT 3.1.1 sends a password only with a user name (-u)");
    }
    c.password = Bytes(password->begin(), password->end());
  }
  c.keep_alive = static_cast<std::uint16_t>(a.keep_alive);

  // The session: -c and -x.
  c.clean_start = !a.no_clean;
  std::optional<std::uint32_t> expiry;
  if (a.expiry) {
    if (*a.expiry == "-1" || *a.expiry == "\u221e") {
      expiry = session_never_expires;
    } else if (const auto n = number(*a.expiry, 0, 4294967295LL)) {
      expiry = static_cast<std::uint32_t>(*n);
    } else {
      throw UsageError("-x " + *a.expiry +
                       ": the Session Expiry Interval must be -1 or 0 to 4294967295");
    }
  }
  const bool id_given = a.id.has_value();
  if (version == Version::v5) {
    if (!c.clean_start && !expiry) expiry = session_never_expires;
    if (expiry && *expiry == session_never_expires && !id_given) {
      throw UsageError("-c/-x: a session that never expires needs a client id (-i)");
    }
  } else if (!c.clean_start && !id_given) {
    throw UsageError("-c: a kept session needs a client id (-i)");
  }

  // Properties, then the Will.
  Properties will_props;
  for (const auto& words : a.properties)
    add_property(words, p, c, will_props);
  if (expiry && *expiry > 0 && version == Version::v5) {
    if (c.properties.contains(PropertyId::session_expiry_interval)) {
      throw UsageError("-x and -D connect session-expiry-interval: give one");
    }
    c.properties.add(PropertyId::session_expiry_interval, *expiry);
  }
  if (version == Version::v3_1_1) {
    if (!c.properties.empty() || !will_props.empty() || !p.publish.empty() ||
        !p.subscribe.empty() || !p.unsubscribe.empty() || !p.disconnect.empty()) {
      throw UsageError("-D: properties need MQTT 5.0 (-V 5 after the -D, or none)");
    }
  }
  if (a.will_payload && !a.will_topic) throw UsageError("--will-payload needs --will-topic");
  if (a.will_retain && !a.will_topic) throw UsageError("--will-retain needs --will-topic");
  if (cmd.count("--will-qos") > 0 && !a.will_topic)
    throw UsageError("--will-qos needs --will-topic");
  if (a.will_topic) {
    if (validate_topic_name(*a.will_topic, version)) {
      throw UsageError("--will-topic " + *a.will_topic +
                       ": not a valid topic name (no '+' or '#', not empty)");
    }
    Will w;
    w.topic = *a.will_topic;
    w.payload = SharedBytes(std::string_view(a.will_payload.value_or("")));
    w.qos = static_cast<QoS>(a.will_qos);
    w.retain = a.will_retain;
    w.properties = std::move(will_props);
    c.will = std::move(w);
  } else if (!will_props.empty()) {
    throw UsageError("-D will: Will properties need --will-topic");
  }

  // TLS.
  if (a.cert.empty() != a.key.empty()) throw UsageError("--cert and --key go together");
  if (!a.cert.empty() && !tls)
    throw UsageError("--cert/--key need TLS (--cafile, --capath or --tls-use-os-certs)");
  if (tls) {
    client::TlsOptions t;
    t.ca_file = a.cafile;
    t.ca_path = a.capath;
    t.cert_file = a.cert;
    t.key_file = a.key;
    t.verify_host_name = !a.insecure;
    if (!a.tls_version.empty()) {
      const std::string v = lower(a.tls_version);
      if (v != "tlsv1.2" && v != "tlsv1.3") {
        throw UsageError("--tls-version " + a.tls_version + ": must be tlsv1.2 or tlsv1.3");
      }
      t.version = v;
    }
    if (!a.alpn.empty()) t.alpn = {a.alpn};
    p.options.tls = t;
    if (a.insecure) {
      // Loud on purpose: this takes away what TLS is for.
      std::cerr << "Warning: --insecure: the server's certificate is not checked against the "
                   "host name; anyone on the path can impersonate the broker.\n";
    }
  } else if (a.insecure || !a.tls_version.empty() || !a.alpn.empty()) {
    throw UsageError(
        "--insecure, --tls-version and --tls-alpn need TLS (--cafile, --capath or "
        "--tls-use-os-certs)");
  }
  if (!a.websocket.empty()) {
    if (a.websocket.front() != '/') throw UsageError("--ws " + a.websocket + ": must start with /");
    p.options.websocket_path = a.websocket;
  }
  (void)tool;
  return p;
}

}  // namespace assay::tools
