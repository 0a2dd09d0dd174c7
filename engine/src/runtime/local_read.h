// What the one-shot commands share: the node's database opened read-only (-schema-status,
// -digest), with its watched tables read; a NATS connection to the node's servers
// (-schema-status-cluster, -check-consistency). Thread: the caller's.
#pragma once

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "nats/nats_handles.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"

namespace hl {

struct LocalRead {
  SqliteDb db;
  std::unique_ptr<SchemaCatalog> catalog;  // reads `db`, which must not move: held by pointer
};

Result<std::unique_ptr<LocalRead>> openLocalRead(const Config& config);

// The configured NATS servers, or, with the embedded default, the running node's embedded
// server (its URL file; or its fixed bind_address); one attempt. kUnavailable when unreachable.
Result<NatsConnectionPtr> connectForCommand(const Config& config, const QString& name);

}  // namespace hl
