// Value types: Game, Event and ApplyResult. Plain copies of the C++ values; mutating a
// returned list or dict (players, metadata) never changes stored data.
#include <cstdint>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/validation.hpp"

namespace game_data::bindings {
namespace {

std::string repr_str(std::string_view s) { return py::repr(py::str(s.data(), s.size())).cast<std::string>(); }

py::dict game_to_dict(const Game& g) {
    nlohmann::json j = g;
    return json_to_py(j).cast<py::dict>();
}

// Bounds of one non-metadata field of a game document (metadata has its own 16 KiB): a list
// of player ids or a dict of player seqs, so flat, and far larger than any real roster.
constexpr std::size_t kMaxGameFieldBytes = 4 * 1024 * 1024;
constexpr int kMaxGameFieldDepth = 1;

// Every integer of a game's own fields is int64; JSON also holds uint64, which would wrap.
void refuse_unsigned_above_int64(const nlohmann::json& value, const std::string& field) {
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t{INT64_MAX}) {
        throw InvalidArgument(field + " is out of range: it must fit a signed 64-bit integer "
                                      "(-2**63 to 2**63-1)");
    }
    if (value.is_structured()) {
        for (const auto& item : value) refuse_unsigned_above_int64(item, field);
    }
}

Game game_from_dict(py::handle d) {
    if (!PyDict_Check(d.ptr())) throw InvalidArgument("a game document must be a dict");
    nlohmann::json doc = nlohmann::json::object();
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(d)) {
        std::string key = to_utf8(k, "a game document key");
        if (key == "metadata") {
            doc[key] = py_to_json(v, "metadata", kMaxMetadataBytes);
        } else if (key == "capacity") {
            const std::int64_t capacity = int_arg(v, "capacity");
            validate_capacity(capacity);  // before from_json narrows it to int32
            doc[key] = capacity;
        } else {
            // `held` is a list of (player, seq) pairs; every other field is flat.
            doc[key] = py_to_json(v, key, kMaxGameFieldBytes, key == "held" ? 2 : kMaxGameFieldDepth);
            refuse_unsigned_above_int64(doc[key], key);
        }
    }
    Game g;
    from_json(doc, g);
    for (const auto& p : g.players) validate_id("player_id", p);
    for (const auto& [p, seq] : g.player_seqs) {
        validate_id("player_id", p);
        if (seq < 0) throw InvalidArgument("game document: a player seq is negative");
    }
    for (const auto& [p, expires_at] : g.reservations) {
        validate_id("player_id", p);
        if (expires_at < 0) throw InvalidArgument("game document: a reservation expiry is negative");
    }
    for (const auto& [p, seq] : g.held) {
        validate_id("player_id", p);
        if (seq < 0) throw InvalidArgument("game document: a held seq is negative");
    }
    return g;
}

std::string game_repr(const Game& g) {
    std::string players;
    for (const auto& p : g.players) players += (players.empty() ? "" : ", ") + repr_str(p);
    return "Game(id=" + repr_str(g.id) + ", state=" + std::string(to_string(g.state)) +
           ", creator_id=" + repr_str(g.creator_id) + ", capacity=" + std::to_string(g.capacity) +
           ", server_id=" + repr_str(g.server_id) + ", players=[" + players + "])";
}

std::string event_repr(const Event& e) {
    std::string out = "Event(type=" + std::string(to_string(e.type)) + ", game_id=" + repr_str(e.game_id) +
                      ", server_id=" + repr_str(e.server_id);
    if (e.player_id) out += ", player_id=" + repr_str(*e.player_id);
    if (e.ts) out += ", ts=" + std::to_string(*e.ts);
    if (e.seq) out += ", seq=" + std::to_string(*e.seq);
    return out + ")";
}

py::dict result_to_dict(const ApplyResult& r) {
    py::dict d;
    d["status"] = py::str(std::string(to_string(r.status)));
    d["reason"] = r.reason;
    d["game_id"] = r.game_id;
    d["state"] = r.state ? py::object(py::str(std::string(to_string(*r.state)))) : py::none();
    d["entry_id"] = r.entry_id;
    return d;
}

std::string result_repr(const ApplyResult& r) {
    std::string out = "ApplyResult(status=" + std::string(to_string(r.status)) +
                      ", game_id=" + repr_str(r.game_id) +
                      ", state=" + (r.state ? std::string(to_string(*r.state)) : "None");
    if (!r.reason.empty()) out += ", reason=" + repr_str(r.reason);
    if (!r.entry_id.empty()) out += ", entry_id=" + repr_str(r.entry_id);
    return out + ")";
}

Event make_event(EventType type, const StrArg& game_id, const StrArg& server_id,
                 const std::optional<StrArg>& player_id, const std::optional<IntArg>& ts,
                 const std::optional<IntArg>& seq) {
    return Event{type, game_id.get("game_id"), server_id.get("server_id"), get(player_id, "player_id"),
                 get(ts, "ts"), get(seq, "seq")};
}

std::optional<StrArg> optional_str(py::handle v) {
    return v.is_none() ? std::nullopt : std::optional<StrArg>(StrArg::from(v));
}

std::optional<IntArg> optional_int(py::handle v) {
    return v.is_none() ? std::nullopt : std::optional<IntArg>(IntArg::from(v));
}

ApplyResult make_apply_result(ApplyStatus status, const StrArg& game_id, std::optional<GameState> state,
                              const StrArg& reason, const StrArg& entry_id) {
    return ApplyResult{status, reason.get("reason"), game_id.get("game_id"), state, entry_id.get("entry_id")};
}

// ApplyResult as a plain CPython type (see casters.hpp): the C++ value inside the object.
// Attributes, equality and allocation are CPython slots; the constructor, pickling, to_dict
// and repr are pybind11 functions set on the type, so they parse and report errors as the
// other classes do.
struct PyApplyResult {
    PyObject_HEAD
    ApplyResult value;
};

PyTypeObject* apply_result_type = nullptr;  // made once by register_types; never freed

ApplyResult& value_of(PyObject* self) { return reinterpret_cast<PyApplyResult*>(self)->value; }

PyObject* apply_result_new(PyTypeObject* type, PyObject* /*args*/, PyObject* /*kwargs*/) {
    PyObject* self = type->tp_alloc(type, 0);
    if (self != nullptr) new (&value_of(self)) ApplyResult();
    return self;
}

void apply_result_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    value_of(self).~ApplyResult();
    type->tp_free(self);
    Py_DECREF(type);  // instances of a heap type hold a reference to it
}

PyObject* new_str(const std::string& s) {
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr);
}

// Runs `make` (which may throw as pybind11 code does) inside a CPython slot.
template <typename Make>
PyObject* slot_result(Make&& make) noexcept {
    try {
        return make();
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

PyObject* get_status(PyObject* self, void* /*closure*/) {
    return slot_result([&] { return WireEnumCache<ApplyStatus>::member(value_of(self).status).inc_ref().ptr(); });
}
PyObject* get_state(PyObject* self, void* /*closure*/) {
    return slot_result([&] {
        const auto& state = value_of(self).state;
        return (state ? WireEnumCache<GameState>::member(*state) : py::handle(Py_None)).inc_ref().ptr();
    });
}
PyObject* get_reason(PyObject* self, void* /*closure*/) { return new_str(value_of(self).reason); }
PyObject* get_game_id(PyObject* self, void* /*closure*/) { return new_str(value_of(self).game_id); }
PyObject* get_entry_id(PyObject* self, void* /*closure*/) { return new_str(value_of(self).entry_id); }

PyGetSetDef apply_result_getset[] = {
    {"status", get_status, nullptr, nullptr, nullptr},
    {"reason", get_reason, nullptr, nullptr, nullptr},
    {"game_id", get_game_id, nullptr, nullptr, nullptr},
    {"state", get_state, nullptr, nullptr, nullptr},
    {"entry_id", get_entry_id, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// == and != between results; anything else is NotImplemented (as a pybind11 __eq__ is).
PyObject* apply_result_richcompare(PyObject* a, PyObject* b, int op) {
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(a, apply_result_type) ||
        !PyObject_TypeCheck(b, apply_result_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    const bool equal = value_of(a) == value_of(b);
    return PyBool_FromLong((op == Py_EQ) == equal ? 1 : 0);
}

ApplyResult& self_result(py::handle self) {
    if (!PyObject_TypeCheck(self.ptr(), apply_result_type)) throw py::type_error("expected an ApplyResult");
    return value_of(self.ptr());
}

void register_apply_result(py::module_& m) {
    static PyType_Slot slots[] = {
        {Py_tp_new, reinterpret_cast<void*>(apply_result_new)},
        {Py_tp_dealloc, reinterpret_cast<void*>(apply_result_dealloc)},
        {Py_tp_getset, apply_result_getset},
        {Py_tp_richcompare, reinterpret_cast<void*>(apply_result_richcompare)},
        {Py_tp_hash, reinterpret_cast<void*>(PyObject_HashNotImplemented)},
        {Py_tp_doc, const_cast<char*>("The outcome of applying one event.")},
        {0, nullptr},
    };
    static PyType_Spec spec = {"game_data._core.ApplyResult", static_cast<int>(sizeof(PyApplyResult)), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, slots};
    auto cls = py::reinterpret_steal<py::object>(PyType_FromSpec(&spec));
    if (!cls) throw py::error_already_set();
    apply_result_type = reinterpret_cast<PyTypeObject*>(cls.inc_ref().ptr());
    // pybind11 takes functions named __init__ or __setstate__ for its own constructors, so those
    // two carry a qualified name.
    auto method = [&](const char* attr, const char* name, auto&& f, auto&&... extra) {
        cls.attr(attr) = py::cpp_function(std::forward<decltype(f)>(f), py::name(name), py::is_method(cls),
                                          std::forward<decltype(extra)>(extra)...);
    };
    method("__init__", "ApplyResult.__init__",
           [](py::handle self, ApplyStatus status, const StrArg& game_id, std::optional<GameState> state,
              const StrArg& reason, const StrArg& entry_id) {
               self_result(self) = make_apply_result(status, game_id, state, reason, entry_id);
           },
           py::kw_only(), py::arg("status"), py::arg("game_id") = "", py::arg("state") = py::none(),
           py::arg("reason") = "", py::arg("entry_id") = "");
    method("to_dict", "to_dict", [](py::handle self) { return result_to_dict(self_result(self)); });
    method("__repr__", "__repr__", [](py::handle self) { return result_repr(self_result(self)); });
    method("__getstate__", "__getstate__", [](py::handle self) { return result_to_dict(self_result(self)); });
    method("__setstate__", "ApplyResult.__setstate__", [](py::handle self, const py::dict& d) {
        self_result(self) = make_apply_result(d["status"].cast<ApplyStatus>(), StrArg::from(d["game_id"]),
                                              d["state"].cast<std::optional<GameState>>(),
                                              StrArg::from(d["reason"]), StrArg::from(d["entry_id"]));
    });
    m.add_object("ApplyResult", cls);
}

Fields fields_from_py(py::handle src) {
    Fields fields;
    auto add = [&](py::handle k, py::handle v) {
        if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr())) {
            throw InvalidArgument("stream entry fields must be str -> str");
        }
        fields.emplace_back(to_utf8(k, "stream entry field name"), to_utf8(v, "stream entry field value"));
    };
    if (PyDict_Check(src.ptr())) {
        for (auto [k, v] : py::reinterpret_borrow<py::dict>(src)) add(k, v);
    } else if (PyList_Check(src.ptr()) || PyTuple_Check(src.ptr())) {
        for (auto item : src) {
            auto pair = py::reinterpret_borrow<py::object>(item);
            if (!PyTuple_Check(pair.ptr()) && !PyList_Check(pair.ptr())) {
                throw InvalidArgument("stream entry fields must be (name, value) pairs");
            }
            if (py::len(pair) != 2) throw InvalidArgument("stream entry fields must be (name, value) pairs");
            add(pair[py::int_(0)], pair[py::int_(1)]);
        }
    } else {
        throw InvalidArgument("stream entry fields must be a dict or a list of (name, value) pairs");
    }
    return fields;
}

}  // namespace

PyObject* apply_result_to_py(ApplyResult&& result) {
    PyObject* self = apply_result_type->tp_alloc(apply_result_type, 0);
    if (self != nullptr) new (&value_of(self)) ApplyResult(std::move(result));
    return self;
}

const ApplyResult* apply_result_from_py(PyObject* object) {
    return PyObject_TypeCheck(object, apply_result_type) ? &value_of(object) : nullptr;
}

// Entries may hold any bytes (dead letters keep them as published): bytes that are not UTF-8
// come back as lone surrogates (errors="surrogateescape"), so nothing is lost or refused.
py::dict fields_to_py(const Fields& fields) {
    auto decode = [](const std::string& s) {
        PyObject* text = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
        if (text == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::str>(text);
    };
    py::dict d;
    for (const auto& [k, v] : fields) d[decode(k)] = decode(v);
    return d;
}

Fields fields_arg(py::handle src) { return fields_from_py(src); }

void register_types(py::module_& m) {
    py::class_<Game>(m, "Game", "The matchmaker's record of one game (a copy; read-only).")
        .def(py::init([](const StrArg& id, GameState state, const StrArg& creator_id,
                         py::object capacity, const StrArg& server_id,
                         const std::vector<StrArg>& players, py::object metadata,
                         const IntArg& created_at, const IntArg& updated_at, const IntArg& last_seq,
                         py::object player_seqs, py::object held, const IntArg& seq_floor,
                         bool creator_seen, py::object reservations) {
                 py::dict d;
                 d["id"] = id.get("id");
                 d["state"] = std::string(to_string(state));
                 d["creator_id"] = creator_id.get("creator_id");
                 d["capacity"] = int_arg(capacity, "capacity");
                 d["server_id"] = server_id.get("server_id");
                 d["players"] = get(players, "players");
                 d["metadata"] = metadata.is_none() ? py::dict() : metadata;
                 d["created_at"] = created_at.get("created_at");
                 d["updated_at"] = updated_at.get("updated_at");
                 d["last_seq"] = last_seq.get("last_seq");
                 if (!player_seqs.is_none()) d["player_seqs"] = player_seqs;
                 if (!held.is_none()) d["held"] = held;
                 d["seq_floor"] = seq_floor.get("seq_floor");
                 d["creator_seen"] = creator_seen;
                 if (!reservations.is_none()) d["reservations"] = reservations;
                 return game_from_dict(d);
             }),
             py::kw_only(), py::arg("id"), py::arg("state"), py::arg("creator_id"),
             py::arg("capacity"), py::arg("server_id"), py::arg("players") = py::list(),
             py::arg("metadata") = py::none(), py::arg("created_at") = 0, py::arg("updated_at") = 0,
             py::arg("last_seq") = 0, py::arg("player_seqs") = py::none(),
             py::arg("held") = py::none(), py::arg("seq_floor") = 0, py::arg("creator_seen") = false,
             py::arg("reservations") = py::none())
        .def_readonly("id", &Game::id)
        .def_readonly("state", &Game::state)
        .def_readonly("creator_id", &Game::creator_id)
        .def_readonly("capacity", &Game::capacity)
        .def_readonly("server_id", &Game::server_id)
        .def_property_readonly("players", [](const Game& g) { return py::cast(g.players); },
                               "Player ids in join order (a new list on every access).")
        .def_property_readonly("metadata", [](const Game& g) { return json_to_py(json_of(g.metadata)); },
                               "The game's metadata (a new dict on every access).")
        .def_readonly("created_at", &Game::created_at)
        .def_readonly("updated_at", &Game::updated_at)
        .def_readonly("last_seq", &Game::last_seq)
        .def_property_readonly("player_seqs", [](const Game& g) { return py::cast(g.player_seqs); },
                               "Player id -> seq of the latest roster event applied for that "
                               "player (kept after the player leaves; empty without seqs). A new "
                               "dict on every access.")
        .def_property_readonly("held", [](const Game& g) { return py::cast(g.held); },
                               "Joins that found the game full, as (player id, seq or 0), seated "
                               "when a seat frees (a new list on every access).")
        .def_readonly("seq_floor", &Game::seq_floor,
                      "Roster events of unknown players at or below this seq are refused as too old.")
        .def_readonly("creator_seen", &Game::creator_seen)
        .def_property_readonly("reservations", [](const Game& g) { return py::cast(g.reservations); },
                               "Player id -> expires_at (ms) of the live seat reservations (a new "
                               "dict on every access).")
        .def_property_readonly("free_seats", &Game::free_seats)
        .def_property_readonly("is_open", &Game::is_open)
        .def("to_dict", &game_to_dict, "A JSON-able dict; state as its wire name.")
        .def_static("from_dict", [](py::dict d) { return game_from_dict(d); }, py::arg("data"),
                    "Inverse of to_dict(); validates every field.")
        .def("__eq__", [](const Game& a, const Game& b) { return a == b; }, py::is_operator())
        .def("__repr__", &game_repr)
        .def(py::pickle([](const Game& g) { return game_to_dict(g); },
                        [](py::dict d) { return game_from_dict(d); }));

    py::class_<Event>(m, "Event", "One event from a game server (SPEC section 3).")
        .def(py::init(&make_event), py::arg("type"), py::arg("game_id"), py::arg("server_id"),
             py::arg("player_id") = py::none(), py::arg("ts") = py::none(), py::arg("seq") = py::none())
        .def_readwrite("type", &Event::type)
        .def_property("game_id", [](const Event& e) { return e.game_id; },
                      [](Event& e, const StrArg& v) { e.game_id = v.get("game_id"); })
        .def_property("server_id", [](const Event& e) { return e.server_id; },
                      [](Event& e, const StrArg& v) { e.server_id = v.get("server_id"); })
        .def_property("player_id", [](const Event& e) { return e.player_id; },
                      [](Event& e, const std::optional<StrArg>& v) { e.player_id = get(v, "player_id"); })
        .def_property("ts", [](const Event& e) { return e.ts; },
                      [](Event& e, const std::optional<IntArg>& v) { e.ts = get(v, "ts"); })
        .def_property("seq", [](const Event& e) { return e.seq; },
                      [](Event& e, const std::optional<IntArg>& v) { e.seq = get(v, "seq"); })
        .def("to_dict", [](const Event& e) { nlohmann::json j = e; return json_to_py(j); })
        .def("to_fields",
             [](const Event& e) {
                 validate_event(e);
                 return fields_to_py(encode_event(e));
             },
             "The stream entry's string fields (the wire format); validates the event.")
        .def_static("from_fields", [](py::object fields) { return decode_event(fields_from_py(fields)); },
                    py::arg("fields"), "Parse a stream entry's fields; ValueError when malformed.")
        .def("__eq__", [](const Event& a, const Event& b) { return a == b; }, py::is_operator())
        .def("__repr__", &event_repr)
        .def(py::pickle(
            [](const Event& e) { return py::make_tuple(e.type, e.game_id, e.server_id, e.player_id, e.ts, e.seq); },
            [](py::tuple t) {
                if (t.size() != 6) throw InvalidArgument("bad Event pickle");
                return make_event(t[0].cast<EventType>(), StrArg::from(t[1]), StrArg::from(t[2]),
                                  optional_str(t[3]), optional_int(t[4]), optional_int(t[5]));
            }));

    register_apply_result(m);
}

}  // namespace game_data::bindings
