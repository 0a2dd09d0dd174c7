#include "snapshot/snapshot_service.h"
