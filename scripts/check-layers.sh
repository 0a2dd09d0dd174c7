#!/usr/bin/env bash
# The layer rule of docs/architecture.md: each engine folder (and app/) may include only the
# folders of its row. Prints every include that breaks it and exits 1; exits 0 when none does.
# Usage: scripts/check-layers.sh [source dir]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

declare -A allowed=(
  [engine/src/core]="harmonylite"
  [engine/src/config]="harmonylite"
  [engine/src/wire]="harmonylite wire"
  [engine/src/sqlite]="harmonylite wire sqlite"
  [engine/src/schema]="harmonylite wire sqlite schema"
  [engine/src/cdc]="harmonylite wire sqlite schema cdc"
  [engine/src/nats]="harmonylite wire nats"
  [engine/src/replication]="harmonylite wire sqlite schema cdc nats replication"
  [engine/src/snapshot]="harmonylite wire sqlite schema cdc nats replication snapshot"
  [engine/src/consistency]="harmonylite wire sqlite schema consistency"
  [engine/src/observe]="harmonylite wire sqlite observe"
  [engine/src/runtime]="harmonylite core config wire sqlite schema cdc nats replication snapshot consistency observe runtime"
)
engine_folders="core config wire sqlite schema cdc nats replication snapshot consistency observe runtime"

bad=0
check() {  # <file> <allowed folders>
  local file=$1 ok=$2 inc top
  while IFS= read -r inc; do
    top=${inc%%/*}
    [[ $inc == */* ]] || continue             # same folder or a library header
    [[ " $engine_folders harmonylite " == *" $top "* ]] || continue  # Qt, C libraries
    if [[ " $ok " != *" $top "* ]]; then
      echo "$file: includes \"$inc\", which its layer may not (docs/architecture.md#layers)"
      bad=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
}

for dir in "${!allowed[@]}"; do
  for f in "$dir"/*.h "$dir"/*.cpp; do
    [ -e "$f" ] && check "$f" "${allowed[$dir]}"
  done
done
# app/ and app/ui/: the public headers only (plus their own files, which have no folder).
while IFS= read -r f; do check "$f" "harmonylite"; done < <(find app -name '*.h' -o -name '*.cpp')
# The public headers include nothing of the engine's internals.
for f in engine/include/harmonylite/*.h; do check "$f" "harmonylite"; done

if [ "$bad" -eq 0 ]; then echo "layers: every include follows docs/architecture.md#layers"; fi
exit "$bad"
