// The node's database opened read-only for a one-shot command (-schema-status, -digest), with
// its watched tables read. Thread: the caller's.
#pragma once

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"

namespace hl {

struct LocalRead {
  SqliteDb db;
  std::unique_ptr<SchemaCatalog> catalog;  // reads `db`, which must not move: held by pointer
};

Result<std::unique_ptr<LocalRead>> openLocalRead(const Config& config);

}  // namespace hl
