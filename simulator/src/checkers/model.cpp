#include "model.hpp"

namespace assay::sim::checkers {

Model::Model(const World& world, Durability mode)
    : world_(world),
      mode_(mode),
      subscribers_(world.clients()),
      published_(world.clients()),
      amnesiac_(world.clients()),
      resumed_amnesiac_(world.clients()),
      last_amnesia_(world.clients(), -1) {}

void Model::on(Nanos t, std::uint64_t, const trace::Event& e) {
  auto slot = [&](MessageId id) -> Message& {
    if (messages_.size() < id) messages_.resize(id);
    return messages_[id - 1];
  };
  if (const auto* p = std::get_if<trace::Publish>(&e)) {
    Message& m = slot(p->msg);
    m.known = true;
    m.publisher = p->client;
    m.topic = p->topic;
    m.qos = p->qos;
    m.retain = p->retain;
    m.empty = p->empty;
    m.invoked = t;
    m.order = published_[p->client]++;
    m.expiry_s = p->expiry_s;
    // Its broker session may hold QoS 2 ids its crashed engine used: a new
    // message on such an id is taken for the old one [MQTT-4.1.0-1].
    m.amnesiac = resumed_amnesiac_[p->client] && p->qos == mqtt::QoS::exactly_once;
  } else if (const auto* d = std::get_if<trace::PublishDone>(&e)) {
    Message& m = slot(d->msg);
    m.done =
        d->outcome == client::Outcome::acknowledged ? Message::Done::ok : Message::Done::failed;
  } else if (const auto* cn = std::get_if<trace::Connecting>(&e)) {
    subscribers_[cn->client].connecting = true;
    // Its Will is known from the CONNECT on: the broker may publish it for
    // a connection whose CONNACK the client never read.
    if (cn->will != 0) {
      Message& m = slot(cn->will);
      m.known = true;
      m.will = true;
      m.publisher = cn->client;
      m.invoked = t;
    }
  } else if (const auto* c = std::get_if<trace::Connected>(&e)) {
    Subscriber& s = subscribers_[c->client];
    if (!c->resumed && s.connected_once) mark_resent(c->client);
    resumed_amnesiac_[c->client] = c->resumed && amnesiac_[c->client];
    if (resumed_amnesiac_[c->client]) {
      // What it queued since its crash goes out on that session too.
      for (Message& m : messages_) {
        if (m.known && !m.will && m.publisher == c->client && m.done == Message::Done::pending &&
            m.qos == mqtt::QoS::exactly_once)
          m.amnesiac = true;
      }
    }
    if (!c->resumed) amnesiac_[c->client] = false;
    if (!c->resumed) {
      // A new session: what the old one was owed is no longer owed, and
      // its subscriptions are gone until granted again.
      s.session_since = t;
      end_subscriptions(s, t);
    }
    s.connected_once = true;  // its Will (c->will) is known since its Connecting
  } else if (const auto* sub = std::get_if<trace::Subscribed>(&e)) {
    Subscriber& s = subscribers_[sub->client];
    for (Subscription& x : s.subscriptions) {
      if (x.filter != sub->filter || !x.active()) continue;
      // Subscribing again to a filter the session has replaces its options;
      // the subscription itself never stopped [MQTT-3.8.4-3].
      if (sub->refused) {
        x.until = t;
      } else {
        x.granted = sub->granted;
      }
      return;
    }
    if (sub->refused) return;
    Subscription x;
    x.filter = sub->filter;
    x.matches = sub->filter;
    x.granted = sub->granted;
    x.since = t;
    if (const auto shared = mqtt::parse_shared_filter(sub->filter)) {
      x.group = std::string(shared->share_name);
      x.matches = std::string(shared->filter);
    }
    s.subscriptions.push_back(std::move(x));
  } else if (std::holds_alternative<trace::BrokerCrash>(e)) {
    crashes_.push_back(t);
    if (mode_ == Durability::volatile_) {
      for (ClientIndex i = 0; i < subscribers_.size(); ++i)
        mark_resent(i);
      // Every session ends: nothing is owed until a new session subscribes.
      for (Subscriber& s : subscribers_) {
        s.session_since = t;
        end_subscriptions(s, t);
      }
    }
  } else if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
    if (cc->durable_store) return;  // its store has what it had not finished publishing
    // What it had not finished publishing went down with it, and if it
    // resumes its session it does so without its state.
    amnesiac_[cc->client] = true;
    last_amnesia_[cc->client] = t;
    for (Message& m : messages_) {
      if (m.known && !m.will && m.publisher == cc->client && m.done == Message::Done::pending) {
        m.orphaned = true;
      }
    }
  } else if (const auto* dr = std::get_if<trace::Dropped>(&e)) {
    dropped_.emplace((static_cast<std::uint64_t>(dr->client) << 40) | dr->msg, dr->why);
  } else if (std::holds_alternative<trace::Heal>(e)) {
    heal_ = t;
  }
}

std::optional<trace::Dropped::Why> Model::dropped(ClientIndex s, MessageId m) const {
  const auto it = dropped_.find((static_cast<std::uint64_t>(s) << 40) | m);
  if (it == dropped_.end()) return std::nullopt;
  return it->second;
}

bool Model::session_ended(ClientIndex c, Nanos after) const {
  return subscribers_[c].session_since > after;
}

std::vector<const Subscription*> Model::matching(ClientIndex s, const std::string& topic) const {
  std::vector<const Subscription*> out;
  for (const Subscription& x : subscribers_[s].subscriptions) {
    if (x.active() && mqtt::topic_matches(x.matches, topic)) out.push_back(&x);
  }
  return out;
}

bool Model::ever_matched(ClientIndex s, const std::string& topic) const {
  for (const Subscription& x : subscribers_[s].subscriptions) {
    if (mqtt::topic_matches(x.matches, topic)) return true;
  }
  // A SUBSCRIBE the broker took but whose SUBACK was lost with its
  // connection: the session has the subscription all the same. A
  // subscriber asks for its class's filters on every connection.
  if (!subscribers_[s].connected_once && !subscribers_[s].connecting) return false;
  for (const std::string& f : world_.filters(s)) {
    const auto shared = mqtt::parse_shared_filter(f);
    if (mqtt::topic_matches(shared ? std::string(shared->filter) : f, topic)) return true;
  }
  return false;
}

void Model::mark_resent(ClientIndex publisher) {
  for (Message& m : messages_) {
    if (m.known && !m.will && m.publisher == publisher && m.done == Message::Done::pending) {
      m.resent_as_new = true;
    }
  }
}

void Model::end_subscriptions(Subscriber& s, Nanos t) {
  for (Subscription& x : s.subscriptions) {
    if (x.active()) x.until = t;
  }
}

}  // namespace assay::sim::checkers
