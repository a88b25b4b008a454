#!/usr/bin/env bash
# By hand (not in CI): runs async-nats's own JetStream, KV, object-store and
# pinned-client tests against tern. async-nats's tests start `nats-server`
# from PATH through the nats.rs repository's `nats-server` test-helper crate,
# which is not on crates.io: pass its directory (a checkout of
# github.com/nats-io/nats.rs, its `nats-server/` folder). tern, built here,
# stands in as `nats-server`.
#
#   conformance/async-nats-suite.sh <nats.rs>/nats-server [test filters and flags]
#
# TESTS overrides the test targets (default: the JetStream, KV, object
# store and pinned-client suites), for instance
#   TESTS="--test server_pool_tests --test jetstream_tests" ... cluster
# Tests of replicated streams fail by design (no replication yet).
set -euo pipefail
helper=${1:?usage: async-nats-suite.sh <nats.rs>/nats-server [test args]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-/tmp/tern-async-nats}
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/async-nats-0.51.0 | head -1)
# The build cache (target/) is kept between runs.
rm -rf "$work/async-nats" "$work/nats-server" "$work/bin" && mkdir -p "$work/bin"
cp -r "$src" "$work/async-nats"
cp -r "$helper" "$work/nats-server"
# The helper's own dev-dependency on async-nats is not needed here.
sed -i '/^async-nats = { path/d' "$work/nats-server/Cargo.toml"
sed -i 's/^\[dev-dependencies.tracing-subscriber\]/[dev-dependencies.nats-server]\npath = "..\/nats-server"\n\n[dev-dependencies.tracing-subscriber]/' \
  "$work/async-nats/Cargo.toml"
# The tern binary cargo reports having built (not whatever sits in target/).
tern=$(cd "$root" && cargo build --release --bin tern --message-format=json |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | tail -1)
cp "$tern" "$work/bin/nats-server"
cd "$work/async-nats"
read -r -a tests <<< "${TESTS:---test jetstream_tests --test kv_tests --test object_store --test pinned_client_test}"
CARGO_TARGET_DIR="$work/target" cargo test "${tests[@]}" --no-run
PATH="$work/bin:$PATH" CARGO_TARGET_DIR="$work/target" \
  cargo test "${tests[@]}" --no-fail-fast -- --test-threads=2 "$@"
