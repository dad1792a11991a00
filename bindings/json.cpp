// JSON <-> Python conversion for game metadata, and the small argument helpers shared by the
// binding files. Metadata is plain JSON: anything else is refused with a ValueError.
#include <cmath>
#include <string>

#include "bindings.hpp"
#include "game_data/errors.hpp"

namespace game_data::bindings {
namespace {

// Deep enough for any sane document, shallow enough to stop self-referencing containers.
constexpr int kMaxDepth = 128;

std::string type_name(py::handle value) {
    return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}


nlohmann::json convert(py::handle value, std::string_view what, int depth) {
    if (depth > kMaxDepth) {
        throw InvalidArgument(std::string(what) + " is nested deeper than " +
                              std::to_string(kMaxDepth) + " levels");
    }
    if (value.is_none()) return nullptr;
    if (PyBool_Check(value.ptr())) return value.ptr() == Py_True;
    if (PyLong_Check(value.ptr())) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
        if (overflow == 0) {
            if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
            return static_cast<std::int64_t>(v);
        }
        if (overflow > 0) {
            const unsigned long long u = PyLong_AsUnsignedLongLong(value.ptr());
            if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) {
                return static_cast<std::uint64_t>(u);
            }
            PyErr_Clear();
        }
        throw InvalidArgument(std::string(what) + " holds an integer outside 64 bits");
    }
    if (PyFloat_Check(value.ptr())) {
        const double d = PyFloat_AsDouble(value.ptr());
        if (!std::isfinite(d)) {
            throw InvalidArgument(std::string(what) + " holds a non-finite float (" +
                                  py::repr(value).cast<std::string>() + ")");
        }
        return d;
    }
    if (PyUnicode_Check(value.ptr())) return to_utf8(value, what);
    if (PyDict_Check(value.ptr())) {
        nlohmann::json out = nlohmann::json::object();
        for (auto [k, v] : py::reinterpret_borrow<py::dict>(value)) {
            if (!PyUnicode_Check(k.ptr())) {
                throw InvalidArgument(std::string(what) + " keys must be str, got " + type_name(k));
            }
            out[to_utf8(k, what)] = convert(v, what, depth + 1);
        }
        return out;
    }
    if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
        nlohmann::json out = nlohmann::json::array();
        for (auto item : value) out.push_back(convert(item, what, depth + 1));
        return out;
    }
    throw InvalidArgument(std::string(what) + " must be JSON: dict, list, str, int, float, bool " +
                          "or None, got " + type_name(value));
}

}  // namespace

nlohmann::json py_to_json(py::handle value, std::string_view what) { return convert(value, what, 0); }

py::object json_to_py(const nlohmann::json& value) {
    using Type = nlohmann::json::value_t;
    switch (value.type()) {
        case Type::null:
        case Type::discarded: return py::none();
        case Type::boolean: return py::bool_(value.get<bool>());
        case Type::number_integer: return py::int_(value.get<std::int64_t>());
        case Type::number_unsigned: return py::int_(value.get<std::uint64_t>());
        case Type::number_float: return py::float_(value.get<double>());
        case Type::string: return py::str(value.get_ref<const std::string&>());
        case Type::binary: {
            const auto& bin = value.get_binary();
            return py::bytes(reinterpret_cast<const char*>(bin.data()), bin.size());
        }
        case Type::array: {
            py::list out;
            for (const auto& item : value) out.append(json_to_py(item));
            return out;
        }
        case Type::object: {
            py::dict out;
            for (const auto& [k, v] : value.items()) out[py::str(k)] = json_to_py(v);
            return out;
        }
    }
    return py::none();
}

std::int64_t int_arg(py::handle value, std::string_view what) {
    if (!PyLong_Check(value.ptr()) || PyBool_Check(value.ptr())) {
        throw InvalidArgument(std::string(what) + " must be an int, got " + type_name(value));
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow != 0) throw InvalidArgument(std::string(what) + " is out of range");
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return static_cast<std::int64_t>(v);
}

py::object python_class(const char* module, const char* name) {
    return py::module_::import(module).attr(name);
}

std::string to_utf8(py::handle text, std::string_view what) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
    if (data == nullptr) {
        PyErr_Clear();
        throw InvalidArgument(std::string(what) + " holds a string that is not valid UTF-8");
    }
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace game_data::bindings
