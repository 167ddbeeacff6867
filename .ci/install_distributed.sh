#!/usr/bin/env bash
# Install the optional "distributed" dependencies (mpi-sppy, mpi4py and an MPI library)
# into the active virtual environment and check that a 2-rank MPI job starts.
# The mpich wheel puts mpiexec next to the interpreter (e.g. .venv-ci/bin/mpiexec), which
# is where tests/test_distributed.py looks first. No compiler is needed: every package is
# a binary wheel. Usage, after activating the venv: bash .ci/install_distributed.sh
set -euo pipefail
PY="${PYTHON:-python}"
if [ "$("$PY" -c 'import sys; print(sys.prefix != sys.base_prefix)')" != "True" ] \
        && [ "${ALLOW_SYSTEM_PYTHON:-0}" != "1" ]; then
    echo "install_distributed.sh: activate a virtual environment first" >&2
    exit 2
fi
"$PY" -m pip install --quiet "mpi-sppy>=0.14,<0.15" "mpi4py>=4.0,<5" "mpich>=4.2"
bindir="$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")"
mpiexec="$bindir/mpiexec"
if [ ! -x "$mpiexec" ]; then
    mpiexec="$(command -v mpiexec)"
fi
"$mpiexec" -n 2 "$PY" -c \
    "from mpi4py import MPI; c = MPI.COMM_WORLD; assert c.Get_size() == 2; c.Barrier()"
"$PY" -c "import mpisppy.spin_the_wheel, mpisppy.utils.cfg_vanilla" >/dev/null
echo "distributed extra ready ($mpiexec)"
