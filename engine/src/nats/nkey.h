// NKey helpers: nats.c needs the public key next to the seed file (natsOptions_SetNKeyFromSeed),
// while users, as with Go HarmonyLite's `seed_file`, give only the seed. No Debian package
// derives an NKey public key, so this is written here: decode the seed (base32, CRC-16/XMODEM),
// derive the Ed25519 public key with OpenSSL, encode it as an NKey.
// Thread: pure functions, any thread.
#pragma once

#include <QByteArray>
#include <QString>

#include "harmonylite/status.h"

namespace hl {

// The public key ("U...") of the first seed ("S...") found in the file. The seed is wiped
// from memory after use and never logged.
Result<QByteArray> nkeyPublicKeyFromSeedFile(const QString& path);

// Same from the seed text itself.
Result<QByteArray> nkeyPublicKeyFromSeed(const QByteArray& seed);

// Encodes 32 raw seed bytes as a user seed "SU..." (used by tests to make keys).
QByteArray nkeyEncodeUserSeed(const QByteArray& raw32);

}  // namespace hl
