// Applying changes in a test the way the consumer does (replication/consumer.cpp,
// Consumer::commitBatch): one write transaction per attempt, run again without a change whose
// ROLLBACK conflict clause ended the transaction, committed at the end.
#pragma once

#include "replication/applier.h"
#include "sqlite/sqlite_db.h"

namespace hl::test {

inline Result<Applier::BatchResult> applyInTransaction(SqliteDb& db, Applier& applier,
                                                       const QList<Change>& changes,
                                                       QList<bool> mask = {}) {
  QHash<qsizetype, Status> poisoned;
  if (mask.isEmpty()) mask = QList<bool>(changes.size(), true);
  for (;;) {
    auto txn = SqliteTxn::begin(db);
    if (!txn) return txn.status();
    auto r = applier.applyAll(changes, mask, poisoned);
    if (!r) return r.status();
    if (r->endedTransactionAt >= 0) {
      poisoned.insert(r->endedTransactionAt, r->outcomes.last());
      continue;
    }
    HL_RETURN_IF_ERROR(txn->commit());
    return r;
  }
}

}  // namespace hl::test
