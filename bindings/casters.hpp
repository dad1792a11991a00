// pybind11 type casters mapping the C++ wire enums to the standard Python enum.Enum classes
// of game_data.enums by wire name. Loading also accepts the wire string itself; an unknown
// name raises InvalidArgumentError (a ValueError). Also the casters of StrArg / IntArg
// (bindings.hpp) and of ApplyResult (a plain CPython type, types.cpp). Include in every binding
// file that passes these types so all translation units see the same specialisations.
#pragma once

#include <array>
#include <cstddef>
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
    static constexpr std::size_t count = std::size(kAllStates);
    static constexpr const char* python_name = "GameState";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.GameState");
    static std::optional<GameState> parse(std::string_view s) { return parse_game_state(s); }
};
template <>
struct WireEnum<EventType> {
    static constexpr std::size_t count = std::size(kAllEventTypes);
    static constexpr const char* python_name = "EventType";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.EventType");
    static std::optional<EventType> parse(std::string_view s) { return parse_event_type(s); }
};
template <>
struct WireEnum<ApplyStatus> {
    static constexpr std::size_t count = 3;  // applied, duplicate, rejected
    static constexpr const char* python_name = "ApplyStatus";
    static constexpr auto type_name = pybind11::detail::const_name("game_data.ApplyStatus");
    static std::optional<ApplyStatus> parse(std::string_view s) { return parse_apply_status(s); }
};

// The enum.Enum class of game_data.enums for Enum, and its member for each value: looked up on
// first use and kept for the life of the process (an Enum call costs about a microsecond, and
// results are converted by the thousand). The GIL must be held. No function-local static
// guards a lookup: an import may release the GIL, and a second thread would then wait on the
// guard while holding it; two threads racing here store the same objects.
template <typename Enum>
struct WireEnumCache {
    using Traits = WireEnum<Enum>;
    static inline PyObject* cls_ = nullptr;
    static inline std::array<PyObject*, Traits::count> members_{};

    static py::handle cls() {
        if (cls_ == nullptr) cls_ = python_class("game_data.enums", Traits::python_name).release().ptr();
        return cls_;
    }
    static py::handle member(Enum value) {
        PyObject*& slot = members_.at(static_cast<std::size_t>(value));
        if (slot == nullptr) {
            const auto wire = to_string(value);
            slot = cls()(py::str(wire.data(), wire.size())).release().ptr();
        }
        return slot;
    }
};

// ApplyResult as a plain CPython type (types.cpp), not a pybind11 class: a pybind11 instance
// costs a lookup and an insert in pybind11's registry of live instances when made and an erase
// when freed, the larger part of a memory:// apply from Python. The same Python API.
PyObject* apply_result_to_py(ApplyResult&& result);  // a new reference; nullptr with an error set
const ApplyResult* apply_result_from_py(PyObject* object);  // nullptr if not an ApplyResult

}  // namespace game_data::bindings

namespace pybind11::detail {

template <typename Enum>
struct wire_enum_caster {
    using Traits = game_data::bindings::WireEnum<Enum>;
    using Cache = game_data::bindings::WireEnumCache<Enum>;

    bool load(handle src, bool /*convert*/) {
        if (!src) return false;
        handle cls = Cache::cls();
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
        return Cache::member(src).inc_ref();
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

template <>
struct type_caster<game_data::ApplyResult> {
    bool load(handle src, bool /*convert*/) {
        const game_data::ApplyResult* result = game_data::bindings::apply_result_from_py(src.ptr());
        if (result == nullptr) return false;
        value = *result;
        return true;
    }
    static handle cast(game_data::ApplyResult&& src, return_value_policy /*policy*/, handle /*parent*/) {
        return game_data::bindings::apply_result_to_py(std::move(src));
    }
    static handle cast(const game_data::ApplyResult& src, return_value_policy /*policy*/,
                       handle /*parent*/) {
        return game_data::bindings::apply_result_to_py(game_data::ApplyResult(src));
    }
    PYBIND11_TYPE_CASTER(game_data::ApplyResult, const_name("game_data.ApplyResult"));
};

}  // namespace pybind11::detail
