// The checkers' factories (one file each) and what they share.
#pragma once

#include <memory>

#include "model.hpp"

namespace assay::sim::checkers {

std::unique_ptr<Checker> make_delivery_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_order_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_will_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_session_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_protocol_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_drain_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_wire_checker(const World& w, const Model& m);
std::unique_ptr<Checker> make_retained_checker(const World& w, const Model& m);

}  // namespace assay::sim::checkers
