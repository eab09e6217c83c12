// Sessions: CONNECT (new, resumed, taken over, refused), the end of a
// connection, offline sessions, their expiry and their Wills.
#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

void Engine::on_connect(Link& link, const Connect& c, Time now) {
  // The connection failed while its CONNECT waited (a parked CONNECT past
  // its timeout, say): nothing to answer, and no session may be given to a
  // connection that would drop it.
  if (link.conn.ended()) return;
  link.shrink = true;  // answered below (or handed off): it may stay idle now
  if (shard_.count > 1 && link.stage == Stage::fresh && !c.client_id.empty() &&
      home_shard(c.client_id, shard_.count) != shard_.index) {
    return handoff(link, c);  // its home shard answers the CONNECT
  }
  const bool v5 = c.version == Version::v5;
  // 5.0 codes throughout: Connection::reject() gives a 3.1.1 client the
  // return code of the same meaning (for_version).
  const auto refuse = [&](ReasonCode rc) {
    link.to(Stage::answered);
    link.conn.reject(Connack{false, rc, {}}, now);
  };
  std::string client_id = c.client_id;
  Connack ack;
  if (client_id.empty()) {
    if (!config_.assign_client_ids) return refuse(ReasonCode::client_identifier_not_valid);
    // A unique id [MQTT-3.1.3-6], returned in 5.0 [MQTT-3.1.3-7], [MQTT-3.2.2-16].
    // One this shard owns: no other shard can assign or hold it. A CONNECT
    // back from its enhanced authentication keeps the id it was given.
    if (link.origin && !link.origin->assigned_id.empty() &&
        !sessions_.contains(link.origin->assigned_id)) {
      client_id = link.origin->assigned_id;
    }
    while (client_id.empty() || sessions_.contains(client_id) ||
           home_shard(client_id, shard_.count) != shard_.index) {
      client_id = "assay-" + std::to_string(next_assigned_++);
    }
    if (v5) ack.properties.add(PropertyId::assigned_client_identifier, client_id);
  } else if (client_id.size() < config_.minimum_client_id_length) {
    return refuse(ReasonCode::client_identifier_not_valid);  // [MQTT-3.1.3-8]
  }
  // A verified certificate's identity is the user name (TLS listeners
  // with use_identity_as_username), or else the user an enhanced
  // authentication proved.
  const bool certified = link.origin && !link.origin->identity.empty();
  std::optional<std::string> username =
      certified ? std::optional<std::string>(link.origin->identity) : c.username;
  ConnectContext context{
      link.origin ? std::string_view(link.origin->peer) : std::string_view(), now, {}, {}};
  if (certified) context.certificate_identity = link.origin->identity;
  const std::string* method = v5 ? c.properties.string(PropertyId::authentication_method) : nullptr;
  if (method != nullptr) {
    if (!link.origin || !link.origin->authenticated) {
      // A certificate that names the user: the exchange must prove that one.
      if (certified) context.expected_user = link.origin->identity;
      auto exchange = config_.authenticator->exchange(*method, client_id, context);
      if (!exchange) return refuse(ReasonCode::bad_authentication_method);  // [MQTT-4.12.0-1]
      Link::Origin& origin = link.origin_for_update();
      origin.exchange = std::move(exchange);
      if (c.client_id.empty()) origin.assigned_id = client_id;
      // On success the exchange comes back here with `authenticated` set.
      const Bytes* data = c.properties.binary(PropertyId::authentication_data);
      return auth_step(link, data ? std::optional<Bytes>(*data) : std::nullopt, now);
    }
    // The user who proved itself must be the certificate's, and a
    // CONNECT's User Name, if any.
    const std::string& proved = *link.origin->authenticated;
    if ((certified && proved != link.origin->identity) || (c.username && *c.username != proved)) {
      return refuse(ReasonCode::bad_user_name_or_password);
    }
    username = proved;
  } else if (const ReasonCode rc = config_.authenticator->authenticate(c, context);
             rc != ReasonCode::success) {
    return refuse(rc);
  }
  if (c.will) {
    // A Will is a publish of its client's: checked now and when it fires,
    // and never to $SYS (EMQX #8978).
    const Principal who = principal_of(client_id, username ? &*username : nullptr);
    if (c.will->topic.starts_with("$SYS/") ||
        !config_.authorizer->may_publish(who, c.will->topic)) {
      return refuse(ReasonCode::not_authorized);
    }
    if (c.will->qos > config_.maximum_qos) return refuse(ReasonCode::qos_not_supported);
    if (c.will->retain && !config_.retain_available) {
      return refuse(ReasonCode::retain_not_supported);  // [MQTT-3.2.2-13]
    }
  }

  // Session expiry: 5.0 from CONNECT (capped); 3.1.1 CleanSession=0 keeps it.
  std::uint32_t expiry = 0;
  if (v5) {
    expiry = c.properties.integer(PropertyId::session_expiry_interval).value_or(0);
    if (expiry > config_.maximum_session_expiry) {
      expiry = config_.maximum_session_expiry;
      ack.properties.add(PropertyId::session_expiry_interval, expiry);
    }
  } else if (!c.clean_start) {
    expiry = session_never_expires;
  }

  // Takeover: the connection holding this client id is closed [MQTT-3.1.4-3]
  // and its session moves to the new one; first, with drain_before_takeover,
  // what the old connection still has to say is read.
  auto it = sessions_.find(client_id);
  if (config_.drain_before_takeover && link.stage != Stage::drained && it != sessions_.end() &&
      it->second->link && links_.contains(it->second->link)) {
    link.to(Stage::parked);  // the CONNECT stays in link.conn until answered
    drains_.push_back(Drain{it->second->link, link.id});
    return;
  }
  if (it != sessions_.end() && it->second->link) {
    StoredSession& old = *it->second;
    if (const auto l = links_.find(old.link); l != links_.end()) {
      Link& other = l->second;
      other.conn.disconnect(Disconnect{ReasonCode::session_taken_over, {}, {}}, now);
      old.session = std::make_unique<Session>(other.conn.take_session());
      // It has no session now: its Closed event no longer concerns this one.
      schedule(other);
    }
    old.link = 0;
    set_shared_online(old, false);
    // The old connection's Will: a resumed session with a Will Delay cancels
    // it [MQTT-3.1.3-9]; otherwise it is published now.
    const bool delayed =
        old.will && old.will->properties.integer(PropertyId::will_delay_interval).value_or(0) > 0;
    if (old.will && (c.clean_start || !delayed)) fire_will(old, now);
    old.will.reset();
    if (config_.planted_bug == PlantedBug::drop_session_on_takeover && !c.clean_start) {
      end_session(client_id, now);
      it = sessions_.end();
    }
  }
  bool present = false;
  if (it != sessions_.end()) {
    if (c.clean_start) {
      end_session(client_id, now);  // [MQTT-3.1.2-4]; a pending Will goes out now
    } else {
      present = true;  // [MQTT-3.1.2-5]
    }
  }
  if (!present) {
    auto fresh = std::make_unique<StoredSession>();
    fresh->client_id = client_id;
    fresh->session = std::make_unique<Session>(client_id, config_.session_limits);
    fresh->incarnation = next_incarnation_++;
    if (shard_.count > 1) fresh->congested = std::make_shared<std::atomic<bool>>(false);
    it = sessions_.emplace(fresh->client_id, std::move(fresh)).first;  // views its id
  }
  StoredSession& s = *it->second;
  // A new connection before the Will Delay ends cancels the Will [MQTT-3.1.3-9].
  s.expires_at = never;
  s.will = c.will ? std::make_unique<StoredSession::StoredWill>(*c.will) : nullptr;
  s.expiry_interval = expiry;
  s.version = c.version;
  s.link = link.id;
  if (username) link.username = std::make_unique<std::string>(*username);
  s.username = username;
  set_shared_online(s, true);
  if (!s.session) s.session = std::make_unique<Session>(client_id, config_.session_limits);
  s.session->set_expiry_interval(expiry);

  ack.session_present = present;  // [MQTT-3.2.2-2], [MQTT-3.2.2-3]
  if (v5) {
    Properties& p = ack.properties;
    if (config_.receive_maximum != default_receive_maximum)
      p.add(PropertyId::receive_maximum, config_.receive_maximum);
    if (config_.topic_alias_maximum > 0) {
      p.add(PropertyId::topic_alias_maximum, config_.topic_alias_maximum);
    }
    if (config_.maximum_qos != QoS::exactly_once) {
      p.add(PropertyId::maximum_qos, static_cast<std::uint32_t>(config_.maximum_qos));
    }
    if (!config_.retain_available) p.add(PropertyId::retain_available, 0u);
    p.add(PropertyId::maximum_packet_size, config_.maximum_packet_size);
    if (config_.server_keep_alive) {
      p.add(PropertyId::server_keep_alive, std::uint32_t{*config_.server_keep_alive});
    }
    if (method != nullptr) {
      p.add(PropertyId::authentication_method, *method);  // [MQTT-4.12.0-5]
      if (link.origin && !link.origin->server_final.empty()) {
        p.add(PropertyId::authentication_data, std::move(link.origin->server_final));
      }
    }
  }
  link.to(Stage::answered);
  if (config_.planted_bug == PlantedBug::forget_inflight_on_resume && present) {
    Session emptied(s.session->client_id(), config_.session_limits);
    emptied.set_expiry_interval(s.session->expiry_interval());
    *s.session = std::move(emptied);
  }
  link.conn.accept(std::move(ack), std::move(*s.session), now);
  s.session.reset();
}

void Engine::on_closed(Link& link, const event::Closed& closed, Time now) {
  if (link.client_id().empty()) return;  // never accepted
  const auto it = sessions_.find(link.client_id());
  if (it == sessions_.end() || it->second->link != link.id) return;
  StoredSession& s = *it->second;
  s.session = std::make_unique<Session>(link.conn.take_session());
  s.link = 0;
  set_shared_online(s, false);
  if (!closed.publish_will && config_.planted_bug != PlantedBug::will_on_normal_disconnect) {
    s.will.reset();  // [MQTT-3.1.2-10], [MQTT-3.14.4-3]
  }
  // Stored without its Will (or its Will's time): a restart must not
  // publish a Will the DISCONNECT took away.
  mark_session(s.client_id);
  went_offline(s, now);
}

// A session without a connection: it ends now when its expiry is 0 (its
// Will, if any, going out with it), or else waits for its expiry, its Will
// published after the Will Delay or at the session's end, whichever first.
void Engine::went_offline(StoredSession& s, Time now) {
  const std::uint32_t expiry = current_session(s).expiry_interval();  // DISCONNECT may change it
  if (expiry == 0) {
    end_session(s.client_id, now);
    return;
  }
  if (expiry != session_never_expires) s.expires_at = now + std::chrono::seconds(expiry);
  if (s.will) {
    const std::uint32_t delay =
        s.will->properties.integer(PropertyId::will_delay_interval).value_or(0);
    if (delay == 0) {
      fire_will(s, now);
    } else {
      s.will->at = now + std::chrono::seconds(std::min(delay, expiry));
    }
  }
  arm(s);
}

void Engine::end_session(const std::string& client_id, Time now) {
  const auto it = sessions_.find(client_id);
  if (it == sessions_.end()) return;
  StoredSession& s = *it->second;
  if (s.will) fire_will(s, now);  // the session ended before the delay [MQTT-3.1.2-8]
  mark_session(client_id);
  std::vector<std::string> filters;
  for (const auto& [filter, sub] : s.subscriptions)
    filters.push_back(filter);
  for (const auto& f : filters)
    remove_subscription(s, f);
  sessions_.erase(it);
}

void Engine::fire_will(StoredSession& s, Time now) {
  if (!s.will) return;
  Will will = std::move(static_cast<Will&>(*s.will));
  s.will.reset();
  mark_session(s.client_id);  // published once: not again after a restart
  Publish message;
  message.topic = std::move(will.topic);
  message.qos = will.qos;
  message.retain = will.retain;  // [MQTT-3.1.2-14], [MQTT-3.1.2-15]
  message.payload = will.payload;
  message.properties = std::move(will.properties);
  message.properties.erase(PropertyId::will_delay_interval);
  const std::string publisher = s.client_id;
  // Rights may have changed since CONNECT (a reload); a Will delayed past a
  // restart is checked here too.
  if (!config_.authorizer->may_publish(s.principal(), message.topic)) return;
  route(message, publisher, now);
}

}  // namespace assay::broker
