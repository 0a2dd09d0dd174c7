// One figure with its label and an optional line under it.
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

  ColumnLayout {
    id: col
    anchors.fill: parent
    anchors.margins: Theme.padding
    spacing: 2
    Label { text: tile.label; color: Theme.textMuted; font.pixelSize: Theme.fontSmall }
    Label {
      objectName: tile.objectName + "Value"
      text: tile.value
      color: tile.valueColor
      font.pixelSize: Theme.fontFigure
      font.bold: true
      elide: Text.ElideRight
      Layout.fillWidth: true
    }
    Label {
      objectName: tile.objectName + "Caption"
      text: tile.caption
      visible: text.length > 0
      color: Theme.textMuted
      font.pixelSize: Theme.fontSmall
      elide: Text.ElideRight
      Layout.fillWidth: true
    }
  }
}
