#!/bin/sh
# Run today's tests/faults against geomm at an older commit (default 5622520),
# one pytest process per file, with / read-only and a private tmpfs on /tmp:
# some tests ask old code to --overwrite /, the home folder or the current
# folder, which it did with shutil.rmtree. Needs root (unshare -m).
# Usage: scripts/fault_baseline/run.sh [COMMIT] > baseline.txt  (FILES=... for a subset)
set -u
commit=${1:-5622520}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
base=$(mktemp -d /var/tmp/geomm-base.XXXXXX)
git -C "$repo" worktree add -f "$base" "$commit" >/dev/null
rm -rf "$base/tests/faults"
cp -r "$repo/tests/faults" "$base/tests/faults"
cp "$repo/tests/conftest.py" "$base/tests/conftest.py"
cp "$repo/pyproject.toml" "$base/pyproject.toml"   # markers and the test timeout
cd "$base"
for f in ${FILES:-tests/faults/test_*.py}; do
  case "$f" in *fuzz_cli*|*reliability_doc*) continue;; esac
  echo "### $f"
  PYTHONPATH="$base:$here" unshare -m --propagation private sh -c '
    mount -t tmpfs -o size=8g tmpfs /tmp && mount -o remount,bind,ro / &&
    mkdir -p /tmp/home /tmp/mpl &&
    HOME=/tmp/home MPLCONFIGDIR=/tmp/mpl PYTHONDONTWRITEBYTECODE=1 exec "$@"' sh \
    timeout 900 "$repo/.venv/bin/python" -m pytest -p baseline_shim -p no:cacheprovider \
      -v --tb=no -rN "$f" -k "not 1000000 and not 100000 and not too_many_threads" 2>&1 |
    grep -E "PASSED|FAILED|ERROR|passed|failed"
done
cd "$repo" && git worktree remove --force "$base"
