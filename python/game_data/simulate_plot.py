"""`game-data simulate --plot FILE.png`: a picture of a run's timeline (see
:attr:`game_data.simulate.SimulationResult.timeline`): the three set sizes, and events
consumed per second, over the run. Needs matplotlib (``pip install 'game-data[plot]'``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["matplotlib_missing", "plot_timeline"]

SET_COLOURS = {"pending": "tab:orange", "lobby": "tab:blue", "active": "tab:green"}


def matplotlib_missing() -> str | None:
    """Why a plot cannot be drawn here, or None when it can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        return f"--plot needs matplotlib (pip install 'game-data[plot]'): {err}"
    return None


def plot_timeline(timeline: Mapping[str, Sequence[float]], path: str, title: str) -> None:
    """Writes a PNG at ``path``: set sizes (top) and events per second (bottom) against seconds
    since the start of the run."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    t = timeline["t_s"]
    fig = Figure(figsize=(10, 6), layout="constrained")
    sizes, rate = fig.subplots(2, 1, sharex=True)
    for name, colour in SET_COLOURS.items():
        sizes.plot(t, timeline[name], label=name, color=colour)
    sizes.set_ylabel("games in set")
    sizes.legend(loc="upper right")
    sizes.set_title(title)
    sizes.grid(alpha=0.3)
    rate.plot(t, timeline["events_per_s"], color="tab:purple")
    rate.set_ylabel("events consumed / s")
    rate.set_xlabel("seconds since the start of the run")
    rate.grid(alpha=0.3)
    fig.savefig(path, format="png", dpi=100)
