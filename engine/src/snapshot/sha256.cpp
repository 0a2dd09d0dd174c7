#include "snapshot/sha256.h"

#include <openssl/evp.h>

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

HashingDevice::HashingDevice(QIODevice& inner) : m_inner(inner), m_at(inner.pos()) {
  open((inner.openMode() & (QIODevice::ReadOnly | QIODevice::WriteOnly)) | QIODevice::Unbuffered);
}

QString HashingDevice::hex() {
  return QString::fromLatin1(m_sha.result().toHex());
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
    if (n > skip) m_sha.add(data + skip, n - skip);
    m_at += n;
    m_bytes = qMax(m_bytes, m_at);
  }
  if (n < 0) setErrorString(m_inner.errorString());
  return n;
}

qint64 HashingDevice::writeData(const char* data, qint64 size) {
  const qint64 n = m_inner.write(data, size);
  if (n > 0) {
    m_sha.add(data, n);
    m_bytes += n;
  }
  if (n < 0) setErrorString(m_inner.errorString());
  return n;
}

}  // namespace hl
