// Matchmaker: connect options, games, events, reaping and stream inspection. Every call
// that can block releases the GIL; Python objects are converted before it is released.
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/validation.hpp"

namespace game_data::bindings {
namespace {

using release_gil = py::call_guard<py::gil_scoped_release>;

MaxAges max_ages_from(py::handle src) {
    MaxAges ages;
    if (src.is_none()) return ages;
    if (!PyDict_Check(src.ptr())) {
        throw InvalidArgument("max_age_ms must be a dict with any of 'pending', 'lobby', 'active'");
    }
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(src)) {
        const std::string key = to_utf8(k, "max_age_ms key");
        const std::int64_t ms = int_arg(v, "max_age_ms['" + key + "']");
        if (key == "pending") ages.pending = ms;
        else if (key == "lobby") ages.lobby = ms;
        else if (key == "active") ages.active = ms;
        else throw InvalidArgument("max_age_ms has an unknown set '" + key + "' (pending, lobby, active)");
    }
    return ages;
}

std::unique_ptr<Matchmaker> make_matchmaker(const StrArg& url, const StrArg& ns, py::object max_age_ms,
                                            py::object connect_timeout_ms, py::object timeout_ms,
                                            py::object pool_size, py::object tombstone_ttl_ms,
                                            py::object filter_keys, py::object reaped_retention) {
    ConnectOptions options;
    const std::string& url_text = url.get("url");
    options.ns = ns.get("namespace");
    options.max_age = max_ages_from(max_age_ms);
    if (!connect_timeout_ms.is_none()) options.connect_timeout_ms = int_arg(connect_timeout_ms, "connect_timeout_ms");
    if (!timeout_ms.is_none()) options.command_timeout_ms = int_arg(timeout_ms, "timeout_ms");
    if (!pool_size.is_none()) {
        const std::int64_t n = int_arg(pool_size, "pool_size");
        if (n < 1 || n > 1024) throw InvalidArgument("pool_size must be 1..1024");
        options.pool_size = static_cast<int>(n);
    }
    if (!tombstone_ttl_ms.is_none()) {
        options.tombstone_ttl_ms = int_arg(tombstone_ttl_ms, "tombstone_ttl_ms");
        if (options.tombstone_ttl_ms < 1) throw InvalidArgument("tombstone_ttl_ms must be positive");
    }
    if (!reaped_retention.is_none()) options.reaped_retention = int_arg(reaped_retention, "reaped_retention");
    if (!filter_keys.is_none()) {
        if (PyUnicode_Check(filter_keys.ptr()) || !PySequence_Check(filter_keys.ptr())) {
            throw InvalidArgument("filter_keys must be a sequence of metadata keys");
        }
        options.filter_keys.emplace();
        for (auto key : filter_keys) options.filter_keys->push_back(to_utf8(key, "filter_keys"));
    }
    py::gil_scoped_release nogil;
    return std::make_unique<Matchmaker>(connect(url_text, std::move(options)));
}

Game create_game(Matchmaker& mm, const StrArg& creator_id, py::handle capacity, const StrArg& server_id,
                 py::handle metadata, const std::optional<StrArg>& game_id) {
    const std::string& creator = creator_id.get("creator_id");
    const std::string& server = server_id.get("server_id");
    std::optional<std::string> id = get(game_id, "game_id");
    const std::int64_t cap = int_arg(capacity, "capacity");
    validate_capacity(cap);
    Metadata meta = metadata.is_none() ? Metadata{}
                                       : to_metadata(py_to_json(metadata, "metadata", kMaxMetadataBytes));
    validate_metadata(meta);
    py::gil_scoped_release nogil;
    return mm.create_game(creator, static_cast<std::int32_t>(cap), server, std::move(meta), std::move(id));
}

// create_games([{creator_id, capacity, server_id, metadata?, game_id?}, ...]): each request
// checked as create_game checks its arguments, named `games[i].<key>` in errors.
std::vector<Game> create_games(Matchmaker& mm, py::handle games) {
    if (py::isinstance<py::str>(games) || py::isinstance<py::bytes>(games) ||
        py::isinstance<py::dict>(games) || !py::hasattr(games, "__iter__")) {
        throw InvalidArgument("create_games: games must be a list of dicts (creator_id, capacity, "
                              "server_id, metadata, game_id)");
    }
    static constexpr std::array<std::string_view, 5> kKeys = {"creator_id", "capacity", "server_id",
                                                              "metadata", "game_id"};
    std::vector<CreateGameRequest> requests;
    std::size_t i = 0;
    for (py::handle item : games) {
        const std::string at = "games[" + std::to_string(i++) + "]";
        if (requests.size() >= Store::kMaxCreateBatch) {
            throw InvalidArgument("create_games: more than " + std::to_string(Store::kMaxCreateBatch) +
                                  " games in one call");
        }
        if (!py::isinstance<py::dict>(item)) throw InvalidArgument(at + " must be a dict");
        const auto d = py::reinterpret_borrow<py::dict>(item);
        for (auto [k, v] : d) {
            const std::string key = py::isinstance<py::str>(k) ? k.cast<std::string>() : "";
            if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
                throw InvalidArgument(at + ": unknown key " + py::repr(k).cast<std::string>() +
                                      " (known: creator_id, capacity, server_id, metadata, game_id)");
            }
        }
        auto required = [&](const char* key) {
            if (!d.contains(key)) throw InvalidArgument(at + ": " + key + " is required");
            return d[key];
        };
        CreateGameRequest r;
        r.creator_id = to_utf8(required("creator_id"), at + ".creator_id");
        r.server_id = to_utf8(required("server_id"), at + ".server_id");
        const std::int64_t cap = int_arg(required("capacity"), at + ".capacity");
        validate_capacity(cap);
        r.capacity = static_cast<std::int32_t>(cap);
        if (d.contains("metadata") && !d["metadata"].is_none()) {
            r.metadata = to_metadata(py_to_json(d["metadata"], at + ".metadata", kMaxMetadataBytes));
        }
        if (d.contains("game_id") && !d["game_id"].is_none()) {
            r.game_id = to_utf8(d["game_id"], at + ".game_id");
        }
        requests.push_back(std::move(r));
    }
    py::gil_scoped_release nogil;
    return mm.create_games(requests);
}

bool backend_available(const StrArg& scheme_arg) {
    const std::string& scheme = scheme_arg.get("scheme");
    const auto schemes = registered_schemes();
    if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end()) return false;
    // Probe the factory with an address nothing listens on: a build without the backend
    // says Unsupported; a real backend fails to connect (or connects lazily).
    Url url;
    url.scheme = scheme;
    url.host = "127.0.0.1";
    url.port = 1;
    url.path = "/nonexistent/game-data-probe.sock";
    ConnectOptions options;
    options.connect_timeout_ms = 100;
    options.command_timeout_ms = 100;
    options.pool_size = 1;
    py::gil_scoped_release nogil;
    try {
        open_store(url, options);
    } catch (const Unsupported&) {
        return false;
    } catch (const GameDataError&) {
        return true;
    }
    return true;
}

// filters: None or a dict of metadata key -> str / int / bool.
Filters filters_from(py::handle src) {
    Filters out;
    if (src.is_none()) return out;
    if (!PyDict_Check(src.ptr())) throw InvalidArgument("filters must be a dict of metadata key -> value");
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(src)) {
        std::string key = to_utf8(k, "a filter key");
        std::optional<FilterValue> value;
        if (PyUnicode_Check(v.ptr()) || PyLong_Check(v.ptr())) {
            value = to_filter_value(py_to_json(v, "filter '" + key + "'", kMaxMetadataBytes, 0));
        }
        if (!value) throw InvalidArgument("filter '" + key + "' must be a string, an integer or a boolean");
        out.emplace(std::move(key), std::move(*value));
    }
    return out;
}

std::int64_t non_negative(const IntArg& arg, const char* name) {
    const std::int64_t v = arg.get(name);
    if (v < 0) throw InvalidArgument(std::string(name) + " must not be negative");
    return v;
}

std::int32_t seats_arg(const IntArg& arg) {
    const std::int64_t v = arg.get("min_free_seats");
    if (v < 1 || v > kMaxCapacity) {
        throw InvalidArgument("min_free_seats must be 1.." + std::to_string(kMaxCapacity));
    }
    return static_cast<std::int32_t>(v);
}

}  // namespace

void register_matchmaker(py::module_& m) {
    py::class_<Reservation>(m, "Reservation", "A seat held for a player until expires_at (ms).")
        .def_readonly("game_id", &Reservation::game_id)
        .def_readonly("player_id", &Reservation::player_id)
        .def_readonly("expires_at", &Reservation::expires_at)
        .def("__eq__", [](const Reservation& a, const Reservation& b) { return a == b; }, py::is_operator())
        .def("__repr__", [](const Reservation& r) {
            return "Reservation(game_id=" + py::repr(py::str(r.game_id)).cast<std::string>() +
                   ", player_id=" + py::repr(py::str(r.player_id)).cast<std::string>() +
                   ", expires_at=" + std::to_string(r.expires_at) + ")";
        });
    py::class_<OpenGamesPage>(m, "OpenGamesPage", "One page of open games; next_cursor is None on the last.")
        .def_readonly("games", &OpenGamesPage::games)
        .def_readonly("next_cursor", &OpenGamesPage::next_cursor)
        .def("__repr__", [](const OpenGamesPage& p) {
            return "OpenGamesPage(games=<" + std::to_string(p.games.size()) + " games>, next_cursor=" +
                   (p.next_cursor ? py::repr(py::str(*p.next_cursor)).cast<std::string>() : "None") + ")";
        });

    py::class_<Matchmaker>(m, "Matchmaker", "The matchmaker's handle; thread safe.")
        .def(py::init(&make_matchmaker), py::arg("url") = "memory://", py::kw_only(),
             py::arg("namespace") = "gd", py::arg("max_age_ms") = py::none(),
             py::arg("connect_timeout_ms") = py::none(), py::arg("timeout_ms") = py::none(),
             py::arg("pool_size") = py::none(), py::arg("tombstone_ttl_ms") = py::none(),
             py::arg("filter_keys") = py::none(), py::arg("reaped_retention") = py::none())
        .def("create_game", &create_game, py::arg("creator_id"), py::arg("capacity"),
             py::arg("server_id"), py::arg("metadata") = py::none(), py::arg("game_id") = py::none())
        .def("create_games", &create_games, py::arg("games"))
        .def("get_game", [](Matchmaker& mm, const StrArg& id) { return mm.get_game(id.get("game_id")); },
             py::arg("game_id"), release_gil())
        .def("get_open_games",
             [](Matchmaker& mm, const IntArg& limit_arg, py::object filters, const IntArg& min_free) {
                 const auto limit = static_cast<std::size_t>(non_negative(limit_arg, "limit"));
                 const Filters f = filters_from(filters);
                 const std::int32_t seats = seats_arg(min_free);
                 py::gil_scoped_release nogil;
                 return mm.get_open_games(limit, f, seats);
             },
             py::arg("limit") = 50, py::arg("filters") = py::none(), py::arg("min_free_seats") = 1)
        .def("open_games_page",
             [](Matchmaker& mm, const IntArg& limit_arg, py::object filters, const IntArg& min_free,
                const std::optional<StrArg>& cursor) {
                 const auto limit = static_cast<std::size_t>(non_negative(limit_arg, "limit"));
                 const Filters f = filters_from(filters);
                 const std::int32_t seats = seats_arg(min_free);
                 const std::optional<std::string> c = get(cursor, "cursor");
                 py::gil_scoped_release nogil;
                 return mm.open_games_page(limit, f, seats, c);
             },
             py::arg("limit") = 50, py::arg("filters") = py::none(), py::arg("min_free_seats") = 1,
             py::arg("cursor") = py::none())
        .def("reserve_seat",
             [](Matchmaker& mm, const StrArg& game_id, const StrArg& player_id, const IntArg& ttl_ms,
                bool exclusive) {
                 const std::string g = game_id.get("game_id"), p = player_id.get("player_id");
                 const std::int64_t ttl = ttl_ms.get("ttl_ms");
                 py::gil_scoped_release nogil;
                 return mm.reserve_seat(g, p, ttl, exclusive);
             },
             py::arg("game_id"), py::arg("player_id"), py::arg("ttl_ms") = 15'000, py::kw_only(),
             py::arg("exclusive") = true)
        .def("cancel_reservation",
             [](Matchmaker& mm, const StrArg& game_id, const StrArg& player_id) {
                 const std::string g = game_id.get("game_id"), p = player_id.get("player_id");
                 py::gil_scoped_release nogil;
                 return mm.cancel_reservation(g, p);
             },
             py::arg("game_id"), py::arg("player_id"))
        .def("quick_join",
             [](Matchmaker& mm, const StrArg& player_id, py::object filters, const IntArg& ttl_ms,
                bool exclusive) {
                 const std::string p = player_id.get("player_id");
                 const Filters f = filters_from(filters);
                 const std::int64_t ttl = ttl_ms.get("ttl_ms");
                 py::gil_scoped_release nogil;
                 return mm.quick_join(p, f, ttl, exclusive);
             },
             py::arg("player_id"), py::arg("filters") = py::none(), py::arg("ttl_ms") = 15'000,
             py::kw_only(), py::arg("exclusive") = true)
        .def("apply", &Matchmaker::apply, py::arg("event"), release_gil())
        .def("apply_many",
             [](Matchmaker& mm, const std::vector<Event>& events) { return mm.apply_many(events); },
             py::arg("events"), release_gil())
        .def("reap",
             [](Matchmaker& mm, const std::optional<IntArg>& now) { return mm.reap(get(now, "now")); },
             py::arg("now") = py::none(), release_gil())
        .def("counts",
             [](Matchmaker& mm) {
                 Counts c;
                 {
                     py::gil_scoped_release nogil;
                     c = mm.counts();
                 }
                 py::dict d;
                 d["pending"] = c.pending;
                 d["lobby"] = c.lobby;
                 d["active"] = c.active;
                 return d;
             })
        .def("stats",
             [](Matchmaker& mm) {
                 std::map<std::string, double> snapshot;
                 {
                     py::gil_scoped_release nogil;
                     snapshot = mm.stats();
                 }
                 py::dict d;
                 for (const auto& [k, v] : snapshot) {
                     // Counters and gauges that hold whole numbers come back as int.
                     if (v == static_cast<double>(static_cast<long long>(v)) &&
                         k.find("_sum") == std::string::npos) {
                         d[py::str(k)] = static_cast<long long>(v);
                     } else {
                         d[py::str(k)] = v;
                     }
                 }
                 return d;
             },
             "Counters and gauges of SPEC section 8, keyed by Prometheus name.")
        .def("set_entry",
             [](Matchmaker& mm, const StrArg& id_arg) -> py::object {
                 const std::string& id = id_arg.get("game_id");
                 std::optional<std::pair<GameSet, std::int64_t>> entry;
                 {
                     py::gil_scoped_release nogil;
                     validate_id("game_id", id);
                     entry = mm.store()->set_entry(id);
                 }
                 if (!entry) return py::none();
                 return py::make_tuple(std::string(to_string(entry->first)), entry->second);
             },
             py::arg("game_id"), "(set name, score in ms) of a live game, or None.")
        .def("stream_entries",
             [](Matchmaker& mm, const StrArg& stream_arg, const IntArg& count_arg) {
                 const std::string& stream = stream_arg.get("stream");
                 const std::int64_t count = count_arg.get("count");
                 if (count < 0) throw InvalidArgument("count must not be negative");
                 std::vector<StreamEntry> entries;
                 {
                     py::gil_scoped_release nogil;
                     entries = mm.store()->streams()->range(stream, count);
                 }
                 py::list out;
                 for (const auto& e : entries) out.append(py::make_tuple(e.id, fields_to_py(e.fields)));
                 return out;
             },
             py::arg("stream"), py::arg("count") = 0)
        .def("stream_length",
             [](Matchmaker& mm, const StrArg& stream) {
                 return mm.store()->streams()->length(stream.get("stream"));
             },
             py::arg("stream"), release_gil())
        .def("now", &Matchmaker::now, "The matchmaker's clock in ms.")
        .def("_remove_namespace", [](Matchmaker& mm) { return mm.store()->remove_namespace(); },
             "Deletes every key of the namespace (<ns>:*) and returns how many (memory://: 0). "
             "For tools cleaning up after a run; private.", release_gil())
        .def_property_readonly("namespace", [](const Matchmaker& mm) { return mm.options().ns; })
        .def_property_readonly("filter_keys", [](const Matchmaker& mm) { return mm.store()->filter_keys(); },
                               "The namespace's filter keys, sorted.")
        .def_property_readonly("default_stream", &Matchmaker::default_stream)
        .def_property_readonly("max_age_ms", [](const Matchmaker& mm) {
            py::dict d;
            d["pending"] = mm.options().max_age.pending;
            d["lobby"] = mm.options().max_age.lobby;
            d["active"] = mm.options().max_age.active;
            return d;
        });

    m.def("backend_available", &backend_available, py::arg("scheme"),
          "True when this build can open URLs of the scheme ('memory', 'redis', ...).");
    m.def("registered_schemes", &registered_schemes);
}

}  // namespace game_data::bindings
