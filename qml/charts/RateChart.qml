// Publish and apply rates over the last `window` seconds, fed by controller.sampleAdded.
// The only files that import QtCharts live in this folder (QtCharts is deprecated from 6.10).
import QtQuick
import QtCharts
import "../components"

ChartView {
  id: chart
  property real window: 120
  property real maxY: 10
  readonly property alias publishSeries: publish
  readonly property alias applySeries: apply
  antialiasing: true
  legend.alignment: Qt.AlignBottom
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  ValueAxis { id: xAxis; min: 0; max: chart.window; labelFormat: "%.0f s"; tickCount: 7; labelsColor: Theme.textMuted }
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted }
  LineSeries { id: publish; name: "published /s"; axisX: xAxis; axisY: yAxis; color: Theme.publishLine; width: 2 }
  LineSeries { id: apply; name: "applied /s"; axisX: xAxis; axisY: yAxis; color: Theme.applyLine; width: 2 }

  function add(t, publishRate, applyRate) {
    publish.append(t, publishRate)
    apply.append(t, applyRate)
    while (publish.count > 0 && publish.at(0).x < t - window) publish.remove(0)
    while (apply.count > 0 && apply.at(0).x < t - window) apply.remove(0)
    let top = 10
    for (let i = 0; i < publish.count; ++i) top = Math.max(top, publish.at(i).y, apply.at(i).y)
    maxY = Math.ceil(top * 1.15)
    xAxis.min = Math.max(0, t - window)
    xAxis.max = Math.max(window, t)
  }

  Connections {
    target: controller
    function onSampleAdded(t, publishRate, applyRate, lag) { chart.add(t, publishRate, applyRate) }
  }
}
