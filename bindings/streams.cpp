// The stream side: EventPublisher (game servers) and Consumer (the matchmaker). Both release
// the GIL around every call into the backend. A Consumer's polls (and its run loop) are
// serialised by its own mutex, so sharing one between Python threads is safe (if pointless);
// stats and group_info need no mutex and answer while run() is busy in another thread.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"

namespace game_data::bindings {
namespace {

using release_gil = py::call_guard<py::gil_scoped_release>;

struct PyConsumer {
    explicit PyConsumer(Consumer c) : consumer(std::move(c)) {}
    std::mutex mutex;
    Consumer consumer;
};

std::unique_ptr<PyConsumer> make_consumer(Matchmaker& mm, const std::optional<StrArg>& stream_arg,
                                          const StrArg& group, const std::optional<StrArg>& name,
                                          const IntArg& claim_idle_ms, const IntArg& max_deliveries,
                                          const std::optional<StrArg>& dead_letter_stream,
                                          const IntArg& trim_interval_ms,
                                          const IntArg& remove_idle_consumers_ms) {
    ConsumerOptions o;
    const std::optional<std::string> stream = get(stream_arg, "stream");
    o.stream = stream.value_or("");
    if (stream && stream->empty()) throw InvalidArgument("stream must not be empty");
    o.group = group.get("group");
    o.name = get(name, "name").value_or("");  // "": unique_consumer_name()
    if (name && o.name.empty()) throw InvalidArgument("consumer name must not be empty");
    o.claim_idle_ms = claim_idle_ms.get("claim_idle_ms");
    o.max_deliveries = max_deliveries.get("max_deliveries");
    o.dead_letter_stream = get(dead_letter_stream, "dead_letter_stream").value_or("");
    o.trim_interval_ms = trim_interval_ms.get("trim_interval_ms");
    o.remove_idle_consumers_ms = remove_idle_consumers_ms.get("remove_idle_consumers_ms");
    py::gil_scoped_release nogil;
    return std::make_unique<PyConsumer>(mm.consumer(o));
}

py::dict stats_dict(const ConsumerStats& s) {
    py::dict d;
    d["applied"] = s.applied;
    d["duplicate"] = s.duplicate;
    d["rejected"] = s.rejected;
    d["dead_lettered"] = s.dead_lettered;
    d["lost"] = s.lost;
    d["trimmed"] = s.trimmed;
    d["claimed"] = s.claimed;
    d["batches"] = s.batches;
    d["trimmed_acknowledged"] = s.trimmed_acknowledged;
    d["consumers_removed"] = s.consumers_removed;
    return d;
}

// EventPublisher's per-event methods, each taking its ids as StrArg so a bad one is named.
using PlayerEventMethod = std::string (EventPublisher::*)(const std::string&, const std::string&);
using GameEventMethod = std::string (EventPublisher::*)(const std::string&);

auto player_event(PlayerEventMethod method) {
    return [method](EventPublisher& pub, const StrArg& game_id, const StrArg& player_id) {
        return (pub.*method)(game_id.get("game_id"), player_id.get("player_id"));
    };
}

auto game_event(GameEventMethod method) {
    return [method](EventPublisher& pub, const StrArg& game_id) {
        return (pub.*method)(game_id.get("game_id"));
    };
}

// Consumer::run with a Python threading.Event as the stop flag. Between polls (and during a
// backoff wait) it takes the GIL for a moment to run pending signal handlers, so SIGINT and
// SIGTERM handlers installed by Python work while the loop runs in the main thread; an
// exception from a handler (KeyboardInterrupt) ends the loop after the batch in hand.
void run_consumer(PyConsumer& c, py::object stop, std::int64_t count, std::int64_t block_ms,
                  bool reconnect) {
    py::object is_set = stop.attr("is_set");
    auto stop_requested = [&]() -> bool {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        return is_set().cast<bool>();
    };
    RunLoopOptions loop;
    loop.retry = reconnect;
    py::gil_scoped_release nogil;
    std::lock_guard lock(c.mutex);
    c.consumer.run(stop_requested, count, block_ms, loop);
}

}  // namespace

void register_streams(py::module_& m) {
    // The Matchmaker overload comes first: the url overload's StrArg accepts any object (and
    // names it in the error), so it must only see what is not a Matchmaker.
    py::class_<EventPublisher>(m, "EventPublisher",
                               "Publishes game-server events to the stream; thread safe.")
        .def(py::init([](Matchmaker& mm, const StrArg& server_id, const std::optional<StrArg>& stream,
                         const IntArg& maxlen, bool stamp_seq) {
                 auto server = server_id.get("server_id");
                 auto stream_name = get(stream, "stream");
                 const std::int64_t max = maxlen.get("maxlen");
                 py::gil_scoped_release nogil;
                 return std::make_unique<EventPublisher>(
                     mm.publisher(std::move(server), std::move(stream_name), max, stamp_seq));
             }),
             py::arg("matchmaker"), py::arg("server_id"), py::arg("stream") = py::none(),
             py::arg("maxlen") = 0, py::arg("stamp_seq") = true)
        .def(py::init([](const StrArg& url, const StrArg& server_id, const std::optional<StrArg>& stream,
                         const IntArg& maxlen, bool stamp_seq, const StrArg& ns) {
                 const std::string& url_text = url.get("url");
                 auto server = server_id.get("server_id");
                 auto stream_name = get(stream, "stream");
                 if (stream_name && stream_name->empty()) throw InvalidArgument("stream must not be empty");
                 const std::int64_t max = maxlen.get("maxlen");
                 const std::string& namespace_name = ns.get("namespace");
                 py::gil_scoped_release nogil;
                 return std::make_unique<EventPublisher>(url_text, std::move(server),
                                                         stream_name.value_or(""), max, stamp_seq,
                                                         namespace_name);
             }),
             py::arg("url"), py::arg("server_id"), py::arg("stream") = py::none(),
             py::arg("maxlen") = 0, py::arg("stamp_seq") = true, py::arg("namespace") = "gd")
        .def("publish", &EventPublisher::publish, py::arg("event"), release_gil())
        .def("creator_joined", player_event(&EventPublisher::creator_joined), py::arg("game_id"),
             py::arg("player_id"), release_gil())
        .def("player_joined", player_event(&EventPublisher::player_joined), py::arg("game_id"),
             py::arg("player_id"), release_gil())
        .def("player_left", player_event(&EventPublisher::player_left), py::arg("game_id"),
             py::arg("player_id"), release_gil())
        .def("all_players_joined", game_event(&EventPublisher::all_players_joined), py::arg("game_id"),
             release_gil())
        .def("game_started", game_event(&EventPublisher::game_started), py::arg("game_id"), release_gil())
        .def("game_ended", game_event(&EventPublisher::game_ended), py::arg("game_id"), release_gil())
        .def("heartbeat", game_event(&EventPublisher::heartbeat), py::arg("game_id"), release_gil())
        .def("publish_raw",
             [](EventPublisher& pub, py::handle fields) {
                 Fields f = fields_arg(fields);
                 py::gil_scoped_release nogil;
                 return pub.publish_raw(f);
             },
             py::arg("fields"), "Publish fields as-is, without validation; returns the entry id.")
        .def_property_readonly("server_id", &EventPublisher::server_id)
        .def_property_readonly("stream", &EventPublisher::stream);

    py::class_<PyConsumer>(m, "Consumer",
                           "Reads events through a consumer group, applies, dead-letters and acks.")
        .def(py::init(&make_consumer), py::arg("matchmaker"), py::kw_only(),
             py::arg("stream") = py::none(), py::arg("group") = "matchmaker", py::arg("name") = py::none(),
             py::arg("claim_idle_ms") = 30'000, py::arg("max_deliveries") = 5,
             py::arg("dead_letter_stream") = py::none(), py::arg("trim_interval_ms") = 0,
             py::arg("remove_idle_consumers_ms") = 3'600'000)
        .def("poll",
             [](PyConsumer& c, const IntArg& count, const IntArg& block_ms) {
                 const std::int64_t n = count.get("count");
                 const std::int64_t block = block_ms.get("block_ms");
                 std::lock_guard lock(c.mutex);
                 return c.consumer.poll(n, block);
             },
             py::arg("count") = 100, py::arg("block_ms") = 100, release_gil(),
             "One round: read (own pending, idle claims, new), apply, dead-letter, ack.")
        .def("_run", &run_consumer, py::arg("stop"), py::arg("count"), py::arg("block_ms"),
             py::arg("reconnect"),
             "Consumer.run's loop (C++ run_loop); use Consumer.run, which also handles signals.")
        .def("trim_acknowledged",
             [](PyConsumer& c) {
                 std::lock_guard lock(c.mutex);
                 return c.consumer.trim_acknowledged();
             },
             release_gil(),
             "Remove the entries every consumer group has acknowledged; returns how many.")
        .def("group_info",
             [](PyConsumer& c) {
                 StreamTransport::GroupInfo info;
                 {
                     py::gil_scoped_release nogil;
                     info = c.consumer.group_info();
                 }
                 py::dict d;
                 d["pending"] = info.pending;
                 d["lag"] = info.lag;
                 return d;
             })
        .def_property_readonly("stats",
                               [](PyConsumer& c) { return stats_dict(c.consumer.stats()); })
        .def_property_readonly("stream", [](const PyConsumer& c) { return c.consumer.options().stream; })
        .def_property_readonly("group", [](const PyConsumer& c) { return c.consumer.options().group; })
        .def_property_readonly("name", [](const PyConsumer& c) { return c.consumer.options().name; })
        .def_property_readonly("dead_letter_stream",
                               [](const PyConsumer& c) { return c.consumer.options().dead_letter_stream; });
}

}  // namespace game_data::bindings
