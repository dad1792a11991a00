// pybind11 type casters mapping the C++ wire enums to the standard Python enum.Enum classes
// of game_data.enums by wire name. Loading also accepts the wire string itself; an unknown
// name raises InvalidArgumentError (a ValueError). Also the casters of StrArg / IntArg
// (bindings.hpp). Include in every binding file that passes these types so all translation
// units see the same specialisations.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bindings.hpp"
#include "game_data/errors.hpp"
#include "game_data/types.hpp"

namespace game_data::bindings {

template <typename Enum>
struct WireEnum;

template <>
struct WireEnum<GameState> {
    static constexpr const char* python_name = "GameState";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.GameState");
    static std::optional<GameState> parse(std::string_view s) { return parse_game_state(s); }
};
template <>
struct WireEnum<EventType> {
    static constexpr const char* python_name = "EventType";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.EventType");
    static std::optional<EventType> parse(std::string_view s) { return parse_event_type(s); }
};
template <>
struct WireEnum<ApplyStatus> {
    static constexpr const char* python_name = "ApplyStatus";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.ApplyStatus");
    static std::optional<ApplyStatus> parse(std::string_view s) { return parse_apply_status(s); }
};

}  // namespace game_data::bindings

namespace pybind11::detail {

template <typename Enum>
struct wire_enum_caster {
    using Traits = game_data::bindings::WireEnum<Enum>;

    bool load(handle src, bool /*convert*/) {
        if (!src) return false;
        object cls = game_data::bindings::python_class("game_data.enums", Traits::python_name);
        object wire;
        if (isinstance(src, cls)) {
            wire = src.attr("value");
        } else if (isinstance<str>(src)) {
            wire = reinterpret_borrow<object>(src);
        } else {
            return false;
        }
        if (!isinstance<str>(wire)) return false;
        const std::string text = game_data::bindings::to_utf8(wire, Traits::python_name);
        auto parsed = Traits::parse(text);
        if (!parsed) {
            throw game_data::InvalidArgument(std::string("unknown ") + Traits::python_name +
                                             " '" + text + "'");
        }
        value = *parsed;
        return true;
    }

    static handle cast(Enum src, return_value_policy /*policy*/, handle /*parent*/) {
        object cls = game_data::bindings::python_class("game_data.enums", Traits::python_name);
        const auto wire = game_data::to_string(src);
        return cls(str(wire.data(), wire.size())).release();
    }

    PYBIND11_TYPE_CASTER(Enum, Traits::type_name);
};

// Accept any object and keep what is wrong with it for StrArg/IntArg::get(name) to report, so
// a bad argument is an InvalidArgumentError naming it, never pybind11's TypeError. Signatures
// show the same names as pybind11's own std::string / std::int64_t casters.
template <>
struct type_caster<game_data::bindings::StrArg> {
    bool load(handle src, bool /*convert*/) {
        if (!src) return false;
        value = game_data::bindings::StrArg::from(src);
        return true;
    }
    static handle cast(const game_data::bindings::StrArg& src, return_value_policy /*policy*/,
                       handle /*parent*/) {
        return str(src.value).release();
    }
    PYBIND11_TYPE_CASTER(game_data::bindings::StrArg, make_caster<std::string>::name);
};

template <>
struct type_caster<game_data::bindings::IntArg> {
    bool load(handle src, bool /*convert*/) {
        if (!src) return false;
        value = game_data::bindings::IntArg::from(src);
        return true;
    }
    static handle cast(const game_data::bindings::IntArg& src, return_value_policy /*policy*/,
                       handle /*parent*/) {
        return int_(src.value).release();
    }
    PYBIND11_TYPE_CASTER(game_data::bindings::IntArg, make_caster<std::int64_t>::name);
};

template <>
struct type_caster<game_data::GameState> : wire_enum_caster<game_data::GameState> {};
template <>
struct type_caster<game_data::EventType> : wire_enum_caster<game_data::EventType> {};
template <>
struct type_caster<game_data::ApplyStatus> : wire_enum_caster<game_data::ApplyStatus> {};

}  // namespace pybind11::detail
