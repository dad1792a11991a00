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

// A feature this build cannot provide (for example rediss:// without hiredis SSL).
class Unsupported : public GameDataError {
public:
    using GameDataError::GameDataError;
};

}  // namespace game_data
