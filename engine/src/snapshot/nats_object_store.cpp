#include "snapshot/nats_object_store.h"

namespace hl {
// Placeholder: implemented by the NATS object-store work of issue 12.
NatsObjectStore::NatsObjectStore(natsConnection* nc, QString bucket, int replicas)
    : m_nc(nc), m_bucket(std::move(bucket)), m_replicas(replicas) {}
NatsObjectStore::~NatsObjectStore() {
  if (m_js) jsCtx_Destroy(m_js);
}
QString NatsObjectStore::describe() const {
  return QStringLiteral("nats bucket ") + m_bucket;
}
Status NatsObjectStore::put(const QString&, QIODevice&, qint64,
                            const QList<QPair<QString, QString>>&, const TransferProgress&) {
  return Status::internal("not yet");
}
Status NatsObjectStore::get(const QString&, QIODevice&, const TransferProgress&) {
  return Status::internal("not yet");
}
Result<QList<StoreObject>> NatsObjectStore::list() {
  return Status::internal("not yet");
}
Status NatsObjectStore::remove(const QString&) {
  return Status::internal("not yet");
}
Status NatsObjectStore::copy(const QString&, const QString&) {
  return Status::internal("not yet");
}
}  // namespace hl
