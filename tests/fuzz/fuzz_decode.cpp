// libFuzzer target for the receive path: decodeMessage (zstd sniffing, bounded decompression,
// the CBOR envelope parser) on arbitrary bytes. Every rejection must be a kPoison status; every
// accepted message must survive a re-encode (plain and compressed) and decode to the same
// Change, and must have a shard in range. Anything else aborts, and so does any sanitizer report.
#include <QByteArray>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wire/cbor_codec.h"
#include "wire/shard.h"

namespace {

bool same(const hl::Change& a, const hl::Change& b) {
  return a.fromNodeId == b.fromNodeId && a.id == b.id && a.type == b.type && a.table == b.table &&
         a.schemaHash == b.schemaHash && a.row == b.row;
}

[[noreturn]] void fail(const char* what, const hl::Status& status) {
  std::fprintf(stderr, "fuzz_decode: %s: %s\n", what, qPrintable(status.toString()));
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const QByteArray input =
      QByteArray::fromRawData(reinterpret_cast<const char*>(data), qsizetype(size));
  const hl::Result<hl::Change> first = hl::decodeMessage(input);
  if (!first.ok()) {
    if (first.status().code() != hl::Status::Code::kPoison)
      fail("rejected, not poison", first.status());
    return 0;
  }
  for (const bool compress : {false, true}) {
    const hl::Result<hl::Change> again = hl::decodeMessage(hl::encodeMessage(*first, compress));
    if (!again.ok()) fail("re-encoded message rejected", again.status());
    if (!same(*first, *again)) fail("re-encoded message differs", hl::Status::ok());
  }
  const int shard = hl::shardFor(first->table, first->row, 3);
  if (shard < 1 || shard > 3) fail("shard out of range", hl::Status::ok());
  return 0;
}
