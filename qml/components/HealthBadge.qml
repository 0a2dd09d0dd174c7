// Healthy / unhealthy / starting pill; `reason` is shown as its tooltip and beside it by pages.
// `differs`: the last consistency check found the nodes' data different: a healthy node's pill
// turns amber ("Data differs"; docs/consistency.md#in-the-appliance).
import QtQuick
import QtQuick.Controls

Rectangle {
  id: badge
  property bool known: false
  property bool healthy: false
  property string reason
  property bool differs: false
  readonly property int tone: !known ? Theme.Tone.Warn
                              : !healthy ? Theme.Tone.Bad
                              : differs ? Theme.Tone.Warn : Theme.Tone.Good
  readonly property alias text: label.text
  radius: height / 2
  implicitHeight: 28
  implicitWidth: label.implicitWidth + 28
  color: Theme.toneSoftColor(tone)
  border.color: Theme.toneColor(tone)

  Label {
    id: label
    anchors.centerIn: parent
    text: !badge.known ? qsTr("Starting") : !badge.healthy ? qsTr("Unhealthy")
          : badge.differs ? qsTr("Data differs") : qsTr("Healthy")
    color: Theme.toneColor(badge.tone)
    font.bold: true
    font.pixelSize: Theme.fontSmall
  }
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && reason.length > 0
  ToolTip.text: reason
}
