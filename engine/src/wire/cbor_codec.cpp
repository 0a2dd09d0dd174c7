#include "wire/cbor_codec.h"

#include <QByteArrayView>
#include <QSet>

#include <cbor.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "wire/cbor_head.h"
#include "wire/cbor_writer.h"
#include "wire/compression.h"

namespace hl {

namespace {

// ---------------------------------------------------------------------------------------------
// Encoding

qsizetype encodedSizeHint(const Change& change) {
  qsizetype size = 64 + change.table.size() + change.schemaHash.size();
  for (const auto& [name, value] : change.row) size += name.size() + value.bytes().size() + 12;
  return size;
}

// ---------------------------------------------------------------------------------------------
// Decoding: Reader yields one item header at a time from libcbor's streaming decoder.

struct Item {
  enum class Kind {
    kUnsigned,
    kNegative,
    kBytes,
    kText,
    kBytesChunked,
    kTextChunked,
    kArray,
    kArrayIndefinite,
    kMap,
    kMapIndefinite,
    kTag,
    kFloat,
    kBool,
    kNull,
    kUndefined,
    kBreak,
  };
  Kind kind = Kind::kNull;
  uint64_t number = 0;   // unsigned value; n of the negative -1 - n; array/map length; tag
  double real = 0;       // kFloat
  bool boolean = false;  // kBool
  QByteArrayView data;   // kBytes / kText: the contents, inside the input
  qsizetype offset = 0;  // where the item starts in the input
};

bool isMap(const Item& i) {
  return i.kind == Item::Kind::kMap || i.kind == Item::Kind::kMapIndefinite;
}
bool isText(const Item& i) {
  return i.kind == Item::Kind::kText || i.kind == Item::Kind::kTextChunked;
}

QString kindName(const Item& i) {
  switch (i.kind) {
    case Item::Kind::kUnsigned:
      return QStringLiteral("unsigned int");
    case Item::Kind::kNegative:
      return QStringLiteral("negative int");
    case Item::Kind::kBytes:
      return QStringLiteral("byte string");
    case Item::Kind::kBytesChunked:
      return QStringLiteral("chunked byte string");
    case Item::Kind::kText:
      return QStringLiteral("text string");
    case Item::Kind::kTextChunked:
      return QStringLiteral("chunked text string");
    case Item::Kind::kArray:
    case Item::Kind::kArrayIndefinite:
      return QStringLiteral("array");
    case Item::Kind::kMap:
    case Item::Kind::kMapIndefinite:
      return QStringLiteral("map");
    case Item::Kind::kTag:
      return QStringLiteral("tag %1").arg(i.number);
    case Item::Kind::kFloat:
      return QStringLiteral("float");
    case Item::Kind::kBool:
      return QStringLiteral("bool");
    case Item::Kind::kNull:
      return QStringLiteral("null");
    case Item::Kind::kUndefined:
      return QStringLiteral("undefined");
    case Item::Kind::kBreak:
      return QStringLiteral("break");
  }
  return {};
}

Item& itemOf(void* context) {
  return *static_cast<Item*>(context);
}
void setNumber(void* context, Item::Kind kind, uint64_t n) {
  itemOf(context).kind = kind;
  itemOf(context).number = n;
}
void setKind(void* context, Item::Kind kind) {
  itemOf(context).kind = kind;
}
void setData(void* context, Item::Kind kind, cbor_data data, size_t size) {
  itemOf(context).kind = kind;
  itemOf(context).data = QByteArrayView(reinterpret_cast<const char*>(data), qsizetype(size));
}
void setReal(void* context, double v) {
  itemOf(context).kind = Item::Kind::kFloat;
  itemOf(context).real = v;
}

const cbor_callbacks& itemCallbacks() {
  using K = Item::Kind;
  static const cbor_callbacks callbacks = [] {
    cbor_callbacks c = cbor_empty_callbacks;
    c.uint8 = [](void* x, uint8_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint16 = [](void* x, uint16_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint32 = [](void* x, uint32_t v) { setNumber(x, K::kUnsigned, v); };
    c.uint64 = [](void* x, uint64_t v) { setNumber(x, K::kUnsigned, v); };
    c.negint8 = [](void* x, uint8_t v) { setNumber(x, K::kNegative, v); };
    c.negint16 = [](void* x, uint16_t v) { setNumber(x, K::kNegative, v); };
    c.negint32 = [](void* x, uint32_t v) { setNumber(x, K::kNegative, v); };
    c.negint64 = [](void* x, uint64_t v) { setNumber(x, K::kNegative, v); };
    c.byte_string = [](void* x, cbor_data d, size_t n) { setData(x, K::kBytes, d, n); };
    c.byte_string_start = [](void* x) { setKind(x, K::kBytesChunked); };
    c.string = [](void* x, cbor_data d, size_t n) { setData(x, K::kText, d, n); };
    c.string_start = [](void* x) { setKind(x, K::kTextChunked); };
    c.array_start = [](void* x, size_t n) { setNumber(x, K::kArray, n); };
    c.indef_array_start = [](void* x) { setKind(x, K::kArrayIndefinite); };
    c.map_start = [](void* x, size_t n) { setNumber(x, K::kMap, n); };
    c.indef_map_start = [](void* x) { setKind(x, K::kMapIndefinite); };
    c.tag = [](void* x, uint64_t v) { setNumber(x, K::kTag, v); };
    c.float2 = [](void* x, float v) { setReal(x, v); };
    c.float4 = [](void* x, float v) { setReal(x, v); };
    c.float8 = [](void* x, double v) { setReal(x, v); };
    c.null = [](void* x) { setKind(x, K::kNull); };
    c.undefined = [](void* x) { setKind(x, K::kUndefined); };
    c.boolean = [](void* x, bool v) {
      setKind(x, K::kBool);
      itemOf(x).boolean = v;
    };
    c.indef_break = [](void* x) { setKind(x, K::kBreak); };
    return c;
  }();
  return callbacks;
}

class Reader {
 public:
  explicit Reader(QByteArrayView input) : m_input(input) {}

  Status next(Item* item) {
    *item = Item();
    item->offset = m_pos;
    if (const auto h = longLengthHead(m_input.sliced(m_pos))) {  // (see cbor_head.h)
      if (h->kind == LongLengthHead::Kind::kTextOrBytes) {
        if (h->truncated)
          return Status::poison(QStringLiteral("truncated input at byte %1").arg(m_pos));
      } else {
        item->kind =
            h->kind == LongLengthHead::Kind::kArray ? Item::Kind::kArray : Item::Kind::kMap;
        item->number = h->length;
        m_pos += LongLengthHead::kSize;
        return Status::ok();
      }
    }
    const auto* at = reinterpret_cast<cbor_data>(m_input.data() + m_pos);
    const cbor_decoder_result r =
        cbor_stream_decode(at, size_t(m_input.size() - m_pos), &itemCallbacks(), item);
    switch (r.status) {
      case CBOR_DECODER_FINISHED:
        m_pos += qsizetype(r.read);
        return Status::ok();
      case CBOR_DECODER_NEDATA:
        return Status::poison(QStringLiteral("truncated input at byte %1").arg(m_pos));
      case CBOR_DECODER_ERROR:
        break;
    }
    return Status::poison(QStringLiteral("malformed CBOR at byte %1 (initial byte 0x%2)")
                              .arg(m_pos)
                              .arg(uint(uint8_t(m_input[m_pos])), 2, 16, QLatin1Char('0')));
  }

  qsizetype position() const { return m_pos; }
  bool atEnd() const { return m_pos == m_input.size(); }

 private:
  QByteArrayView m_input;
  qsizetype m_pos = 0;
};

// "YYYY-MM-DD HH:MM:SS+00:00" for unix seconds within years 0001..9999.
Result<QByteArray> utcTimeText(int64_t seconds, const QString& path) {
  constexpr int64_t kYear1 = -62135596800, kYear9999End = 253402300799;
  if (seconds < kYear1 || seconds > kYear9999End)
    return Status::poison(path + QStringLiteral(": time %1 is outside years 1..9999").arg(seconds));
  using namespace std::chrono;
  const sys_seconds time{std::chrono::seconds(seconds)};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[32];
  const int n =
      std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d+00:00", int(date.year()),
                    unsigned(date.month()), unsigned(date.day()), int(clock.hours().count()),
                    int(clock.minutes().count()), int(clock.seconds().count()));
  return QByteArray(text, n);
}

// Where an item is, for error messages ("Payload.Row.title"): made into text only when an error
// names it, not for every field of every message (that was 5% of a receiving node's CPU).
struct Path {
  QByteArrayView name;           // the field, or "message" for the whole
  const Path* parent = nullptr;  // the map holding it; none at the top
  const char* suffix = nullptr;  // a note after it, such as " (tag 32)"
  QString str() const {
    QString field = QString::fromUtf8(name.first(std::min<qsizetype>(64, name.size())));
    if (parent) field = parent->str() + QLatin1Char('.') + field;
    return suffix ? field + QLatin1String(suffix) : field;
  }
};

// Recursive descent over the Reader's items. `depth` is the nesting of the item at hand (the
// envelope is 0); opening a container or tag whose content would lie deeper than
// kMaxCborNesting fails, so recursion is bounded whatever the input declares.
class Parser {
 public:
  explicit Parser(QByteArrayView input) : m_reader(input) {}

  Result<Change> parseEnvelope() {
    Item top;
    HL_RETURN_IF_ERROR(m_reader.next(&top));
    const Path message{"message"};
    if (!isMap(top)) return wrongType(message, "map", top);
    Change change;
    bool seenNode = false, seenPayload = false;
    HL_RETURN_IF_ERROR(forEachEntry(top, 0, [&](const Item& key) -> Status {
      QByteArray name;
      HL_RETURN_IF_ERROR(readKey(key, 1, message, &name));
      Item value;
      HL_RETURN_IF_ERROR(m_reader.next(&value));
      if (name == "FromNodeId") {
        HL_RETURN_IF_ERROR(firstTime(&seenNode, Path{"FromNodeId"}));
        if (value.kind != Item::Kind::kUnsigned)
          return wrongType(Path{"FromNodeId"}, "unsigned int", value);
        change.fromNodeId = value.number;
        return Status::ok();
      }
      if (name == "Payload") {
        HL_RETURN_IF_ERROR(firstTime(&seenPayload, Path{"Payload"}));
        return parsePayload(value, 1, &change);
      }
      return skip(value, 1, name.isEmpty() ? message : Path{name});
    }));
    if (!seenNode) return missing(Path{"FromNodeId"});
    if (!seenPayload) return missing(Path{"Payload"});
    if (!m_reader.atEnd())
      return Status::poison(QStringLiteral("trailing bytes at byte %1").arg(m_reader.position()));
    return change;
  }

 private:
  static Status wrongType(const Path& path, const char* expected, const Item& got) {
    return Status::poison(QStringLiteral("%1: expected %2, got %3 at byte %4")
                              .arg(path.str(), QLatin1String(expected), kindName(got))
                              .arg(got.offset));
  }
  static Status missing(const Path& path) {
    return Status::poison(QStringLiteral("missing ") + path.str());
  }
  static Status firstTime(bool* seen, const Path& path) {
    if (*seen) return Status::poison(path.str() + QStringLiteral(": duplicate key"));
    *seen = true;
    return Status::ok();
  }
  Status enter(const Item& container, int depth) const {
    if (depth + 1 > kMaxCborNesting)
      return Status::poison(QStringLiteral("nesting deeper than %1 at byte %2")
                                .arg(kMaxCborNesting)
                                .arg(container.offset));
    return Status::ok();
  }

  // Calls onEntry(key header) for each entry of the map `map` (at `depth`) just read; onEntry
  // consumes the key's body and the value.
  template <typename OnEntry>
  Status forEachEntry(const Item& map, int depth, OnEntry&& onEntry) {
    HL_RETURN_IF_ERROR(enter(map, depth));
    const bool indefinite = map.kind == Item::Kind::kMapIndefinite;
    for (uint64_t i = 0; indefinite || i < map.number; ++i) {
      Item key;
      HL_RETURN_IF_ERROR(m_reader.next(&key));
      if (indefinite && key.kind == Item::Kind::kBreak) break;
      HL_RETURN_IF_ERROR(onEntry(key));
    }
    return Status::ok();
  }

  // A text key's contents into `name`; a key of any other kind is skipped and leaves `name`
  // empty (no field is called that), so the entry is ignored.
  Status readKey(const Item& key, int depth, const Path& mapPath, QByteArray* name) {
    if (isText(key)) return readString(key, mapPath, name);
    name->clear();
    return skip(key, depth, mapPath);
  }

  // The contents of a text or byte string, definite or chunked; text must be valid UTF-8.
  Status readString(const Item& head, const Path& path, QByteArray* out) {
    const bool text = isText(head);
    if (head.kind == Item::Kind::kText || head.kind == Item::Kind::kBytes) {
      *out = head.data.toByteArray();
    } else {
      const Item::Kind chunkKind = text ? Item::Kind::kText : Item::Kind::kBytes;
      out->clear();
      for (;;) {
        Item chunk;
        HL_RETURN_IF_ERROR(m_reader.next(&chunk));
        if (chunk.kind == Item::Kind::kBreak) break;
        if (chunk.kind != chunkKind)
          return Status::poison(QStringLiteral("%1: %2 as a chunk of a %3 at byte %4")
                                    .arg(path.str(), kindName(chunk), kindName(head))
                                    .arg(chunk.offset));
        out->append(chunk.data);
      }
    }
    if (text && !isValidUtf8(*out))
      return Status::poison(path.str() + QStringLiteral(": invalid UTF-8"));
    return Status::ok();
  }

  // Consumes the rest of an item whose header was just read (an ignored field).
  Status skip(const Item& item, int depth, const Path& path) {
    switch (item.kind) {
      case Item::Kind::kText:
      case Item::Kind::kTextChunked:
      case Item::Kind::kBytes:
      case Item::Kind::kBytesChunked: {
        QByteArray ignored;
        return readString(item, path, &ignored);
      }
      case Item::Kind::kArray:
      case Item::Kind::kArrayIndefinite: {
        HL_RETURN_IF_ERROR(enter(item, depth));
        const bool indefinite = item.kind == Item::Kind::kArrayIndefinite;
        for (uint64_t i = 0; indefinite || i < item.number; ++i) {
          Item element;
          HL_RETURN_IF_ERROR(m_reader.next(&element));
          if (indefinite && element.kind == Item::Kind::kBreak) break;
          HL_RETURN_IF_ERROR(skip(element, depth + 1, path));
        }
        return Status::ok();
      }
      case Item::Kind::kMap:
      case Item::Kind::kMapIndefinite:
        return forEachEntry(item, depth, [&](const Item& key) -> Status {
          HL_RETURN_IF_ERROR(skip(key, depth + 1, path));
          Item value;
          HL_RETURN_IF_ERROR(m_reader.next(&value));
          return skip(value, depth + 1, path);
        });
      case Item::Kind::kTag: {
        HL_RETURN_IF_ERROR(enter(item, depth));
        Item content;
        HL_RETURN_IF_ERROR(m_reader.next(&content));
        return skip(content, depth + 1, path);
      }
      case Item::Kind::kBreak:
        return Status::poison(
            QStringLiteral("%1: unexpected break at byte %2").arg(path.str()).arg(item.offset));
      default:
        return Status::ok();  // numbers and simple values have no body
    }
  }

  static Status toInt64(const Item& item, const Path& path, int64_t* out) {
    if (item.kind != Item::Kind::kUnsigned && item.kind != Item::Kind::kNegative)
      return wrongType(path, "int", item);
    if (item.number > uint64_t(INT64_MAX))
      return Status::poison(path.str() + QStringLiteral(": integer outside the int64 range"));
    // -1 - n for n <= INT64_MAX is at least INT64_MIN: no overflow.
    *out = item.kind == Item::Kind::kUnsigned ? int64_t(item.number) : -1 - int64_t(item.number);
    return Status::ok();
  }

  Status readText(const Item& item, const Path& path, QByteArray* out) {
    if (!isText(item)) return wrongType(path, "text string", item);
    return readString(item, path, out);
  }

  Status parsePayload(const Item& payload, int depth, Change* change) {
    const Path path{"Payload"};
    if (!isMap(payload)) return wrongType(path, "map", payload);
    bool seenId = false, seenType = false, seenTable = false, seenRow = false, seenHash = false;
    HL_RETURN_IF_ERROR(forEachEntry(payload, depth, [&](const Item& key) -> Status {
      QByteArray name;
      HL_RETURN_IF_ERROR(readKey(key, depth + 1, path, &name));
      const Path field{name, &path};
      Item value;
      HL_RETURN_IF_ERROR(m_reader.next(&value));
      QByteArray text;
      if (name == "Id") {
        HL_RETURN_IF_ERROR(firstTime(&seenId, field));
        return toInt64(value, field, &change->id);
      }
      if (name == "Type") {
        HL_RETURN_IF_ERROR(firstTime(&seenType, field));
        HL_RETURN_IF_ERROR(readText(value, field, &text));
        return parseType(text, field, &change->type);
      }
      if (name == "TableName") {
        HL_RETURN_IF_ERROR(firstTime(&seenTable, field));
        HL_RETURN_IF_ERROR(readText(value, field, &text));
        change->table = QString::fromUtf8(text);
        return Status::ok();
      }
      if (name == "Row") {
        HL_RETURN_IF_ERROR(firstTime(&seenRow, field));
        return parseRow(value, depth + 1, field, &change->row);
      }
      if (name == "sh") {
        HL_RETURN_IF_ERROR(firstTime(&seenHash, field));
        HL_RETURN_IF_ERROR(readText(value, field, &text));
        change->schemaHash = QString::fromUtf8(text);
        return Status::ok();
      }
      return skip(value, depth + 1, field);
    }));
    if (!seenId) return missing(Path{"Id", &path});
    if (!seenType) return missing(Path{"Type", &path});
    if (!seenTable) return missing(Path{"TableName", &path});
    if (!seenRow) return missing(Path{"Row", &path});
    return Status::ok();
  }

  static Status parseType(const QByteArray& text, const Path& path, ChangeType* out) {
    const QByteArray lower = text.toLower();  // Go writes lower case; accept any case
    for (const ChangeType t : {ChangeType::kInsert, ChangeType::kUpdate, ChangeType::kDelete}) {
      if (lower == changeTypeName(t)) {
        *out = t;
        return Status::ok();
      }
    }
    return Status::poison(
        path.str() +
        QStringLiteral(": unknown change type '%1'").arg(QString::fromUtf8(text.left(32))));
  }

  Status parseRow(const Item& row, int depth, const Path& path, RowImage* out) {
    if (!isMap(row)) return wrongType(path, "map", row);
    QSet<QByteArray> seen;
    return forEachEntry(row, depth, [&](const Item& key) -> Status {
      if (!isText(key))
        return Status::poison(QStringLiteral("%1: column name must be text, got %2 at byte %3")
                                  .arg(path.str(), kindName(key))
                                  .arg(key.offset));
      QByteArray name;
      HL_RETURN_IF_ERROR(readString(key, path, &name));
      const Path column{name, &path};
      if (seen.contains(name))
        return Status::poison(column.str() + QStringLiteral(": duplicate column"));
      seen.insert(name);
      Item value;
      HL_RETURN_IF_ERROR(m_reader.next(&value));
      Result<Value> v = rowValue(value, depth + 1, column);
      if (!v.ok()) return v.status();
      out->append({QString::fromUtf8(name), std::move(v).value()});
      return Status::ok();
    });
  }

  Result<Value> rowValue(const Item& item, int depth, const Path& path) {
    switch (item.kind) {
      case Item::Kind::kNull:
      case Item::Kind::kUndefined:
        return Value::null();
      case Item::Kind::kBool:
        return Value::integer(item.boolean ? 1 : 0);
      case Item::Kind::kFloat:
        return Value::real(item.real);
      case Item::Kind::kUnsigned:
      case Item::Kind::kNegative: {
        int64_t v = 0;
        HL_RETURN_IF_ERROR(toInt64(item, path, &v));
        return Value::integer(v);
      }
      case Item::Kind::kText:
      case Item::Kind::kTextChunked:
      case Item::Kind::kBytes:
      case Item::Kind::kBytesChunked: {
        QByteArray bytes;
        HL_RETURN_IF_ERROR(readString(item, path, &bytes));
        return isText(item) ? Value::text(std::move(bytes)) : Value::blob(std::move(bytes));
      }
      case Item::Kind::kTag:
        if (item.number == 32) return timeValue(item, depth, path);
        return Status::poison(QStringLiteral("%1: unsupported tag %2 at byte %3")
                                  .arg(path.str())
                                  .arg(item.number)
                                  .arg(item.offset));
      default:
        return wrongType(path, "a column value", item);
    }
  }

  // Tag 32 wrapping {1: <unix seconds> | null}: how Go sends DATE/DATETIME/TIMESTAMP columns.
  Result<Value> timeValue(const Item& tag, int depth, const Path& path) {
    HL_RETURN_IF_ERROR(enter(tag, depth));
    Item map;
    HL_RETURN_IF_ERROR(m_reader.next(&map));
    if (!isMap(map)) return wrongType(Path{path.name, path.parent, " (tag 32)"}, "map", map);
    std::optional<Value> time;
    HL_RETURN_IF_ERROR(forEachEntry(map, depth + 1, [&](const Item& key) -> Status {
      HL_RETURN_IF_ERROR(skip(key, depth + 2, path));
      Item value;
      HL_RETURN_IF_ERROR(m_reader.next(&value));
      if (key.kind != Item::Kind::kUnsigned || key.number != 1) return skip(value, depth + 2, path);
      if (time) return Status::poison(path.str() + QStringLiteral(": tag 32 has key 1 twice"));
      if (value.kind == Item::Kind::kNull) {
        time = Value::null();
        return Status::ok();
      }
      int64_t seconds = 0;
      HL_RETURN_IF_ERROR(
          toInt64(value, Path{path.name, path.parent, " (tag 32 seconds)"}, &seconds));
      Result<QByteArray> text = utcTimeText(seconds, path.str());
      if (!text.ok()) return text.status();
      time = Value::text(std::move(text).value());
      return Status::ok();
    }));
    if (!time) return Status::poison(path.str() + QStringLiteral(": tag 32 map has no key 1"));
    return *time;
  }

  Reader m_reader;
};

}  // namespace

QByteArray encodeChange(const Change& change) {
  CborWriter w(encodedSizeHint(change));
  w.mapStart(2);
  w.text("FromNodeId");
  w.unsignedInt(change.fromNodeId);
  w.text("Payload");
  w.mapStart(change.schemaHash.isEmpty() ? 4 : 5);
  w.text("Id");
  w.integer(change.id);
  w.text("Type");
  w.text(changeTypeName(change.type));
  w.text("TableName");
  w.text(change.table.toUtf8());
  w.text("Row");
  w.mapStart(size_t(change.row.size()));
  for (const auto& [name, value] : change.row) {
    w.text(name.toUtf8());
    w.value(value, CborWriter::InvalidUtf8::kAsBytes);
  }
  if (!change.schemaHash.isEmpty()) {
    w.text("sh");
    w.text(change.schemaHash.toUtf8());
  }
  return w.take();
}

Result<Change> decodeChange(const QByteArray& cbor, qsizetype maxBytes) {
  if (cbor.isEmpty()) return Status::poison(QStringLiteral("empty message"));
  if (cbor.size() > maxBytes)
    return Status::poison(QStringLiteral("message of %1 bytes exceeds the limit of %2")
                              .arg(cbor.size())
                              .arg(maxBytes));
  return Parser(cbor).parseEnvelope();
}

QByteArray encodeMessage(const Change& change, bool compress) {
  QByteArray cbor = encodeChange(change);
  return compress ? compressPayload(cbor) : cbor;
}

Result<Change> decodeMessage(const QByteArray& natsPayload, qsizetype maxBytes) {
  Result<QByteArray> cbor = maybeDecompress(natsPayload, maxBytes);
  if (!cbor.ok()) return cbor.status();
  return decodeChange(*cbor, maxBytes);
}

}  // namespace hl
