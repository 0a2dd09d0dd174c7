// Healthy / unhealthy / starting pill; `reason` is shown as its tooltip and beside it by pages.
import QtQuick
import QtQuick.Controls

Rectangle {
  id: badge
  property bool known: false
  property bool healthy: false
  property string reason
  readonly property int tone: !known ? Theme.Tone.Warn : healthy ? Theme.Tone.Good : Theme.Tone.Bad
  readonly property alias text: label.text
  radius: height / 2
  implicitHeight: 28
  implicitWidth: label.implicitWidth + 28
  color: Theme.toneSoftColor(tone)
  border.color: Theme.toneColor(tone)

  Label {
    id: label
    anchors.centerIn: parent
    text: !badge.known ? qsTr("Starting") : badge.healthy ? qsTr("Healthy") : qsTr("Unhealthy")
    color: Theme.toneColor(badge.tone)
    font.bold: true
    font.pixelSize: Theme.fontSmall
  }
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && reason.length > 0
  ToolTip.text: reason
}
