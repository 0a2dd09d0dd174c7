// Healthy / unhealthy / starting pill; `reason` is shown as its tooltip and beside it by pages.
import QtQuick
import QtQuick.Controls

Rectangle {
  id: badge
  property bool known: false
  property bool healthy: false
  property string reason
  readonly property string word: !known ? "starting" : healthy ? "healthy" : "unhealthy"
  readonly property alias text: label.text
  radius: height / 2
  implicitHeight: 28
  implicitWidth: label.implicitWidth + 28
  color: Theme.stateSoftColor(word)
  border.color: Theme.stateColor(word)

  Label {
    id: label
    anchors.centerIn: parent
    text: badge.word === "starting" ? "Starting" : badge.healthy ? "Healthy" : "Unhealthy"
    color: Theme.stateColor(badge.word)
    font.bold: true
    font.pixelSize: Theme.fontSmall
  }
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && reason.length > 0
  ToolTip.text: reason
}
