// Typed exceptions of game_data. Every error the library raises derives from GameDataError;
// hiredis and Redis failures are mapped to these at the backend boundary, never leaked raw.
#pragma once

#include <stdexcept>
#include <string>

namespace game_data {

class GameDataError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bad input from the caller (ids, capacity, metadata, URLs, options). Python: ValueError.
class InvalidArgument : public GameDataError {
public:
    using GameDataError::GameDataError;
};

// A game id that must exist does not. Python: KeyError.
class GameNotFound : public GameDataError {
public:
    using GameDataError::GameDataError;
};

// A game id that must be new is already taken. Python: ValueError.
class GameExists : public InvalidArgument {
public:
    using InvalidArgument::InvalidArgument;
};

// The backend failed in a way that is not the caller's input.
class BackendError : public GameDataError {
public:
    using GameDataError::GameDataError;
};

// The backend cannot be reached or the connection broke. Python: ConnectionError.
class ConnectionError : public BackendError {
public:
    using BackendError::BackendError;
};

// The connection broke after the command was sent: it may or may not have been applied.
// Re-applying the same event is safe because transitions are idempotent.
class OutcomeUnknown : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

// The backend did not answer in time. Python: TimeoutError.
class TimeoutError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

// Redis is still loading its data after a restart (LOADING) and refused the command unrun.
// A ConnectionError: the server is not usable yet, and retrying later is safe.
class BusyLoading : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

// Redis is out of memory (OOM under maxmemory with a noeviction policy) and refused the
// command unrun: nothing was written (a script is refused before its first write). A
// ConnectionError rather than a ReplyError because what callers must do is the same as for a
// lost server: wait and retry the same call, which is safe; nothing is wrong with the input.
// So every loop that rides out a lost backend (Consumer::run, run_loop) rides this out too.
class OutOfMemory : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

// The backend answered with an error (a Redis error reply, a broken script). Python: GameDataError.
class ReplyError : public BackendError {
public:
    using BackendError::BackendError;
};

// reserve_seat refused: reason() is "not open", "full" or "already joined".
class SeatUnavailable : public GameDataError {
public:
    SeatUnavailable(std::string reason, const std::string& message)
        : GameDataError(message), reason_(std::move(reason)) {}
    const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

// The consumer group, or the stream it was on, does not exist (NOGROUP; UNBLOCKED when the
// stream was deleted under a blocked read). Python: LookupError.
class GroupMissing : public ReplyError {
public:
    using ReplyError::ReplyError;
};

// A script is not in the server's script cache (NOSCRIPT): it did not run. Python: LookupError.
class ScriptMissing : public ReplyError {
public:
    using ReplyError::ReplyError;
};

// A feature this build cannot provide (for example rediss:// without hiredis SSL).
class Unsupported : public GameDataError {
public:
    using GameDataError::GameDataError;
};

// A plug-in could not be loaded (plugin.hpp): no such file, a missing symbol, another plug-in
// ABI, or a refusal. path() is the plug-in's path as given. Python: PluginError (an ImportError).
class PluginError : public GameDataError {
public:
    PluginError(std::string path, const std::string& message)
        : GameDataError(message), path_(std::move(path)) {}
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// The labels of backend failures in game_data_backend_errors_total{kind=...}, as
// backend_error_kind names them.
inline constexpr const char* kBackendErrorKinds[] = {"oom", "loading", "timeout", "outcome_unknown",
                                                     "connection", "group_missing", "script_missing",
                                                     "reply", "backend"};

// The label of a backend failure in game_data_backend_errors_total{kind=...}: one of
// kBackendErrorKinds.
inline const char* backend_error_kind(const BackendError& e) noexcept {
    if (dynamic_cast<const OutOfMemory*>(&e)) return "oom";
    if (dynamic_cast<const BusyLoading*>(&e)) return "loading";
    if (dynamic_cast<const TimeoutError*>(&e)) return "timeout";
    if (dynamic_cast<const OutcomeUnknown*>(&e)) return "outcome_unknown";
    if (dynamic_cast<const ConnectionError*>(&e)) return "connection";
    if (dynamic_cast<const GroupMissing*>(&e)) return "group_missing";
    if (dynamic_cast<const ScriptMissing*>(&e)) return "script_missing";
    if (dynamic_cast<const ReplyError*>(&e)) return "reply";
    return "backend";
}

}  // namespace game_data
