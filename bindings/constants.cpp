// Facts the Python package reads from the core instead of keeping copies: the version, the
// default maximum ages of the sets, and which set each state lives in.
#include <optional>
#include <string>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/types.hpp"
#include "game_data/version.hpp"

namespace game_data::bindings {

void register_constants(py::module_& m) {
    m.attr("__version__") = GAME_DATA_VERSION_STRING;
    const MaxAges defaults;
    py::dict ages;
    for (GameSet set : kAllSets) ages[py::str(std::string(to_string(set)))] = defaults.of(set);
    m.attr("DEFAULT_MAX_AGE_MS") = ages;
    m.def(
        "set_of",
        [](GameState state) -> std::optional<std::string> {
            const auto set = game_data::set_of(state);
            if (!set) return std::nullopt;
            return std::string(to_string(*set));
        },
        py::arg("state"), "The set ('pending', 'lobby', 'active') a game in `state` is in; None when ended.");
}

}  // namespace game_data::bindings
