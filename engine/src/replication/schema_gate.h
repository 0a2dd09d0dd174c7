// SchemaGate: decides, before a remote change is applied, whether this node's schema can take
// it, from the schema hash the change carries (`sh`) and the names it uses
// (docs/schema-changes.md#pause).
//
//   no `sh`, or one that is not 64 lower-case hex   apply (the usual rules: names this node does
//                                                   not have make a dead letter)
//   `sh` is this node's current hash                apply
//   `sh` is a hash this node had before              apply on the columns it carries; columns and
//                                                   tables this node dropped since are left out
//   any other `sh` (a schema this node never had)    apply when every table, column and key
//                                                   column it uses is here; otherwise the shard
//                                                   pauses at this change until the local schema
//                                                   changes
//   ... for a table this node has but does not      apply (the applier makes it a dead letter:
//   replicate (ignore_tables, virtual, shadow)      no schema change here would let it in)
//
// Thread: the engine thread (it reads the engine's catalog). Holds references only.
#pragma once

#include <QSet>
#include <QString>
#include <QStringList>

#include "wire/change.h"

namespace hl {

class SchemaCatalog;

enum class SchemaFit {
  kApply,             // as it is
  kApplyOlder,        // from an older schema of this node: trimmed to the columns still here
  kSkipDroppedTable,  // from an older schema of this node, for a table dropped here since
  kPause,             // this node lacks something it uses: `reason` says what
};

struct SchemaVerdict {
  SchemaFit fit = SchemaFit::kApply;
  QString reason;  // kPause: "no column email in Books"; kSkipDroppedTable: the table
};

class SchemaGate {
 public:
  explicit SchemaGate(const SchemaCatalog& catalog) : m_catalog(catalog) {}

  // Every schema hash this node has had (the state store's history; the current one included).
  void setKnownHashes(const QStringList& hashes);
  bool isKnown(const QString& hash) const { return m_known.contains(hash); }

  // May remove columns from `change` (kApplyOlder).
  SchemaVerdict check(Change* change) const;

  // True for 64 lower-case hex characters.
  static bool isWellFormedHash(const QString& hash);

 private:
  const SchemaCatalog& m_catalog;
  QSet<QString> m_known;
};

}  // namespace hl
