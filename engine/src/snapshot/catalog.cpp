#include "snapshot/catalog.h"
