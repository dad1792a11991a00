// Inspection and metrics of a Matchmaker (`game-data games / dead-letters / stats`, the
// Prometheus exporter): set members, a read-only look at a consumer group, dead-letter replay,
// and the table of metric families. Added to the Matchmaker class register_matchmaker made.
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "casters.hpp"
#include "game_data/dead_letters.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/metrics.hpp"
#include "game_data/validation.hpp"

namespace game_data::bindings {
namespace {

GameSet set_arg(const StrArg& arg) {
    const std::string& name = arg.get("set");
    for (GameSet set : kAllSets) {
        if (to_string(set) == name) return set;
    }
    throw InvalidArgument("set must be 'pending', 'lobby' or 'active', not '" + name + "'");
}

std::string_view kind_name(Metrics::Kind kind) {
    switch (kind) {
        case Metrics::Kind::Counter: return "counter";
        case Metrics::Kind::Gauge: return "gauge";
        case Metrics::Kind::Histogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

void register_observe(py::module_& m) {
    py::list families;
    for (const auto& f : Metrics::families()) {
        families.append(py::make_tuple(std::string(f.name), std::string(kind_name(f.kind)),
                                       std::string(f.help)));
    }
    m.attr("METRIC_FAMILIES") = families;
    m.attr("HISTOGRAM_BUCKETS") = py::cast(std::vector<double>(Metrics::histogram_buckets().begin(),
                                                               Metrics::histogram_buckets().end()));

    auto cls = py::reinterpret_borrow<py::class_<Matchmaker>>(m.attr("Matchmaker"));
    cls.def_property_readonly(
           "reaped_stream", [](const Matchmaker& mm) { return mm.store()->reaped_stream(); },
           "The stream reap() appends every reaped game to.")
        .def(
           "set_members",
           [](Matchmaker& mm, const StrArg& set_name, const IntArg& limit_arg) {
               const GameSet set = set_arg(set_name);
               const std::int64_t limit = limit_arg.get("limit");
               if (limit < 0) throw InvalidArgument("limit must not be negative");
               std::vector<SetMember> members;
               {
                   py::gil_scoped_release nogil;
                   members = mm.store()->set_members(set, static_cast<std::size_t>(limit), mm.explicit_now());
               }
               py::list out;
               for (auto& member : members) out.append(py::make_tuple(std::move(member.game), member.score));
               return out;
           },
           py::arg("set"), py::arg("limit") = 50,
           "Up to `limit` (0..10000) live games of a set with the ms each entered it, oldest first.")
        .def(
            "group_info",
            [](Matchmaker& mm, const StrArg& stream_arg, const StrArg& group_arg) {
                const std::string& stream = stream_arg.get("stream");
                const std::string& group = group_arg.get("group");
                validate_id("group", group);
                StreamTransport::GroupInfo info;
                {
                    py::gil_scoped_release nogil;
                    info = mm.store()->streams()->group_info(stream, group);
                }
                py::dict d;
                d["pending"] = info.pending;
                d["lag"] = info.lag;
                return d;
            },
            py::arg("stream"), py::arg("group"),
            "A consumer group's pending and lag (-1: unknown), read only: GroupMissingError when "
            "there is no such group (nothing is created).")
        .def(
            "replay_dead_letters",
            [](Matchmaker& mm, const std::optional<StrArg>& stream_arg,
               const std::optional<StrArg>& dead_arg, const std::optional<std::vector<StrArg>>& ids_arg) {
                const std::string stream = get(stream_arg, "stream").value_or(mm.default_stream());
                const std::string dead = get(dead_arg, "dead_letter_stream").value_or(stream + ":dead");
                std::optional<std::vector<std::string>> ids;
                if (ids_arg) ids = get(*ids_arg, "ids");
                std::vector<ReplayedEntry> moved;
                {
                    py::gil_scoped_release nogil;
                    moved = replay_dead_letters(*mm.store()->streams(), dead, stream, ids);
                }
                py::list out;
                for (const auto& r : moved) out.append(py::make_tuple(r.dead_letter_id, r.entry_id));
                return out;
            },
            py::arg("stream") = py::none(), py::arg("dead_letter_stream") = py::none(),
            py::arg("ids") = py::none(),
            "Copy dead letters back to the stream with their original fields, then remove them "
            "from the dead-letter stream; returns (dead letter id, new entry id) pairs.");

    m.def(
        "dead_letter_original_fields",
        [](py::handle fields) { return fields_to_py(original_fields(fields_arg(fields))); },
        py::arg("fields"),
        "The fields of the entry a dead letter was made from, as replay_dead_letters gives them "
        "back: the consumer's `error` removed, one `orig_` prefix taken off the names that have it.");
}

}  // namespace game_data::bindings
