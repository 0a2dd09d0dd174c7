// NatsObjectStore: a snapshot store in a JetStream object store bucket, in the standard layout
// of NATS ADR-20 (docs/wire-format.md#snapshot-objects), so that official NATS clients (Go,
// JavaScript, the nats CLI) list and fetch what we write, and we read what they write:
//   stream OBJ_<bucket>, subjects $O.<bucket>.C.> (chunks) and $O.<bucket>.M.> (metadata);
//   an object's chunks on $O.<bucket>.C.<nuid>, 128 KiB each; its metadata JSON on
//   $O.<bucket>.M.<base64url(name), padded> with header Nats-Rollup: sub, published after the
//   last chunk, with digest "SHA-256=<base64url of the SHA-256, padded>"; the chunks of the
//   object it replaces purged afterwards. A link object carries options.link {bucket, name}.
// Written by hand on nats.c's JetStream calls: nats.c 3.4.1 has no object-store API.
// Thread: see snapshot_store.h; it uses, does not own, the connection.
#pragma once

#include <nats/nats.h>

#include <memory>

#include "snapshot/snapshot_store.h"

namespace hl {

class NatsObjectStore final : public SnapshotStore {
 public:
  static constexpr qint64 kChunkSize = 128 * 1024;

  // `nc` must stay connected-or-reconnecting and outlive this object. The bucket's stream is
  // created on first use when missing (file storage, `replicas`).
  NatsObjectStore(natsConnection* nc, QString bucket, int replicas);
  ~NatsObjectStore() override;

  QString describe() const override;
  Status put(const QString& name, QIODevice& source, qint64 size,
             const QList<QPair<QString, QString>>& headers,
             const TransferProgress& progress) override;
  Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) override;
  Result<QList<StoreObject>> list() override;
  Status remove(const QString& name) override;
  Status copy(const QString& from, const QString& to) override;

 private:
  struct Meta;         // one object's metadata message, parsed (nats_object_store.cpp)
  struct AsyncErrors;  // the first failed chunk publish of the running put

  // Checks the bucket name and the connection, and makes m_js.
  Status connect();
  // Finds the bucket's stream (NotFound when missing), creating it first when `create`.
  Status openStream(bool create);
  // The latest metadata of `name`: NotFound when there is none or the bucket is missing.
  Result<Meta> readMeta(const QString& name);
  Result<Meta> readMetaSubject(const QByteArray& subject, const QString& name);
  Status publishMeta(const QString& name, const QByteArray& json);
  Status purgeSubject(const QByteArray& subject);
  Status waitPublished(int timeoutMs);
  Status getObject(const QString& name, QIODevice& sink, const TransferProgress& progress,
                   int depth);
  Status readChunksDirect(const Meta& meta, QIODevice& sink, const TransferProgress& progress);
  Status readChunksOrdered(const Meta& meta, QIODevice& sink, const TransferProgress& progress);
  Status checkRead(const Meta& meta, qint64 done, const QByteArray& sha256);
  QByteArray streamName() const;
  QByteArray metaSubject(const QString& name) const;
  QByteArray chunkSubject(const QString& nuid) const;

  natsConnection* m_nc;
  QString m_bucket;
  int m_replicas;
  jsCtx* m_js = nullptr;  // created on first use
  std::unique_ptr<AsyncErrors> m_async;
  bool m_streamOpen = false;  // the stream was found or created
  bool m_allowDirect = true;  // the stream answers direct gets (official clients set it)
};

}  // namespace hl
