// Umbrella header: everything a matchmaker or a game server needs.
#pragma once

#include "game_data/consumer.hpp"
#include "game_data/dead_letters.hpp"
#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/lifecycle.hpp"
#include "game_data/logging.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/metrics.hpp"
#include "game_data/publisher.hpp"
#include "game_data/reaped_feed.hpp"
#include "game_data/run_loop.hpp"
#include "game_data/store.hpp"
#include "game_data/types.hpp"
#include "game_data/url.hpp"
#include "game_data/validation.hpp"
#include "game_data/version.hpp"
