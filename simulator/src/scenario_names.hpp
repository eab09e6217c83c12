// The names a scenario file gives to kinds, stores and planted bugs: one
// table each, read by scenario_json.cpp and written by scenario_write.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "assay/sim/scenario.hpp"

namespace assay::sim::scenario_detail {

template <class E>
struct Named {
  std::string_view name;
  E value;
};

template <class E, std::size_t N>
std::string_view name_of(const Named<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

inline constexpr Named<Process::Kind> process_kinds[] = {
    {"fixed", Process::Kind::fixed},     {"uniform", Process::Kind::uniform},
    {"normal", Process::Kind::normal},   {"exponential", Process::Kind::exponential},
    {"poisson", Process::Kind::poisson}, {"bursts", Process::Kind::bursts}};

inline constexpr Named<Values::Kind> value_kinds[] = {{"constant", Values::Kind::constant},
                                                      {"random_walk", Values::Kind::random_walk},
                                                      {"sine", Values::Kind::sine},
                                                      {"csv", Values::Kind::csv}};

inline constexpr Named<Stage::Kind> stage_kinds[] = {
    {"ramp_up", Stage::Kind::ramp_up},
    {"steady", Stage::Kind::steady},
    {"reconnect_storm", Stage::Kind::reconnect_storm},
    {"broker_crash", Stage::Kind::broker_crash},
    {"partition", Stage::Kind::partition},
    {"degrade", Stage::Kind::degrade},
    {"slow_consumer", Stage::Kind::slow_consumer},
    {"client_crash", Stage::Kind::client_crash},
    {"leave", Stage::Kind::leave}};

enum class Store : std::uint8_t { none, durable };
inline constexpr Named<Store> store_kinds[]{{"none", Store::none}, {"durable", Store::durable}};

// Test only: the bugs that can be planted to show the checkers find them
// (docs/simulator.md, "Planted bugs").
inline constexpr Named<broker::PlantedBug> broker_bugs[]{
    {"none", broker::PlantedBug::none},
    {"lose_qos2_after_pubrec", broker::PlantedBug::lose_qos2_after_pubrec},
    {"will_on_normal_disconnect", broker::PlantedBug::will_on_normal_disconnect},
    {"drop_session_on_takeover", broker::PlantedBug::drop_session_on_takeover},
    {"retained_without_retain_flag", broker::PlantedBug::retained_without_retain_flag},
    {"forget_inflight_on_resume", broker::PlantedBug::forget_inflight_on_resume},
    {"reorder_queue", broker::PlantedBug::reorder_queue},
    {"ack_before_store", broker::PlantedBug::ack_before_store},
};
inline constexpr Named<client::PlantedBug> client_bugs[]{
    {"none", client::PlantedBug::none},
    {"resend_without_dup", client::PlantedBug::resend_without_dup},
    {"forget_inflight_on_resume", client::PlantedBug::forget_inflight_on_resume},
};

}  // namespace assay::sim::scenario_detail
