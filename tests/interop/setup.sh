#!/usr/bin/env bash
# Installs the official NATS JavaScript clients and the S3 test server (s3rver) pinned by package-lock.json into <dir> (npm ci)
# for the interoperability tests, and copies the test scripts beside them: an ES module
# resolves its imports from its own folder, not from NODE_PATH.
# Idempotent: npm runs only when <dir> has no install of this exact lock file, so once
# installed it needs no network. Exits non-zero with the reason when it cannot install.
# Usage: tests/interop/setup.sh <dir>     (tst_nats_object_store, tst_schema_registry_nats, ... use
# <build>/interop-node)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: setup.sh <install dir>}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "interop setup: '$tool' not found; install the Debian packages nodejs and npm" \
      "(scripts/install-deps.sh)" >&2
    exit 1
  fi
done

mkdir -p "$dest"
# One installer at a time: two test programs may set up the same folder at once.
exec 9>"$dest/.setup.lock"
flock 9

cp "$here/obj_interop.mjs" "$here/kv_interop.mjs" "$here/s3rver.cjs" "$dest/"
stamp="$dest/node_modules/.harmonylite-package-lock.json"
if [ -f "$stamp" ] && cmp -s "$here/package-lock.json" "$stamp"; then
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
if ! npm ci --prefix "$dest" --no-audit --no-fund --ignore-scripts --loglevel=error; then
  echo "interop setup: 'npm ci' failed in $dest: installing the pinned @nats-io packages" \
    "needs the npm registry (or an npm cache that holds them) once" >&2
  exit 1
fi
cp "$here/package-lock.json" "$stamp"
