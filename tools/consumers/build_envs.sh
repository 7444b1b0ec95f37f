#!/usr/bin/env bash
# Build the two PyTorch consumer environments of the consumer check (issue 23), without TensorFlow:
#   transformers5  torch==2.13.0 (the CPU wheel on this machine's disk) + the newest transformers 5.x
#   transformers4  torch==2.13.0 + transformers 4.57.6
# Never ask for another torch version: any other release downloads several GB of CUDA builds.
# An environment whose stamp records the same requirements is kept (a warm machine installs nothing).
set -euo pipefail
root=${MLM_CONSUMER_VENVS:-.venv/consumers}
python=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

build() {
    local name=$1
    shift
    local venv=$root/$name stamp=$root/$name/.installed
    if [[ -f $stamp && "$(cat "$stamp")" == "$*" ]]; then
        echo "$name: up to date ($*)"
        return
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$*" >"$stamp"
    echo "$name: installed $("$venv/bin/python" -m pip list 2>/dev/null | grep -E '^(torch|transformers) ' | tr -s ' ' | paste -sd,)"
}

build transformers5 torch==2.13.0 "transformers>=5,<6"
build transformers4 torch==2.13.0 transformers==4.57.6
