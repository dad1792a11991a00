// Facts the Python package reads from the core instead of keeping copies: the version, the
// default maximum ages of the sets, which set each state lives in, and the reason texts of
// apply results and seat refusals.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/lifecycle.hpp"
#include "game_data/reasons.hpp"
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
    // REASON_*: ApplyResult.reason and a dead letter's error; SEAT_*: SeatUnavailableError.reason.
    const std::pair<const char*, std::string_view> texts[] = {
        {"REASON_STATE_REACHED", reasons::kStateReached}, {"REASON_GAME_ENDED", reasons::kGameEnded},
        {"REASON_SEQ_APPLIED", reasons::kSeqApplied}, {"REASON_ALREADY_IN_GAME", reasons::kAlreadyInGame},
        {"REASON_ALREADY_HELD", reasons::kAlreadyHeld}, {"REASON_NOT_IN_GAME", reasons::kNotInGame},
        {"REASON_UNKNOWN_GAME", reasons::kUnknownGame}, {"REASON_GAME_REAPED", reasons::kGameReaped},
        {"REASON_WRONG_SERVER", reasons::kWrongServer}, {"REASON_NOT_CREATOR", reasons::kNotCreator},
        {"REASON_SEQ_TOO_OLD", reasons::kSeqTooOld}, {"REASON_GAME_FULL", reasons::kGameFull},
        {"REASON_HELD", reasons::kHeld}, {"REASON_STORAGE_REFUSED", reasons::kStorageRefused}, {"SEAT_NOT_OPEN", to_string(SeatRefusal::NotOpen)},
        {"SEAT_FULL", to_string(SeatRefusal::Full)},
        {"SEAT_ALREADY_JOINED", to_string(SeatRefusal::AlreadyJoined)},
        {"SEAT_RESERVED_ELSEWHERE", to_string(SeatRefusal::ReservedElsewhere)},
    };
    for (const auto& [name, text] : texts) m.attr(name) = std::string(text);
}

}  // namespace game_data::bindings
