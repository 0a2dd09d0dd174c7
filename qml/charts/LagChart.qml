// Lag in messages per shard over the last `window` seconds, from controller.shardLagSampleAdded.
// One line per shard for up to 8 shards; with more, one line for their sum.
import QtQuick
import QtCharts
import "../components"

ChartView {
  id: chart
  property real window: 120
  property real maxY: 10
  property var lines: []
  readonly property int lineCount: lines.length
  antialiasing: true
  legend.alignment: Qt.AlignBottom
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  ValueAxis { id: xAxis; min: 0; max: chart.window; labelFormat: "%.0f s"; tickCount: 7; labelsColor: Theme.textMuted }
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted }

  readonly property var palette: ["#2563a8", "#1f8a4c", "#b86e00", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"]

  function add(t, lags) {
    const values = lags.length > 8 ? [lags.reduce((a, b) => a + b, 0)] : lags
    if (values.length !== lines.length) {
      removeAllSeries()
      const made = []
      for (let i = 0; i < values.length; ++i) {
        const s = createSeries(ChartView.SeriesTypeLine, lags.length > 8 ? "all shards" : "shard " + (i + 1), xAxis, yAxis)
        s.color = palette[i % palette.length]
        s.width = 2
        made.push(s)
      }
      lines = made
    }
    let top = 10
    for (let i = 0; i < lines.length; ++i) {
      const s = lines[i]
      s.append(t, values[i])
      while (s.count > 0 && s.at(0).x < t - window) s.remove(0)
      for (let j = 0; j < s.count; ++j) top = Math.max(top, s.at(j).y)
    }
    maxY = Math.ceil(top * 1.15)
    xAxis.min = Math.max(0, t - window)
    xAxis.max = Math.max(window, t)
  }

  Connections {
    target: controller
    function onShardLagSampleAdded(t, lags) { chart.add(t, lags) }
  }
}
