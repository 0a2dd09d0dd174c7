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

HashingDevice::HashingDevice(QIODevice& inner) : m_inner(inner) {
  open((inner.openMode() & (QIODevice::ReadOnly | QIODevice::WriteOnly)) | QIODevice::Unbuffered);
}

QString HashingDevice::hex() {
  return QString::fromLatin1(m_sha.result().toHex());
}

qint64 HashingDevice::readData(char* data, qint64 maxSize) {
  const qint64 n = m_inner.read(data, maxSize);
  if (n > 0) {
    m_sha.add(data, n);
    m_bytes += n;
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
