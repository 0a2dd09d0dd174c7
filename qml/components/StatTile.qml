// One figure with its label and an optional line under it. On a narrow tile (a 1024x600 panel)
// the figure shrinks to fit instead of being cut, and the caption wraps; the whole figure is in
// the tooltip and the accessible name.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
  id: tile
  property string label
  property string value
  property string caption
  property color valueColor: Theme.text
  color: Theme.surface
  radius: Theme.radius
  border.color: Theme.border
  implicitWidth: 170
  implicitHeight: col.implicitHeight + 2 * Theme.padding
  Accessible.role: Accessible.StaticText
  Accessible.name: label + ": " + value
  Accessible.description: caption
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && (valueText.truncated || valueText.fontInfo.pixelSize < Theme.fontFigure)
  ToolTip.text: label + ": " + value

  ColumnLayout {
    id: col
    anchors.fill: parent
    anchors.margins: Theme.padding
    spacing: 2
    Label { text: tile.label; color: Theme.textMuted; font.pixelSize: Theme.fontSmall }
    Label {
      id: valueText
      objectName: tile.objectName + "Value"
      text: tile.value
      color: tile.valueColor
      font.pixelSize: Theme.fontFigure
      font.bold: true
      fontSizeMode: Text.HorizontalFit
      minimumPixelSize: Theme.fontBody
      elide: Text.ElideRight
      Layout.fillWidth: true
    }
    Label {
      objectName: tile.objectName + "Caption"
      text: tile.caption
      visible: text.length > 0
      color: Theme.textMuted
      font.pixelSize: Theme.fontSmall
      wrapMode: Text.WordWrap
      Layout.fillWidth: true
    }
  }
}
