"""Readings of the benchmarks' own redis-server that several bench/*.py scripts take."""

from __future__ import annotations

import redis

__all__ = ["main_thread_cpu"]


def main_thread_cpu(r: redis.Redis) -> float:
    """CPU seconds the server's main thread has used (INFO cpu; the whole process on a Redis
    that does not report the main thread)."""
    cpu = r.info("cpu")
    if "used_cpu_user_main_thread" in cpu:
        return float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
