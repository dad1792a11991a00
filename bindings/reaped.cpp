// The reaped feed: which games reap() removed, delivered at least once through a consumer
// group. Calls release the GIL; a feed is serialised by its own mutex.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/reaped_feed.hpp"

namespace game_data::bindings {
namespace {

struct PyReapedFeed {
    explicit PyReapedFeed(ReapedFeed f) : feed(std::move(f)) {}
    std::mutex mutex;
    ReapedFeed feed;
};

}  // namespace

void register_reaped(py::module_& m) {
    py::class_<Reaped>(m, "Reaped", "One game removed by reap(), as the reaped feed delivers it.")
        .def_readonly("game", &Reaped::game)
        .def_property_readonly("set", [](const Reaped& r) { return std::string(to_string(r.set)); })
        .def_readonly("score", &Reaped::score)
        .def_readonly("reaped_at", &Reaped::reaped_at)
        .def_readonly("entry_id", &Reaped::entry_id)
        .def("__repr__", [](const Reaped& r) {
            return "Reaped(game_id=" + py::repr(py::str(r.game.id)).cast<std::string>() + ", set=" +
                   std::string(to_string(r.set)) + ", reaped_at=" + std::to_string(r.reaped_at) + ")";
        });

    py::class_<PyReapedFeed>(m, "ReapedFeed",
                             "A consumer group over the reaped stream; unacknowledged items are "
                             "delivered again.")
        .def(py::init([](Matchmaker& mm, const StrArg& group, const std::optional<StrArg>& name,
                         const IntArg& claim_idle_ms, const IntArg& trim_interval_ms,
                         const IntArg& remove_idle_consumers_ms) {
                 ReapedFeedOptions o;
                 o.group = group.get("group");
                 o.name = get(name, "name").value_or("");  // "": unique_consumer_name()
                 if (name && o.name.empty()) throw InvalidArgument("name must not be empty");
                 o.claim_idle_ms = claim_idle_ms.get("claim_idle_ms");
                 o.trim_interval_ms = trim_interval_ms.get("trim_interval_ms");
                 o.remove_idle_consumers_ms = remove_idle_consumers_ms.get("remove_idle_consumers_ms");
                 py::gil_scoped_release nogil;
                 return std::make_unique<PyReapedFeed>(mm.reaped_feed(o));
             }),
             py::arg("matchmaker"), py::kw_only(), py::arg("group") = "deleter",
             py::arg("name") = py::none(), py::arg("claim_idle_ms") = 30'000,
             py::arg("trim_interval_ms") = ReapedFeedOptions{}.trim_interval_ms,
             py::arg("remove_idle_consumers_ms") = ReapedFeedOptions{}.remove_idle_consumers_ms)
        .def("poll",
             [](PyReapedFeed& f, const IntArg& count_arg, const IntArg& block_ms_arg) {
                 const std::int64_t count = count_arg.get("count");
                 const std::int64_t block_ms = block_ms_arg.get("block_ms");
                 py::gil_scoped_release nogil;
                 std::lock_guard lock(f.mutex);
                 return f.feed.poll(count, block_ms);
             },
             py::arg("count") = 100, py::arg("block_ms") = 0)
        .def("ack",
             [](PyReapedFeed& f, const std::vector<Reaped>& items) {
                 std::vector<std::string> ids;
                 for (const auto& r : items) ids.push_back(r.entry_id);
                 py::gil_scoped_release nogil;
                 std::lock_guard lock(f.mutex);
                 return f.feed.ack(ids);
             },
             py::arg("items"))
        .def("trim_acknowledged",
             [](PyReapedFeed& f) {
                 py::gil_scoped_release nogil;
                 std::lock_guard lock(f.mutex);
                 return f.feed.trim_acknowledged();
             })
        .def_property_readonly("stream", [](const PyReapedFeed& f) { return f.feed.stream(); })
        .def_property_readonly("group", [](const PyReapedFeed& f) { return f.feed.options().group; })
        .def_property_readonly("name", [](const PyReapedFeed& f) { return f.feed.options().name; });
}

}  // namespace game_data::bindings
