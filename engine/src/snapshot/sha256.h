// SHA-256 for snapshot files and objects, by OpenSSL's libcrypto (linked already, for NKeys):
// measured ten times faster here than Qt 6.4's QCryptographicHash (1.2 GB/s against
// 130 MB/s), which capped saving and restoring (bench/snapshot_bench.cpp). HashingDevice hashes
// what passes through it, so that a file is hashed while it is uploaded or downloaded instead
// of being read once more.
// Thread: value types; one thread at a time.
#pragma once

#include <QByteArray>
#include <QIODevice>
#include <QString>

#include <memory>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace hl {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void add(const char* data, qint64 size);
  // The 32 bytes (once); empty when OpenSSL failed.
  QByteArray result();

 private:
  EVP_MD_CTX* m_ctx;
  bool m_ok = false;
};

// Passes reads from (or writes to) `inner` through, hashing the bytes. Opened unbuffered in
// the one direction `inner` is open in. A reading device over a seekable `inner` may seek back
// (a store retrying an upload sends bytes again): every byte is hashed once, in order, the
// first time it is read, so the digest is of the stream 0..bytes() however often parts were
// re-read. Seeking past what was read, and seeking a writing device, are refused.
//
// The hashing runs on a thread of its own, fed through a bounded queue (at most kQueueBytes
// copied and waiting), so that it overlaps the transfer instead of adding to it: on a fast link
// SHA-256 (about 1.2 GB/s here) would otherwise cost as much as the transfer itself
// (bench/store_bench.cpp measures both).
class HashingDevice final : public QIODevice {
 public:
  static constexpr qint64 kQueueBytes = 8LL << 20;

  explicit HashingDevice(QIODevice& inner);
  ~HashingDevice() override;
  bool isSequential() const override;
  bool seek(qint64 pos) override;
  qint64 size() const override;
  // Bytes hashed: the furthest point read (or written).
  qint64 bytes() const { return m_bytes; }
  // Lower-case hex of everything that passed; call once, at the end.
  QString hex();

 protected:
  qint64 readData(char* data, qint64 maxSize) override;
  qint64 writeData(const char* data, qint64 size) override;

 private:
  void feed(const char* data, qint64 size);

  struct Hasher;  // the thread and its queue (sha256.cpp)
  QIODevice& m_inner;
  std::unique_ptr<Hasher> m_hasher;
  qint64 m_bytes = 0;
  qint64 m_at = 0;  // inner position (reading)
};

}  // namespace hl
