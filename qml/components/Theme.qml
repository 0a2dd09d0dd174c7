// The dashboard's look in one place: colours (a light and a dark set), sizes and spacing.
// Readable from 1024x600 up.
pragma Singleton
import QtQuick
import HarmonyLite.Backend

QtObject {
  // How a state looks (a chip, a badge, a figure): the one decision of colour, from an enum,
  // never from the state's word. Neutral: nothing known yet.
  enum Tone { Neutral, Good, Warn, Bad }

  // Dark or light: set by Main.qml from the controller (the desktop's setting, or the choice
  // on the Settings page; docs/dashboard.md#themes).
  property bool dark: false
  readonly property color background: dark ? "#151b22" : "#f3f5f8"
  readonly property color surface: dark ? "#1e2630" : "#ffffff"
  readonly property color surfaceAlt: dark ? "#252f3b" : "#f8fafc"
  readonly property color border: dark ? "#3a4654" : "#dde3ea"
  readonly property color text: dark ? "#e6ebf0" : "#1d2733"
  readonly property color textMuted: dark ? "#9eabb8" : "#5c6b7a"
  readonly property color accent: dark ? "#6ea8e8" : "#2563a8"
  readonly property color accentSoft: dark ? "#1d3350" : "#e3edf8"
  readonly property color good: dark ? "#4cc27f" : "#1f8a4c"
  readonly property color goodSoft: dark ? "#173826" : "#e2f4ea"
  readonly property color warn: dark ? "#f0a93b" : "#b86e00"
  readonly property color warnSoft: dark ? "#3d2e12" : "#fff1da"
  readonly property color bad: dark ? "#f07265" : "#c0392b"
  readonly property color badSoft: dark ? "#45201c" : "#fbe5e2"
  readonly property color rail: dark ? "#0f141a" : "#1f2a37"
  readonly property color railText: "#c9d3de"
  readonly property color railSelected: dark ? "#2a3a4b" : "#33475b"
  readonly property color railHover: dark ? "#1f2b38" : "#2a3846"
  readonly property color onStrong: "#ffffff"  // text on the rail, the toast, attention marks
  readonly property color publishLine: accent
  readonly property color applyLine: good

  readonly property int fontSmall: 12
  readonly property int fontBody: 14
  readonly property int fontTitle: 20
  readonly property int fontFigure: 26
  readonly property int spacing: 12
  readonly property int padding: 16
  readonly property int radius: 8
  readonly property int rowHeight: 36

  // The text and background colours of a Tone.
  function toneColor(tone: int): color {
    switch (tone) {
    case Theme.Tone.Good: return good
    case Theme.Tone.Warn: return warn
    case Theme.Tone.Bad: return bad
    default: return textMuted
    }
  }
  function toneSoftColor(tone: int): color {
    switch (tone) {
    case Theme.Tone.Good: return goodSoft
    case Theme.Tone.Warn: return warnSoft
    case Theme.Tone.Bad: return badSoft
    default: return surfaceAlt
    }
  }
  // The tone of a shard's state (Hl.ShardState) and of the embedded server's (Hl.ServerState).
  function shardTone(state: int): int {
    switch (state) {
    case Hl.ShardState.Running: return Theme.Tone.Good
    case Hl.ShardState.Paused: case Hl.ShardState.Restoring: case Hl.ShardState.SchemaPaused: return Theme.Tone.Warn
    default: return Theme.Tone.Bad  // Stopped, NeedsRestore
    }
  }
  function serverTone(state: int): int {
    switch (state) {
    case Hl.ServerState.None: return Theme.Tone.Neutral
    case Hl.ServerState.Running: return Theme.Tone.Good
    case Hl.ServerState.Starting: case Hl.ServerState.Restarting: return Theme.Tone.Warn
    default: return Theme.Tone.Bad  // Stopped, Failed
    }
  }
  // 12345678 -> "12,345,678"
  function number(n) { return Number(n).toLocaleString(Qt.locale("en_US"), "f", 0) }
  function rate(r) { return r >= 100 ? number(r) + " /s" : Number(r).toFixed(1) + " /s" }
}
