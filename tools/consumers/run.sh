#!/usr/bin/env bash
# The consumer check (issue 23): does the folder save_for_hub writes load in PyTorch, without
# TensorFlow, with transformers 5.x and 4.57.6, and answer as TensorFlow does?
#   tools/consumers/run.sh
# 1. build (or reuse) the two consumer environments (tools/consumers/build_envs.sh),
# 2. train a few steps in the project's environment and save the folder + TF reference answers
#    (tools/consumers/make_folder.py; its Python: $MLM_PYTHON, default .venv/bin/python),
# 3. load the folder in each consumer environment and compare (tools/consumers/check.py).
# No network beyond PyPI for step 1; the Hub is never asked.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3 TRANSFORMERS_VERBOSITY=error
root=${MLM_CONSUMER_VENVS:-.venv/consumers}
tools/consumers/build_envs.sh
built=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${MLM_PYTHON:-.venv/bin/python}" tools/consumers/make_folder.py "$work" 2> "$work/tf.log" ||
    { cat "$work/tf.log" >&2; exit 1; }
status=0
for env in transformers5 transformers4; do
    "$root/$env/bin/python" tools/consumers/check.py "$work" 2> "$work/$env.log" ||
        { status=1; tail -20 "$work/$env.log" >&2; }
done
echo "consumer check: $(( $(date +%s) - start )) s ($(( built - start )) s of it building environments)"
exit $status
