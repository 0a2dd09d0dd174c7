#include "wire/seq_map.h"

#include <cbor.h>

#include "wire/cbor_head.h"
#include "wire/cbor_writer.h"  // isValidUtf8

namespace hl {

namespace {

// One item header, as much of it as a seq map needs.
struct Head {
  enum class Kind { kOther, kUnsigned, kText, kMap, kMapIndefinite, kBreak };
  Kind kind = Kind::kOther;
  uint64_t number = 0;  // kUnsigned: the value; kMap: the declared entry count
  QByteArrayView text;  // kText: the contents, inside the input
};

Head& headOf(void* context) {
  return *static_cast<Head*>(context);
}
void setNumber(void* x, Head::Kind kind, uint64_t n) {
  headOf(x).kind = kind;
  headOf(x).number = n;
}

const cbor_callbacks& headCallbacks() {
  using K = Head::Kind;
  static const cbor_callbacks callbacks = [] {
    cbor_callbacks c = cbor_empty_callbacks;  // every other item stays kOther
    c.uint8 = [](void* x, uint8_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint16 = [](void* x, uint16_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint32 = [](void* x, uint32_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint64 = [](void* x, uint64_t v) { setNumber(x, K::kUnsigned, v); };
    c.string = [](void* x, cbor_data d, size_t n) {
      headOf(x).kind = K::kText;
      headOf(x).text = QByteArrayView(reinterpret_cast<const char*>(d), qsizetype(n));
    };
    c.map_start = [](void* x, size_t n) { setNumber(x, K::kMap, n); };
    c.indef_map_start = [](void* x) { headOf(x).kind = K::kMapIndefinite; };
    c.indef_break = [](void* x) { headOf(x).kind = K::kBreak; };
    return c;
  }();
  return callbacks;
}

}  // namespace

Result<QHash<QString, quint64>> parseSeqMap(QByteArrayView bytes, const QString& source) {
  const auto bad = [&](const QString& what) {
    return Status::corruption(
        QStringLiteral("%1 is not a valid seq-map file (a CBOR map of stream sequences): %2")
            .arg(source, what));
  };
  if (bytes.isEmpty()) return bad(QStringLiteral("the file is empty"));
  if (bytes.size() > kMaxSeqMapBytes)
    return bad(QStringLiteral("%1 bytes, more than the limit of %2")
                   .arg(bytes.size())
                   .arg(kMaxSeqMapBytes));
  qsizetype pos = 0;
  // The next item header; an error names the byte.
  const auto next = [&](Head* head) -> Status {
    *head = Head();
    if (const auto h = longLengthHead(bytes.sliced(pos))) {  // (see cbor_head.h)
      if (h->kind == LongLengthHead::Kind::kMap) {
        head->kind = Head::Kind::kMap;
        head->number = h->length;
        pos += LongLengthHead::kSize;
        return Status::ok();
      }
      if (h->truncated) return bad(QStringLiteral("truncated at byte %1").arg(pos));
      // (an array, or a string that fits: libcbor reads it right)
    }
    const cbor_decoder_result r =
        cbor_stream_decode(reinterpret_cast<cbor_data>(bytes.data() + pos),
                           size_t(bytes.size() - pos), &headCallbacks(), head);
    if (r.status == CBOR_DECODER_FINISHED) {
      pos += qsizetype(r.read);
      return Status::ok();
    }
    if (r.status == CBOR_DECODER_NEDATA)
      return bad(QStringLiteral("truncated at byte %1").arg(pos));
    return bad(QStringLiteral("malformed CBOR at byte %1").arg(pos));
  };

  Head top;
  HL_RETURN_IF_ERROR(next(&top));
  if (top.kind != Head::Kind::kMap && top.kind != Head::Kind::kMapIndefinite)
    return bad(QStringLiteral("it does not start with a map"));
  const bool indefinite = top.kind == Head::Kind::kMapIndefinite;
  QHash<QString, quint64> out;
  for (uint64_t i = 0; indefinite || i < top.number; ++i) {
    Head key;
    const qsizetype keyAt = pos;
    HL_RETURN_IF_ERROR(next(&key));
    if (indefinite && key.kind == Head::Kind::kBreak) break;
    if (key.kind != Head::Kind::kText)
      return bad(QStringLiteral("the key at byte %1 is not a definite text string").arg(keyAt));
    if (!isValidUtf8(key.text))
      return bad(QStringLiteral("the key at byte %1 is not valid UTF-8").arg(keyAt));
    const QString stream = QString::fromUtf8(key.text);
    if (out.contains(stream))
      return bad(QStringLiteral("stream \"%1\" appears twice").arg(stream.left(64)));
    Head value;
    const qsizetype valueAt = pos;
    HL_RETURN_IF_ERROR(next(&value));
    if (value.kind != Head::Kind::kUnsigned)
      return bad(QStringLiteral("the value at byte %1 is not an unsigned integer").arg(valueAt));
    out.insert(stream, quint64(value.number));
  }
  if (pos != bytes.size()) return bad(QStringLiteral("trailing bytes at byte %1").arg(pos));
  return out;
}

}  // namespace hl
