// The engine's state enums (harmonylite/engine_state.h: ShardState, ServerState) as QML sees
// them: the type `Hl` of the module HarmonyLite.Backend, so that QML compares states as
// `Hl.ShardState.Running` and qmllint knows the values. The engine links no Qt Qml, so the QML
// registration lives here, as a foreign namespace (app/CMakeLists.txt hands qmltyperegistrar
// the metatypes of engine_state.h). Declarations only: no thread, nothing owned.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QObject>

#include "harmonylite/engine_state.h"

namespace hl::qml_foreign {
Q_NAMESPACE
QML_FOREIGN_NAMESPACE(hl)
QML_NAMED_ELEMENT(Hl)
}  // namespace hl::qml_foreign
