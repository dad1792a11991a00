// JSON <-> Python conversion for game metadata, and the rules for str and int arguments shared
// by the binding files. Metadata is plain JSON: anything else is refused with a ValueError.
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "game_data/errors.hpp"

namespace game_data::bindings {
namespace {

std::string type_name(py::handle value) {
    return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

std::size_t decimal_digits(std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

std::string size_text(std::size_t bytes) {
    if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
    if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
    return std::to_string(bytes) + " bytes";
}

// One conversion: charges the serialised size of each value before converting it (a lower
// bound: floats count 1 byte, strings their unescaped length; the rest is exact), so it stops
// within max_bytes of work however many times the input repeats a shared container. Reads
// lists, tuples and dicts through the C API, which runs no Python code, so nothing can mutate
// the input meanwhile.
class ToJson {
public:
    ToJson(std::string_view what, std::size_t max_bytes, int max_depth)
        : what_(what), max_bytes_(max_bytes), max_depth_(max_depth) {}

    nlohmann::json convert(py::handle value) {
        PyObject* p = value.ptr();
        if (value.is_none()) {
            charge(4);  // null
            return nullptr;
        }
        if (PyBool_Check(p)) {
            charge(p == Py_True ? 4 : 5);  // true, false
            return p == Py_True;
        }
        if (PyLong_Check(p)) return convert_int(value);
        if (PyFloat_Check(p)) {
            const double d = PyFloat_AsDouble(p);
            if (!std::isfinite(d)) {
                throw InvalidArgument(what_ + " holds a non-finite float (" +
                                      py::repr(value).cast<std::string>() + ")");
            }
            charge(1);
            return d;
        }
        if (PyUnicode_Check(p)) return text(value);  // a std::string
        if (PyDict_Check(p)) {
            Open open(*this, value);
            nlohmann::json out = nlohmann::json::object();
            charge(2);  // {}
            for (auto [k, v] : py::reinterpret_borrow<py::dict>(value)) {
                if (!PyUnicode_Check(k.ptr())) {
                    throw InvalidArgument(what_ + " keys must be str, got " + type_name(k));
                }
                if (!out.empty()) charge(1);  // ,
                std::string key = text(k);
                charge(1);  // :
                out[std::move(key)] = convert(v);
            }
            return out;
        }
        if (PyList_Check(p) || PyTuple_Check(p)) {
            Open open(*this, value);
            nlohmann::json out = nlohmann::json::array();
            charge(2);  // []
            const bool list = PyList_Check(p);
            for (Py_ssize_t i = 0; i < (list ? PyList_GET_SIZE(p) : PyTuple_GET_SIZE(p)); ++i) {
                if (i > 0) charge(1);  // ,
                out.push_back(convert(list ? PyList_GET_ITEM(p, i) : PyTuple_GET_ITEM(p, i)));
            }
            return out;
        }
        throw InvalidArgument(what_ + " must be JSON: dict, list, str, int, float, bool " +
                              "or None, got " + type_name(value));
    }

private:
    // Marks a container as being converted: the path from the root, to refuse cycles and depth.
    class Open {
    public:
        Open(ToJson& self, py::handle container) : self_(self) {
            for (PyObject* ancestor : self.path_) {
                if (ancestor == container.ptr()) {
                    throw InvalidArgument(self.what_ + " holds a reference cycle (a container "
                                                       "inside itself)");
                }
            }
            if (static_cast<int>(self.path_.size()) >= self.max_depth_) {
                throw InvalidArgument(self.what_ + " is nested deeper than " +
                                      std::to_string(self.max_depth_) +
                                      (self.max_depth_ == 1 ? " level" : " levels"));
            }
            self.path_.push_back(container.ptr());
        }
        ~Open() { self_.path_.pop_back(); }
        Open(const Open&) = delete;
        Open& operator=(const Open&) = delete;

    private:
        ToJson& self_;
    };

    void charge(std::size_t bytes) {
        used_ += bytes;
        if (used_ > max_bytes_) {
            throw InvalidArgument(what_ + " is larger than " + size_text(max_bytes_) +
                                  " when serialised");
        }
    }

    std::string text(py::handle value) {
        std::string s = to_utf8(value, what_);
        charge(s.size() + 2);  // quotes; escapes only add
        return s;
    }

    nlohmann::json convert_int(py::handle value) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
        if (overflow == 0) {
            if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
            const auto magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
            charge(decimal_digits(magnitude) + (v < 0 ? 1 : 0));
            return static_cast<std::int64_t>(v);
        }
        if (overflow > 0) {
            const unsigned long long u = PyLong_AsUnsignedLongLong(value.ptr());
            if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) {
                charge(decimal_digits(u));
                return static_cast<std::uint64_t>(u);
            }
            PyErr_Clear();
        }
        throw InvalidArgument(what_ + " holds an integer outside 64 bits");
    }

    std::string what_;
    std::size_t max_bytes_;
    int max_depth_;
    std::size_t used_ = 0;
    std::vector<PyObject*> path_;
};

}  // namespace

nlohmann::json py_to_json(py::handle value, std::string_view what, std::size_t max_bytes,
                          int max_depth) {
    return ToJson(what, max_bytes, max_depth).convert(value);
}

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

py::object python_class(const char* module, const char* name) {
    return py::module_::import(module).attr(name);
}

// The rule for str arguments: str only, and encodable as UTF-8 (no lone surrogates).
StrArg StrArg::from(py::handle src) {
    StrArg out;
    if (!PyUnicode_Check(src.ptr())) {
        out.problem = "must be a str, got " + type_name(src);
        return out;
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(src.ptr(), &size);
    if (data == nullptr) {
        PyErr_Clear();
        out.problem = "holds a lone surrogate (such as '\\ud800'), which is not valid UTF-8";
        return out;
    }
    out.value.assign(data, static_cast<std::size_t>(size));
    return out;
}

// The rule for int arguments: int or an object with __index__, never bool or float, and it
// must fit int64 (every integer the library stores or passes on is int64).
IntArg IntArg::from(py::handle src) {
    IntArg out;
    PyObject* p = src.ptr();
    if (PyBool_Check(p) || PyFloat_Check(p) || !(PyLong_Check(p) || PyIndex_Check(p))) {
        out.problem = "must be an int, got " + type_name(src);
        return out;
    }
    py::object number = py::reinterpret_steal<py::object>(PyNumber_Index(p));
    if (!number) {
        PyErr_Clear();
        out.problem = "must be an int, got " + type_name(src);
        return out;
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
    if (overflow != 0) {
        out.problem = "is out of range: it must fit a signed 64-bit integer (-2**63 to 2**63-1)";
        return out;
    }
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    out.value = static_cast<std::int64_t>(v);
    return out;
}

const std::string& StrArg::get(std::string_view name) const {
    if (!problem.empty()) throw InvalidArgument(std::string(name) + " " + problem);
    return value;
}

std::int64_t IntArg::get(std::string_view name) const {
    if (!problem.empty()) throw InvalidArgument(std::string(name) + " " + problem);
    return value;
}

std::optional<std::string> get(const std::optional<StrArg>& arg, std::string_view name) {
    if (!arg) return std::nullopt;
    return arg->get(name);
}

std::optional<std::int64_t> get(const std::optional<IntArg>& arg, std::string_view name) {
    if (!arg) return std::nullopt;
    return arg->get(name);
}

std::vector<std::string> get(const std::vector<StrArg>& args, std::string_view name) {
    std::vector<std::string> out;
    out.reserve(args.size());
    for (const auto& a : args) out.push_back(a.get(name));
    return out;
}

std::string to_utf8(py::handle text, std::string_view what) {
    StrArg arg = StrArg::from(text);
    arg.get(what);
    return std::move(arg.value);
}

std::int64_t int_arg(py::handle value, std::string_view what) { return IntArg::from(value).get(what); }

}  // namespace game_data::bindings
