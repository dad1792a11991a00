// Change callbacks (Change, ChangeHandle, Matchmaker.on_change) and C ABI plug-ins
// (load_plugin, loaded_plugins). A Python callback takes the GIL only while it runs; what it
// raises is logged and counted by the core and never leaves the call that made the change.
#include <memory>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/change.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/plugin.hpp"

namespace game_data::bindings {
namespace {

// A Python callable kept by the core: the last reference may go in any thread (a snapshot of
// the callbacks being called when it was removed), so it is released under the GIL.
struct PyCallback {
    py::object fn;
    explicit PyCallback(py::object f) : fn(std::move(f)) {}
    PyCallback(const PyCallback&) = delete;
    PyCallback& operator=(const PyCallback&) = delete;
    ~PyCallback() {
        if (!Py_IsInitialized()) {
            fn.release();  // the interpreter is gone: nothing left to release it to
            return;
        }
        py::gil_scoped_acquire gil;
        fn = py::object();
    }
};

ChangeCallback python_change_callback(py::object fn) {
    auto held = std::make_shared<PyCallback>(std::move(fn));
    return [held](const Change& change) {
        py::gil_scoped_acquire gil;
        try {
            held->fn(py::cast(change));
        } catch (py::error_already_set& e) {
            // Described here, under the GIL; the core logs and counts it.
            throw GameDataError(std::string("Python callback raised ") + e.what());
        }
    };
}

py::dict change_to_dict(const Change& c) {
    py::dict d;
    d["kind"] = std::string(to_string(c.kind));
    d["game_id"] = c.game_id;
    d["state"] = c.state ? py::object(py::str(std::string(to_string(*c.state)))) : py::none();
    d["event"] = c.event ? py::cast(*c.event).attr("to_dict")() : py::none();
    return d;
}

std::string change_repr(const Change& c) {
    return "Change(kind=" + py::repr(py::str(std::string(to_string(c.kind)))).cast<std::string>() +
           ", game_id=" + py::repr(py::str(c.game_id)).cast<std::string>() +
           ", state=" + py::repr(py::cast(c.state)).cast<std::string>() +
           ", event=" + py::repr(py::cast(c.event)).cast<std::string>() + ")";
}

py::tuple info_tuple(const PluginInfo& p) { return py::make_tuple(p.name, p.kind, p.source); }

}  // namespace

void register_plugins(py::module_& m) {
    py::class_<Change>(m, "Change", "A change committed through a Matchmaker, as on_change callbacks see it.")
        .def_property_readonly("kind", [](const Change& c) { return std::string(to_string(c.kind)); },
                               "'created', 'applied', 'reserved', 'reservation_cancelled' or 'reaped'.")
        .def_readonly("game_id", &Change::game_id)
        .def_property_readonly("state", [](const Change& c) { return c.state; },
                               "The game's state after the change (created, applied, reaped); None "
                               "for reservations.")
        .def_property_readonly("event", [](const Change& c) { return c.event; },
                               "A copy of the event applied (kind 'applied'), else None.")
        .def("to_dict", &change_to_dict, "A JSON-able dict; state as its wire name.")
        .def("__eq__", [](const Change& a, const Change& b) { return a == b; }, py::is_operator())
        .def("__repr__", &change_repr);

    py::class_<ChangeHandle>(m, "ChangeHandle", "Returned by Matchmaker.on_change.")
        .def("remove", &ChangeHandle::remove,
             "Unregister the callback. Idempotent; safe from inside any callback.")
        .def_property_readonly("active", &ChangeHandle::active, "True until remove().");

    auto matchmaker = py::reinterpret_borrow<py::class_<Matchmaker>>(m.attr("Matchmaker"));
    matchmaker.def(
        "on_change",
        [](Matchmaker& mm, py::object callback) {
            if (!PyCallable_Check(callback.ptr())) throw InvalidArgument("on_change needs a callable");
            return mm.on_change(python_change_callback(std::move(callback)));
        },
        py::arg("callback"),
        "Call callback(change) after every change committed through this matchmaker and the "
        "consumers made from it, in the thread that made it. What it raises is logged and counted "
        "(game_data_callback_errors_total), never raised from the call that made the change.");

    m.def("load_plugin",
          [](const StrArg& path) {
              const std::string& p = path.get("path");
              PluginInfo info;
              {
                  py::gil_scoped_release nogil;
                  info = load_plugin(p);
              }
              return info_tuple(info);
          },
          py::arg("path"), "Load a C ABI plug-in; -> (name, kind, source).");
    m.def("loaded_plugins", [] {
        py::list out;
        for (const auto& p : loaded_plugins()) out.append(info_tuple(p));
        return out;
    });
    m.def("load_env_plugins", [] {
        py::gil_scoped_release nogil;
        load_plugins_from_env();
    }, "Load the GAME_DATA_PLUGINS plug-ins now (connect does, once per process).");
    m.attr("PLUGIN_ABI_VERSION") = GAME_DATA_PLUGIN_ABI_VERSION;
}

}  // namespace game_data::bindings
