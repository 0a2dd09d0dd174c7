// libFuzzer target for the seq-map reader (docs/wire-format.md#seq-map): parseSeqMap on arbitrary
// bytes. Every rejection must be a kCorruption status naming the file; every accepted map must
// survive being written in Go's form (a definite map, names sorted) and read again unchanged.
// Anything else aborts, and so does any sanitizer report.
#include <QByteArray>
#include <QStringList>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wire/cbor_writer.h"
#include "wire/seq_map.h"

namespace {

[[noreturn]] void fail(const char* what, const hl::Status& status) {
  std::fprintf(stderr, "fuzz_seq_map: %s: %s\n", what, qPrintable(status.toString()));
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const QString source = QStringLiteral("/fuzz/seq-map.cbor");
  const QByteArrayView input(reinterpret_cast<const char*>(data), qsizetype(size));
  const auto first = hl::parseSeqMap(input, source);
  if (!first.ok()) {
    if (first.status().code() != hl::Status::Code::kCorruption)
      fail("rejected, not corruption", first.status());
    if (!first.status().message().startsWith(source))
      fail("the error does not name the file", first.status());
    return 0;
  }
  QStringList streams = first->keys();
  std::sort(streams.begin(), streams.end());
  hl::CborWriter w;
  w.mapStart(size_t(streams.size()));
  for (const QString& s : streams) {
    w.text(s.toUtf8());
    w.unsignedInt(first->value(s));
  }
  const auto again = hl::parseSeqMap(w.take(), source);
  if (!again.ok()) fail("re-written map rejected", again.status());
  if (*again != *first) fail("re-written map differs", hl::Status::ok());
  return 0;
}
