"""A wheel built elsewhere imports and runs here, a Debian with none of its libraries.

Run by tests/debian13/run in build/debian13/bare (Debian 13 minbase plus python3 only) with the
host's cp313 wheel: it is unpacked (which is all pip would do) into a fresh venv's
site-packages, then game_data makes a memory:// game, and every hiredis, spdlog, fmt, libssl or
libcrypto the process loaded must come from the wheel's game_data.libs.
"""

import os
import re
import subprocess
import sys
import tempfile
import venv
import zipfile

BUNDLED = ("libhiredis", "libspdlog", "libfmt", "libssl", "libcrypto")


def main(wheel: str) -> None:
    system = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    absent = [lib for lib in ("libhiredis", "libspdlog", "libfmt")
              if re.search(rf"^\s*{lib}\.so", system, re.M)]
    assert not absent, f"the system has {absent}: this root is not bare"
    where = tempfile.mkdtemp()
    venv.EnvBuilder(with_pip=False).create(where)
    python = os.path.join(where, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    for root, _, files in os.walk(site):  # zipfile drops the modes
        for name in files:
            if ".so" in name:
                os.chmod(os.path.join(root, name), 0o755)
    check = (
        "import game_data\n"
        "mm = game_data.connect('memory://')\n"
        "game = mm.create_game(creator_id='alice', capacity=2, server_id='gs-1')\n"
        "assert mm.get_game(game.id).state is game_data.GameState.CREATED, mm.get_game(game.id)\n"
        "loaded = {l.split()[-1] for l in open('/proc/self/maps') if '.so' in l}\n"
        f"bad = [p for p in loaded if p.rsplit('/', 1)[-1].startswith({BUNDLED!r})"
        " and '/game_data.libs/' not in p]\n"
        "assert not bad, bad\n"
        "print('host wheel ok in', open('/etc/debian_version').read().strip(), 'python',"
        " '.'.join(map(str, __import__('sys').version_info[:3])), game_data.__version__,"
        " sorted(p.rsplit('/', 1)[-1] for p in loaded if '/game_data.libs/' in p))\n")
    subprocess.run([python, "-c", check], check=True, cwd=where)


if __name__ == "__main__":
    main(sys.argv[1])
