#include "snapshot/snapshot_file.h"
