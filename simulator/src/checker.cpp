#include "assay/sim/checker.hpp"

#include "checkers/checkers.hpp"

namespace assay::sim {

void Checker::find(std::string invariant, std::string statement, std::string detail, Nanos t,
                   std::uint64_t seq, bool liveness) {
  ++finding_count_;
  if (findings_.size() >= 20) return;
  findings_.push_back(Finding{name(), std::move(invariant), std::move(statement), std::move(detail),
                              t, seq, liveness});
}

namespace {

// Keeps the model first among the observers, and alive with the checkers.
class ModelHolder final : public Checker {
 public:
  ModelHolder(World& w, Durability mode) : Checker(w), model(w, mode) {}
  std::string name() const override { return "model"; }
  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override { model.on(t, seq, e); }
  checkers::Model model;
};

}  // namespace

std::vector<std::unique_ptr<Checker>> make_checkers(World& world, Durability mode) {
  std::vector<std::unique_ptr<Checker>> out;
  auto holder = std::make_unique<ModelHolder>(world, mode);
  const checkers::Model& m = holder->model;
  out.push_back(std::move(holder));
  out.push_back(checkers::make_delivery_checker(world, m));
  out.push_back(checkers::make_order_checker(world, m));
  out.push_back(checkers::make_will_checker(world, m));
  out.push_back(checkers::make_session_checker(world, m));
  out.push_back(checkers::make_protocol_checker(world, m));
  out.push_back(checkers::make_drain_checker(world, m));
  out.push_back(checkers::make_wire_checker(world, m));
  out.push_back(checkers::make_retained_checker(world, m));
  for (auto& c : out)
    world.add_observer(c.get());
  return out;
}

}  // namespace assay::sim
