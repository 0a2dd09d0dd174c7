// -digest (docs/consistency.md#command-line): print this node's digest of every watched table,
// its applied positions and its own changes not yet acknowledged, read at one point, then exit
// 0 (1 when the database cannot be read). Two nodes at rest with the same positions and no
// pending changes hold the same rows exactly when their digests are equal.
// -check-consistency (docs/consistency.md#check): every node compared at the same positions;
// the differing rows listed with each node's values; -repair-from N publishes node N's version
// of them and checks again. Exit 0 agree, 1 differ, 2 NATS unreachable, 3 not comparable.
// Thread: the host thread.
#pragma once

#include "command_line.h"
#include "harmonylite/config.h"

namespace hl {

bool wantsConsistencyCommand(const CommandLine& cli);
int runConsistencyCommand(const CommandLine& cli, const Config& config);

}  // namespace hl
