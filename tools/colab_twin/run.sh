#!/usr/bin/env bash
# The Colab twin (issue 24): a virtual environment with Google Colab's Python and preinstalled versions
# (tools/colab_twin/versions.txt), in which the notebooks' real setup path must change only what must
# change, report no conflict and need no restart, and then every notebook must pass nbval.
#   tools/colab_twin/run.sh        (make colab-twin; .ci/run runs it after make test)
# 1. find Colab's Python (3.13) under pyenv or on PATH, and stop if there is none;
# 2. build $MLM_COLAB_TWIN (default .venv/colab-twin) as a fresh Colab runtime: versions.txt, a
#    metadata-only stand-in for google-colab's pins (twin.py standin) and the test tools. A kept twin is
#    put back to exactly that state first (its pip freeze is recorded), or built again;
# 3. install the helpers with --no-deps, as the setup cell does, and play the setup cell with a fake
#    google.colab (twin.py prepare): no restart, no conflict, pip check clean, check_stack passes;
# 4. run the notebooks under nbval in the twin, on the embedded profile, as make test does;
# 5. the setup cell's second run keeps helpers installed from git at the wanted commit (twin.py helpers).
# PyPI is the only network it needs; the Hub is never asked.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD start=$(date +%s)
here=tools/colab_twin
venv=$(realpath -m "${MLM_COLAB_TWIN:-.venv/colab-twin}")
want=$(sed -n 's/^# python: *//p' "$here/versions.txt")
export PIP_DISABLE_PIP_VERSION_CHECK=1 MLM_PROFILE=embedded HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
quiet() { "$@" 2> >(grep -v "is ignored: it is neither" >&2); }

python=""
if command -v pyenv >/dev/null; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}(\.[0-9]+)?$" | sort -V -r); do
        python=$(pyenv prefix "$version")/bin/python
        break
    done
fi
if [[ -z $python ]] && command -v "python$want" >/dev/null; then
    python=$(command -v "python$want")
fi
if [[ -z $python ]] || ! "$python" -c "import sys; assert sys.version.startswith('$want.')" 2>/dev/null; then
    echo "colab twin: no Python $want found (pyenv versions, python$want on PATH); Colab runs $want." \
        "Fix: pyenv install $want (or install python$want), then run $0 again." >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" "$here/twin.py" standin "$work" >/dev/null
base=("-r" "$here/versions.txt" "$work/google_colab-1.0.0-py3-none-any.whl" pytest nbval ipykernel)
stamp="$venv/.colab-freeze"
fresh() {
    rm -rf "$venv"
    "$python" -m venv "$venv"
    quiet "$venv/bin/python" -m pip install --quiet "${base[@]}"
    "$venv/bin/python" -m pip freeze >"$stamp"
}
if [[ -f $stamp ]]; then  # a kept twin: take the helpers out, put Colab's versions back
    quiet "$venv/bin/python" -m pip uninstall --quiet --yes mlm-helpers || true
    quiet "$venv/bin/python" -m pip install --quiet "${base[@]}"
    # (the stand-in's line names this run's scratch folder: compare the rest)
    cmp -s <(grep -v "^google-colab" "$stamp") <("$venv/bin/python" -m pip freeze | grep -v "^google-colab") ||
        { echo "colab twin: rebuilding"; fresh; }
else
    fresh
fi
"$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check; exit 1; }
built=$(date +%s)
echo "colab twin: $("$venv/bin/python" --version), $(grep -cE '^[a-z]' "$here/versions.txt") packages" \
    "of versions.txt ($(( built - start )) s to build)"

quiet "$venv/bin/python" -m pip install --quiet --no-deps .
(cd "$work" && "$venv/bin/python" "$root/$here/twin.py" prepare)
prepared=$(date +%s)

# In a scratch copy of the notebooks, so that their runs and figures do not touch the repository's
# (the outputs name figures/ relative to the project root, as in make test).
mkdir "$work/repo"
cp -r notebooks conftest.py pyproject.toml .nbval-sanitize.cfg "$work/repo/"
(cd "$work/repo" && "$venv/bin/python" -m pytest notebooks --nbval \
    --nbval-sanitize-with .nbval-sanitize.cfg --nbval-cell-timeout=900 -p no:cacheprovider -q)
notebooks=$(date +%s)

if git rev-parse --git-dir >/dev/null 2>&1; then
    ref=$(git rev-parse --abbrev-ref HEAD)  # a branch, as the setup cells name one (else the commit)
    [[ $ref != HEAD ]] || ref=$(git rev-parse HEAD)
    (cd "$work" && "$venv/bin/python" "$root/$here/twin.py" helpers "mlm-helpers @ git+file://$root@$ref")
else
    echo "colab twin: not a git checkout, the helpers' second-run check is skipped"
fi
end=$(date +%s)
echo "colab twin: $(( end - start )) s (build $(( built - start )) s, setup cell $(( prepared - built )) s," \
    "notebooks $(( notebooks - prepared )) s, helpers $(( end - notebooks )) s)"
