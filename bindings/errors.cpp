// One exception translator mapping every C++ game_data error, most derived first, to its
// mirror in game_data.errors (pure Python, so the hierarchy has builtin bases such as
// ValueError and KeyError). Never a bare RuntimeError.
#include <exception>

#include "bindings.hpp"
#include "game_data/errors.hpp"

namespace game_data::bindings {
namespace {

void raise(const char* name, const std::exception& e) {
    py::object cls = python_class("game_data.errors", name);
    PyErr_SetString(cls.ptr(), e.what());
}

}  // namespace

void register_errors(py::module_& /*m*/) {
    py::register_exception_translator([](std::exception_ptr p) {
        if (!p) return;
        try {
            std::rethrow_exception(p);
        } catch (const game_data::OutOfMemory& e) {
            raise("OutOfMemoryError", e);
        } catch (const game_data::BusyLoading& e) {
            raise("BusyLoadingError", e);
        } catch (const game_data::TimeoutError& e) {
            raise("BackendTimeoutError", e);
        } catch (const game_data::OutcomeUnknown& e) {
            raise("OutcomeUnknownError", e);
        } catch (const game_data::ConnectionError& e) {
            raise("BackendConnectionError", e);
        } catch (const game_data::GroupMissing& e) {
            raise("GroupMissingError", e);
        } catch (const game_data::ScriptMissing& e) {
            raise("ScriptMissingError", e);
        } catch (const game_data::ReplyError& e) {
            raise("ReplyError", e);
        } catch (const game_data::BackendError& e) {
            raise("BackendError", e);
        } catch (const game_data::GameExists& e) {
            raise("GameExistsError", e);
        } catch (const game_data::InvalidArgument& e) {
            raise("InvalidArgumentError", e);
        } catch (const game_data::GameNotFound& e) {
            raise("GameNotFoundError", e);
        } catch (const game_data::SeatUnavailable& e) {
            py::object cls = python_class("game_data.errors", "SeatUnavailableError");
            py::object err = cls(py::str(e.what()), py::str(e.reason()));
            PyErr_SetObject(cls.ptr(), err.ptr());
        } catch (const game_data::PluginError& e) {
            py::object cls = python_class("game_data.errors", "PluginError");
            py::object err = cls(py::str(e.what()), py::arg("path") = e.path());
            PyErr_SetObject(cls.ptr(), err.ptr());
        } catch (const game_data::Unsupported& e) {
            raise("UnsupportedError", e);
        } catch (const game_data::GameDataError& e) {
            raise("GameDataError", e);
        } catch (const nlohmann::json::exception& e) {
            // A JSON failure that escaped the library's own checks: still ours, never bare.
            raise("GameDataError", e);
        }
    });
}

}  // namespace game_data::bindings
