// LocalStore: a snapshot store in a local directory (a USB disk or NAS mount on an edge box;
// docs/snapshots.md#stores). Object "a/b.db" is the file <root>/a/b.db. Writes go to a temp
// file in the same directory, fsync, rename over the target, fsync of the directory: a crash
// or a full disk leaves the previous object whole and no temp file behind (a leftover temp file
// of a killed process is removed by the next put and never listed).
// Thread: see snapshot_store.h.
#pragma once

#include "snapshot/snapshot_store.h"

namespace hl {

class LocalStore final : public SnapshotStore {
 public:
  // `root` is created on first put when missing.
  explicit LocalStore(QString root);

  QString describe() const override;
  Status put(const QString& name, QIODevice& source, qint64 size,
             const QList<QPair<QString, QString>>& headers,
             const TransferProgress& progress) override;
  Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) override;
  Result<QList<StoreObject>> list() override;
  Status remove(const QString& name) override;
  Status copy(const QString& from, const QString& to) override;

 private:
  QString m_root;
};

}  // namespace hl
