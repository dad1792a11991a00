// Shared declarations of the _core bindings: one register_<area>() per file, wired by
// module.cpp, plus the conversions every area uses (JSON <-> Python, wire-name enums).
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "game_data/store.hpp"

namespace game_data::bindings {

namespace py = pybind11;

void register_errors(py::module_& m);
void register_types(py::module_& m);
void register_matchmaker(py::module_& m);
void register_streams(py::module_& m);
void register_constants(py::module_& m);

// JSON <-> Python (json.cpp). Python -> JSON accepts dict/list/tuple/str/int/float/bool/None
// (finite floats, str keys, bounded depth) and throws InvalidArgument naming `what` otherwise.
// Both need the GIL.
py::object json_to_py(const nlohmann::json& value);
nlohmann::json py_to_json(py::handle value, std::string_view what);

// A Python str as UTF-8; InvalidArgument naming `what` when it cannot be (lone surrogates).
std::string to_utf8(py::handle text, std::string_view what);

// A Python int (not bool) as int64; InvalidArgument naming `what` for anything else.
std::int64_t int_arg(py::handle value, std::string_view what);

// Stream entry fields <-> dict[str, str] (types.cpp). fields_arg also accepts a list of
// (name, value) pairs; InvalidArgument for anything but str values.
py::dict fields_to_py(const Fields& fields);
Fields fields_arg(py::handle src);

// A class of the pure-Python modules game_data.enums / game_data.errors, looked up through
// sys.modules on each call (cheap once imported; the GIL must be held).
py::object python_class(const char* module, const char* name);

}  // namespace game_data::bindings
