// Small helpers the store tests share (tst_s3_store, tst_webdav_store, tst_sftp_store): bytes
// in and out of a SnapshotStore through buffers, and QVERIFY_OK for a Status.
#pragma once

#include <QBuffer>
#include <QRandomGenerator>
#include <QtTest>

#include "harmonylite/status.h"
#include "snapshot/snapshot_store.h"

#define QVERIFY_OK(expr)                                           \
  do {                                                             \
    const ::hl::Status st_ = (expr);                               \
    QVERIFY2(st_.isOk(), qPrintable(#expr ": " + st_.toString())); \
  } while (0)

namespace hl::test {

constexpr qint64 kMiB = 1024 * 1024;

// `size` random bytes, the same for the same size.
inline QByteArray randomBytes(qint64 size) {
  QByteArray b(size, Qt::Uninitialized);
  QRandomGenerator gen{quint32(size)};
  for (qint64 i = 0; i < size; ++i) b[i] = char(gen.generate() & 0xff);
  return b;
}

inline Status putBytes(SnapshotStore& s, const QString& name, const QByteArray& bytes,
                       const TransferProgress& progress = {}) {
  QBuffer buf;
  buf.setData(bytes);
  buf.open(QIODevice::ReadOnly);
  return s.put(name, buf, bytes.size(), {}, progress);
}

inline Result<QByteArray> getBytes(SnapshotStore& s, const QString& name,
                                   const TransferProgress& progress = {}) {
  QByteArray out;
  QBuffer buf(&out);
  buf.open(QIODevice::WriteOnly);
  HL_RETURN_IF_ERROR(s.get(name, buf, progress));
  return out;
}

}  // namespace hl::test
