// Shared declarations of the _core bindings: one register_<area>() per file, wired by
// module.cpp, plus the conversions every area uses (JSON <-> Python, wire-name enums).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "game_data/json.hpp"
#include "game_data/store.hpp"

namespace game_data::bindings {

namespace py = pybind11;

void register_errors(py::module_& m);
void register_types(py::module_& m);
void register_matchmaker(py::module_& m);
void register_streams(py::module_& m);
void register_reaped(py::module_& m);
void register_constants(py::module_& m);
void register_plugins(py::module_& m);  // after register_matchmaker: adds Matchmaker.on_change
void register_observe(py::module_& m);  // after register_matchmaker

// JSON <-> Python (json.cpp). Python -> JSON accepts dict/list/tuple/str/int/float/bool/None
// (finite floats, str keys) and throws InvalidArgument naming `what` otherwise, and as soon as
// the document is certain to serialise to more than `max_bytes` (a running lower bound of the
// compact dump()), nests containers deeper than `max_depth`, or holds a reference cycle; so a
// small object of shared references costs at most ~max_bytes of work. Both need the GIL.
inline constexpr int kMaxJsonDepth = 64;
py::object json_to_py(const nlohmann::json& value);
nlohmann::json py_to_json(py::handle value, std::string_view what, std::size_t max_bytes,
                          int max_depth = kMaxJsonDepth);

// The one rule for each kind of scalar argument (json.cpp); InvalidArgument naming `what`:
// a str as UTF-8 (anything but str, and str with lone surrogates, refused);
std::string to_utf8(py::handle text, std::string_view what);
// an int (or __index__) that fits int64 (bool, float, and anything out of range refused).
std::int64_t int_arg(py::handle value, std::string_view what);

// Arguments declared as StrArg / IntArg (casters.hpp) accept any Python object, converted by
// the rules above when the call is dispatched; get(name) returns the value or throws
// InvalidArgument naming the argument. They hold no Python object, so a bound function may
// run without the GIL. Python sees them as str / int in signatures.
struct StrArg {
    std::string value;
    std::string problem;  // what is wrong, without the name; empty when value is valid
    static StrArg from(py::handle src);
    const std::string& get(std::string_view name) const;
};
struct IntArg {
    std::int64_t value = 0;
    std::string problem;
    static IntArg from(py::handle src);
    std::int64_t get(std::string_view name) const;
};
std::optional<std::string> get(const std::optional<StrArg>& arg, std::string_view name);
std::optional<std::int64_t> get(const std::optional<IntArg>& arg, std::string_view name);
std::vector<std::string> get(const std::vector<StrArg>& args, std::string_view name);

// Stream entry fields <-> dict[str, str] (types.cpp). fields_arg also accepts a list of
// (name, value) pairs; InvalidArgument for anything but str values.
py::dict fields_to_py(const Fields& fields);
Fields fields_arg(py::handle src);

// A class of the pure-Python modules game_data.enums / game_data.errors, looked up through
// sys.modules on each call (cheap once imported; the GIL must be held).
py::object python_class(const char* module, const char* name);

}  // namespace game_data::bindings
