// CborBuilder: CBOR written byte by byte the way Go's encoder (fxamacker/cbor) writes it:
// shortest heads, definite lengths unless asked otherwise, in the order the calls come.
// Independent of the engine's encoder on purpose, so tests can build Go-format and hostile
// messages by hand. Header-only; any thread.
#pragma once

#include <QByteArray>

#include <cstdint>

namespace hl::test {

class CborBuilder {
 public:
  CborBuilder& head(int major, uint64_t n) {
    const char m = char(major << 5);
    if (n < 24) {
      m_b.append(char(m | char(n)));
    } else if (n <= 0xff) {
      m_b.append(char(m | 24));
      bigEndian(n, 1);
    } else if (n <= 0xffff) {
      m_b.append(char(m | 25));
      bigEndian(n, 2);
    } else if (n <= 0xffffffffULL) {
      m_b.append(char(m | 26));
      bigEndian(n, 4);
    } else {
      m_b.append(char(m | 27));
      bigEndian(n, 8);
    }
    return *this;
  }
  CborBuilder& integer(int64_t v) {
    return v >= 0 ? head(0, uint64_t(v)) : head(1, uint64_t(-1 - v));
  }
  CborBuilder& text(const QByteArray& s) {
    head(3, uint64_t(s.size()));
    m_b += s;
    return *this;
  }
  CborBuilder& text(const char* s) { return text(QByteArray(s)); }
  CborBuilder& bytes(const QByteArray& s) {  // a byte string
    head(2, uint64_t(s.size()));
    m_b += s;
    return *this;
  }
  CborBuilder& map(uint64_t n) { return head(5, n); }
  CborBuilder& indefiniteMap() { return raw("\xbf"); }
  CborBuilder& breakCode() { return raw("\xff"); }
  CborBuilder& null() { return raw("\xf6"); }
  CborBuilder& boolean(bool v) { return raw(v ? "\xf5" : "\xf4"); }
  CborBuilder& tag(uint64_t n) { return head(6, n); }
  CborBuilder& raw(const QByteArray& bytes) {
    m_b += bytes;
    return *this;
  }
  // What was written.
  QByteArray bytes() const { return m_b; }
  QByteArray data() const { return m_b; }

 private:
  void bigEndian(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) m_b.append(char((v >> (8 * i)) & 0xff));
  }
  QByteArray m_b;
};

}  // namespace hl::test
