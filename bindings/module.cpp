// game_data._core: the private compiled module. Only wires the per-area registrations; the
// public API lives in the pure-Python package game_data.
#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/logging.hpp"

PYBIND11_MODULE(_core, m) {
    namespace gb = game_data::bindings;
    m.doc() = "Private compiled core of game_data; use the game_data package instead.";
    gb::register_errors(m);
    gb::register_types(m);
    gb::register_matchmaker(m);
    gb::register_streams(m);
    gb::register_reaped(m);
    gb::register_constants(m);
    gb::register_plugins(m);
    gb::register_observe(m);
    m.def("set_log_level", [](const gb::StrArg& level) { game_data::set_log_level(level.get("level")); },
          pybind11::arg("level"),
          "Level of the C++ 'game_data' spdlog logger: trace, debug, info, warn, error, off.");
}
