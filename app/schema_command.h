// -schema-status and -schema-status-cluster (docs/schema-changes.md#command-line): print this
// node's schema, or every node of the schema registry, and exit. Exit status of
// -schema-status-cluster: 0 every node of the registry has the same schema hash, 1 they differ
// (or the registry is empty or unreadable), 2 NATS cannot be reached; scripts can wait on it.
// Thread: the host thread.
#pragma once

#include "command_line.h"
#include "harmonylite/config.h"

namespace hl {

bool wantsSchemaCommand(const CommandLine& cli);
int runSchemaCommand(const CommandLine& cli, const Config& config);

}  // namespace hl
