// Small helpers the benchmark programs share.
#pragma once

#include <QList>

#include <algorithm>

namespace hl::bench {

// The p-quantile (0..1) of `v` by nearest rank; 0 for no samples.
inline double percentile(QList<double> v, double p) {
  if (v.isEmpty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min<qsizetype>(v.size() - 1, qsizetype(p * double(v.size() - 1) + 0.5))];
}

}  // namespace hl::bench
