// The snapshot commands of the command line (docs/snapshots.md#command-line): -save-snapshot,
// -restore-snapshot[=ID], -verify-snapshot[=ID], -list-snapshots. Each starts the node (its
// NATS connection and snapshot worker, without automatic restores), runs one snapshot control,
// prints its result (one line, or the catalogue) and stops the node.
// Thread: the host thread, with a Q(Core)Application.
#pragma once

#include "command_line.h"
#include "harmonylite/config.h"

namespace hl {

// True when the command line asks for one of them.
bool wantsSnapshotCommand(const CommandLine& cli);

// The process exit code: 0 when it worked; 1 with one line on stderr saying why not.
int runSnapshotCommand(const CommandLine& cli, Config config);

}  // namespace hl
