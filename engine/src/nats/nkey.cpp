#include "nats/nkey.h"

#include <QFile>

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace hl {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr uint8_t kPrefixSeed = 18 << 3;  // 'S'
constexpr uint8_t kPrefixUser = 20 << 3;  // 'U'

uint16_t crc16(const QByteArray& data) {  // CRC-16/XMODEM, as the nkeys library uses
  uint16_t crc = 0;
  for (char c : data) {
    crc ^= uint16_t(uint8_t(c)) << 8;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) ? uint16_t((crc << 1) ^ 0x1021) : uint16_t(crc << 1);
  }
  return crc;
}

QByteArray base32Encode(const QByteArray& in) {
  QByteArray out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    buffer = (buffer << 8) | uint8_t(c);
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

bool base32Decode(const QByteArray& in, QByteArray* out) {
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kAlphabet, c);
    if (!p || c == 0) return false;
    buffer = (buffer << 5) | uint32_t(p - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      *out += char((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return true;
}

QByteArray withCrc(QByteArray raw) {
  const uint16_t crc = crc16(raw);
  raw += char(crc & 0xff);
  raw += char(crc >> 8);
  return raw;
}

}  // namespace

QByteArray nkeyEncodeUserSeed(const QByteArray& raw32) {
  QByteArray raw;
  raw += char(kPrefixSeed | (kPrefixUser >> 5));
  raw += char((kPrefixUser & 31) << 3);
  raw += raw32;
  return base32Encode(withCrc(raw));
}

Result<QByteArray> nkeyPublicKeyFromSeed(const QByteArray& seed) {
  QByteArray raw;
  if (!base32Decode(seed.trimmed(), &raw) || raw.size() != 36)
    return Status::invalidArgument("not an NKey seed");
  const QByteArray body = raw.left(34);
  const uint16_t crc = uint16_t(uint8_t(raw[34])) | uint16_t(uint8_t(raw[35])) << 8;
  if (crc16(body) != crc) {
    OPENSSL_cleanse(raw.data(), size_t(raw.size()));
    return Status::invalidArgument("NKey seed checksum mismatch");
  }
  const uint8_t b0 = uint8_t(raw[0]), b1 = uint8_t(raw[1]);
  const uint8_t type = uint8_t(((b0 & 7) << 5) | ((b1 & 0xf8) >> 3));
  if ((b0 & 0xf8) != kPrefixSeed) return Status::invalidArgument("not an NKey seed");
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.constData() + 2), 32);
  OPENSSL_cleanse(raw.data(), size_t(raw.size()));
  if (!key) return Status::internal("Ed25519 key from seed failed");
  unsigned char pub[32];
  size_t len = sizeof pub;
  const int ok = EVP_PKEY_get_raw_public_key(key, pub, &len);
  EVP_PKEY_free(key);
  if (ok != 1 || len != 32) return Status::internal("Ed25519 public key failed");
  QByteArray encoded;
  encoded += char(type);
  encoded += QByteArray(reinterpret_cast<const char*>(pub), 32);
  return base32Encode(withCrc(encoded));
}

Result<QByteArray> nkeyPublicKeyFromSeedFile(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return Status::ioError(QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
  QByteArray text = f.readAll();
  Result<QByteArray> result =
      Status::invalidArgument(QStringLiteral("%1 holds no NKey seed").arg(path));
  for (const QByteArray& line : text.split('\n')) {
    const QByteArray t = line.trimmed();
    if (t.startsWith('S') && t.size() >= 50) {
      result = nkeyPublicKeyFromSeed(t);
      break;
    }
  }
  OPENSSL_cleanse(text.data(), size_t(text.size()));
  if (!result.ok()) return result.status().withContext(path);
  return result;
}

}  // namespace hl
