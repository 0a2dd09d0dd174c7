#include "snapshot/sha256.h"

#include <openssl/evp.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace hl {

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  m_ok = m_ctx && EVP_DigestInit_ex(m_ctx, EVP_sha256(), nullptr) == 1;
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(m_ctx);
}

void Sha256::add(const char* data, qint64 size) {
  if (m_ok && size > 0) m_ok = EVP_DigestUpdate(m_ctx, data, size_t(size)) == 1;
}

QByteArray Sha256::result() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!m_ok || EVP_DigestFinal_ex(m_ctx, out, &len) != 1) return {};
  m_ok = false;
  return QByteArray(reinterpret_cast<const char*>(out), int(len));
}

struct HashingDevice::Hasher {
  Sha256 sha;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<QByteArray> queue;
  qint64 queued = 0;  // bytes in `queue`
  bool closing = false;
  std::thread thread{[this] { run(); }};

  ~Hasher() { finish(); }
  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return closing || !queue.empty(); });
      if (queue.empty()) return;  // closing, and everything hashed
      const QByteArray chunk = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      sha.add(chunk.constData(), chunk.size());
      lock.lock();
      queued -= chunk.size();
      changed.notify_all();
    }
  }
  void push(const char* data, qint64 size) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return queued < kQueueBytes; });
    queue.emplace_back(data, qsizetype(size));
    queued += size;
    changed.notify_all();
  }
  // Waits until everything queued is hashed; the thread ends.
  void finish() {
    {
      std::lock_guard lock(mutex);
      closing = true;
      changed.notify_all();
    }
    if (thread.joinable()) thread.join();
  }
};

HashingDevice::HashingDevice(QIODevice& inner)
    : m_inner(inner), m_hasher(std::make_unique<Hasher>()), m_at(inner.pos()) {
  open((inner.openMode() & (QIODevice::ReadOnly | QIODevice::WriteOnly)) | QIODevice::Unbuffered);
}

HashingDevice::~HashingDevice() = default;

void HashingDevice::feed(const char* data, qint64 size) {
  if (size > 0) m_hasher->push(data, size);
}

QString HashingDevice::hex() {
  m_hasher->finish();
  return QString::fromLatin1(m_hasher->sha.result().toHex());
}

bool HashingDevice::isSequential() const {
  return !(openMode() & QIODevice::ReadOnly) || m_inner.isSequential();
}

bool HashingDevice::seek(qint64 pos) {
  if (isSequential() || pos < 0 || pos > m_bytes || !m_inner.seek(pos)) return false;
  m_at = pos;
  return QIODevice::seek(pos);
}

qint64 HashingDevice::size() const {
  return isSequential() ? QIODevice::size() : m_inner.size();
}

qint64 HashingDevice::readData(char* data, qint64 maxSize) {
  const qint64 n = m_inner.read(data, maxSize);
  if (n > 0) {
    // Only the bytes beyond what was hashed already (a re-read after a seek back).
    const qint64 skip = qMin(n, qMax<qint64>(0, m_bytes - m_at));
    if (n > skip) feed(data + skip, n - skip);
    m_at += n;
    m_bytes = qMax(m_bytes, m_at);
  }
  if (n < 0) setErrorString(m_inner.errorString());
  return n;
}

qint64 HashingDevice::writeData(const char* data, qint64 size) {
  const qint64 n = m_inner.write(data, size);
  if (n > 0) {
    feed(data, n);
    m_bytes += n;
  }
  if (n < 0) setErrorString(m_inner.errorString());
  return n;
}

}  // namespace hl
