// Reading and binding a Value with its storage class kept (engine thread, like the statement).
#pragma once

#include "sqlite/sqlite_db.h"
#include "wire/value.h"

namespace hl {

inline Value readValue(const SqliteStmt& s, int col) {
  switch (s.columnType(col)) {
    case SQLITE_INTEGER:
      return Value::integer(s.columnInt(col));
    case SQLITE_FLOAT:
      return Value::real(s.columnDouble(col));
    case SQLITE_TEXT:
      return Value::text(s.columnBytes(col));
    case SQLITE_BLOB:
      return Value::blob(s.columnBytes(col));
    default:
      return Value::null();
  }
}

inline Status bindValue(SqliteStmt& s, int index, const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return s.bindNull(index);
    case Value::Type::kInteger:
      return s.bindInt(index, v.asInteger());
    case Value::Type::kReal:
      return s.bindDouble(index, v.asReal());
    case Value::Type::kText:
      return s.bindText(index, v.bytes());
    case Value::Type::kBlob:
      return s.bindBlob(index, v.bytes());
  }
  return Status::ok();
}

}  // namespace hl
