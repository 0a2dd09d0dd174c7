// The dashboard's look in one place: colours, sizes and spacing. Readable at 1280x800.
pragma Singleton
import QtQuick

QtObject {
  readonly property color background: "#f3f5f8"
  readonly property color surface: "#ffffff"
  readonly property color surfaceAlt: "#f8fafc"
  readonly property color border: "#dde3ea"
  readonly property color text: "#1d2733"
  readonly property color textMuted: "#5c6b7a"
  readonly property color accent: "#2563a8"
  readonly property color accentSoft: "#e3edf8"
  readonly property color good: "#1f8a4c"
  readonly property color goodSoft: "#e2f4ea"
  readonly property color warn: "#b86e00"
  readonly property color warnSoft: "#fff1da"
  readonly property color bad: "#c0392b"
  readonly property color badSoft: "#fbe5e2"
  readonly property color rail: "#1f2a37"
  readonly property color railText: "#c9d3de"
  readonly property color railSelected: "#33475b"
  readonly property color publishLine: "#2563a8"
  readonly property color applyLine: "#1f8a4c"

  readonly property int fontSmall: 12
  readonly property int fontBody: 14
  readonly property int fontTitle: 20
  readonly property int fontFigure: 26
  readonly property int spacing: 12
  readonly property int padding: 16
  readonly property int radius: 8
  readonly property int rowHeight: 36

  // A colour for a state word of the engine (shards, embedded server, health).
  function stateColor(state) {
    switch (state) {
    case "running": case "healthy": case "connected": return good
    case "paused": case "starting": case "restarting": return warn
    case "": return textMuted
    default: return bad
    }
  }
  function stateSoftColor(state) {
    switch (state) {
    case "running": case "healthy": case "connected": return goodSoft
    case "paused": case "starting": case "restarting": return warnSoft
    case "": return surfaceAlt
    default: return badSoft
    }
  }
  // 12345678 -> "12,345,678"
  function number(n) { return Number(n).toLocaleString(Qt.locale("en_US"), "f", 0) }
  function rate(r) { return r >= 100 ? number(r) + " /s" : Number(r).toFixed(1) + " /s" }
}
