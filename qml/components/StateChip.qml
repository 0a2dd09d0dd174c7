// A small coloured word: a shard's state, a node's health, an event's kind. The page gives the
// word and its tone (Theme.Tone), which it takes from the state's enum.
import QtQuick
import QtQuick.Controls

Rectangle {
  id: chip
  property string text
  property int tone: Theme.Tone.Neutral
  radius: 4
  implicitWidth: label.implicitWidth + 14
  implicitHeight: 22
  color: Theme.toneSoftColor(tone)
  Label {
    id: label
    anchors.centerIn: parent
    text: chip.text
    color: Theme.toneColor(chip.tone)
    font.pixelSize: Theme.fontSmall
    font.bold: true
  }
}
