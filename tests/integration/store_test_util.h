// Small helpers the store tests share (tst_s3_store, tst_webdav_store, tst_sftp_store): bytes
// in and out of a SnapshotStore through buffers, and QVERIFY_OK for a Status.
#pragma once

#include <QBuffer>
#include <QRandomGenerator>
#include <QtTest>

#include <functional>

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

// Every put carries one object header: stores that keep headers (nats) keep it, the others
// ignore it.
inline Status putBytes(SnapshotStore& s, const QString& name, const QByteArray& bytes,
                       const TransferProgress& progress = {}) {
  QBuffer buf;
  buf.setData(bytes);
  buf.open(QIODevice::ReadOnly);
  return s.put(name, buf, bytes.size(), {{"Hl-Test", "store-test"}}, progress);
}

inline Result<QByteArray> getBytes(SnapshotStore& s, const QString& name,
                                   const TransferProgress& progress = {}) {
  QByteArray out;
  QBuffer buf(&out);
  buf.open(QIODevice::WriteOnly);
  HL_RETURN_IF_ERROR(s.get(name, buf, progress));
  return out;
}

// Puts `bytes` as `name` and calls `kill` once half of them went (the server dies in the middle
// of the upload); `*killed` says whether it was called.
inline Status putKillingHalfway(SnapshotStore& s, const QString& name, const QByteArray& bytes,
                                const std::function<void()>& kill, bool* killed) {
  *killed = false;
  return putBytes(s, name, bytes, [&](qint64 done, qint64 total) {
    if (!*killed && done >= total / 2) {
      kill();
      *killed = true;
    }
    return true;
  });
}

// Gets `name` while the store's server is down, starting it (`start`) from the progress
// callback, which the first backoff wait calls: the download can only succeed through a retry.
// `*starts` counts the starts.
inline Result<QByteArray> getStartingServerOnRetry(SnapshotStore& s, const QString& name,
                                                   const std::function<Status()>& start,
                                                   int* starts) {
  *starts = 0;
  // At the first progress report, whatever it says: a first attempt on a connection cached from
  // before the kill can move some bytes before it fails (then every report says done > 0), or
  // fail before any report (then the first comes from the wait before the retry).
  return getBytes(s, name, [&](qint64, qint64) {
    if (*starts == 0) {
      ++*starts;
      return start().isOk();
    }
    return true;
  });
}

}  // namespace hl::test
