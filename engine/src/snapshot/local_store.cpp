#include "snapshot/local_store.h"

namespace hl {
// Placeholder: implemented by the local-store work of issue 12.
LocalStore::LocalStore(QString root) : m_root(std::move(root)) {}
QString LocalStore::describe() const {
  return QStringLiteral("local directory ") + m_root;
}
Status LocalStore::put(const QString&, QIODevice&, qint64, const QList<QPair<QString, QString>>&,
                       const TransferProgress&) {
  return Status::internal("not yet");
}
Status LocalStore::get(const QString&, QIODevice&, const TransferProgress&) {
  return Status::internal("not yet");
}
Result<QList<StoreObject>> LocalStore::list() {
  return Status::internal("not yet");
}
Status LocalStore::remove(const QString&) {
  return Status::internal("not yet");
}
Status LocalStore::copy(const QString&, const QString&) {
  return Status::internal("not yet");
}
}  // namespace hl
